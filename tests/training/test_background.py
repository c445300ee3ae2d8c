"""Reference background: built from real frames with the cells removed."""

from __future__ import annotations

import numpy as np

from tgan_aug.training.background import estimate_background


def test_background_has_no_cells(tracked_factory):
    tm = tracked_factory(frames=8, height=60, width=80, seed=2)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:60, :80]
    field = 0.3 * np.sin(yy / 7.0) + 0.2 * np.cos(xx / 11.0)
    cells = tm.labels > 0
    images = field[None] + 0.02 * rng.standard_normal(cells.shape) + 1.5 * cells
    bg = estimate_background(images, tm.labels, dilate=2)
    assert bg.shape == (60, 80) and bg.dtype == np.float32
    union = cells.any(0)
    # no cell left: the background inside the cells' footprint matches the cell-free field there
    assert np.abs(bg[union] - field[union]).mean() < 0.1
    assert abs(bg[union].mean() - bg[~union].mean() - (field[union].mean() - field[~union].mean())) < 0.1
    # whereas a plain median over frames would keep part of the cells
    naive = np.median(images, axis=0)
    assert np.abs(naive[union] - field[union]).mean() > 0.3


def test_pixels_covered_in_every_frame_are_inpainted():
    images = np.zeros((5, 30, 30), np.float32)
    masks = np.zeros((5, 30, 30), bool)
    masks[:, 10:16, 10:16] = True  # a cell that never moves
    images[masks] = 5.0
    bg = estimate_background(images, masks, dilate=1)
    assert np.isfinite(bg).all() and np.abs(bg).max() < 0.5
