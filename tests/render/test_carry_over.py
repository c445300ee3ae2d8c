"""Carry-over: a cell's texture moves with the cell instead of being redrawn at every frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tgan_aug.errors import UserError
from tgan_aug.metrics.temporal import warping_errors
from tgan_aug.render.carry_over import CarryState, carry_frame, check_alpha
from tgan_aug.render.temporal_fit import carry_video

torch.set_num_threads(1)


def _moving_cell(frames: int = 8, step: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One 14x14 cell moving ``step`` px right per frame on a flat background, its texture redrawn
    (independent noise) at every frame, as a per-frame renderer draws it.

    Returns (images (T, 40, 60) float32, labels (T, 40, 60) int32)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((frames, 40, 60), np.int32)
    images = np.full(labels.shape, 100.0, np.float32)
    for t in range(frames):
        x0 = 5 + step * t
        labels[t, 13:27, x0 : x0 + 14] = 4
        images[t, 13:27, x0 : x0 + 14] = 160.0 + rng.normal(0, 15, (14, 14))
    return images, labels


def test_texture_follows_the_cell_and_background_is_kept(monkeypatch):
    images, labels = _moving_cell()
    out = carry_video(images, labels, 0.5)
    np.testing.assert_array_equal(out[0], images[0])  # nothing to carry into the first frame
    far = np.ones(labels.shape[1:], bool)
    far[7:33] = False  # rows farther than the 6 px radius from the cell
    np.testing.assert_array_equal(out[:, far], images[:, far])
    # frame to frame, the carried texture (shifted with the cell) agrees better than the redrawn one
    def agreement(v):
        a, b = v[3, 15:25, 13:21], v[4, 15:25, 15:23]  # the same part of the cell in frames 3 and 4
        return np.corrcoef(a.ravel(), b.ravel())[0, 1]

    assert agreement(images) < 0.3 < agreement(out)
    rng_ = (0.0, 255.0)
    assert warping_errors(out, data_range=rng_).mean() < 0.8 * warping_errors(images, data_range=rng_).mean()
    # the local contrast the blend lowers is partly restored: more fine texture than a plain blend
    import cv2
    from scipy import ndimage as ndi

    import tgan_aug.render.carry_over as carry_over

    def texture(v):  # sd of the fine texture (Gaussian high-pass, 1.5 px) 3 px and more inside the cell
        hp = np.stack([f - cv2.GaussianBlur(f, (0, 0), 1.5) for f in v])
        inner = np.stack([ndi.binary_erosion(lab > 0, iterations=3) for lab in labels])
        return float(hp[1:][inner[1:]].std())

    monkeypatch.setattr(carry_over, "MAX_GAIN", 1.0)  # no restoration
    plain = carry_video(images, labels, 0.5)
    assert texture(plain) < texture(out) < texture(images)


def test_zero_alpha_and_new_cells_are_left_as_rendered():
    images, labels = _moving_cell()
    np.testing.assert_array_equal(carry_video(images, labels, 0.0), images)
    relabelled = labels * (np.arange(len(labels))[:, None, None] + 1)  # a new id every frame: no track to follow
    np.testing.assert_array_equal(carry_video(images, relabelled, 0.5), images)


def test_bad_alpha_and_shapes_are_refused():
    assert check_alpha(0) == 0.0 and check_alpha(0.5) == 0.5
    for bad in (-0.1, 1.0, 2):
        with pytest.raises(UserError, match="--carry-over"):
            check_alpha(bad)
    with pytest.raises(UserError, match="differ in shape"):
        carry_frame(np.zeros((4, 4)), np.zeros((4, 5), int), CarryState(), 0.5)


def test_rendering_carries_over_cells_only(tiny_ckpt_factory, tmp_path, tracked_factory):
    from tgan_aug.render.video import render_video

    ckpt = tiny_ckpt_factory(tmp_path / "p.pt", perturb=True)
    masks = tracked_factory(frames=6, seed=4)
    raw = render_video(ckpt, masks, seed=2, carry_over=0.0)
    carried = render_video(ckpt, masks, seed=2, carry_over=0.5)
    assert carried.provenance["carry_over"] == 0.5
    np.testing.assert_array_equal(carried.images[0], raw.images[0])
    from scipy import ndimage as ndi

    far = np.stack([ndi.distance_transform_edt(lab == 0) > 6 for lab in masks.labels])
    np.testing.assert_array_equal(carried.images[far], raw.images[far])
    assert not np.array_equal(carried.images[1:][masks.labels[1:] > 0], raw.images[1:][masks.labels[1:] > 0])


def test_cli_option_is_recorded_and_refused_for_the_painter(tmp_path, tiny_ckpt, tracked_factory, run_cli):
    from tgan_aug.io import read_store, write_store

    masks = tmp_path / "masks.zarr"
    write_store(masks, tracked_factory(frames=3, seed=0), name="s")
    code, _, err = run_cli(["render", str(masks), "-o", str(tmp_path / "v.zarr"), "--checkpoint", str(tiny_ckpt),
                            "--carry-over", "0.4", "--quiet"])
    assert code == 0, err
    assert read_store(tmp_path / "v.zarr", "s").provenance["carry_over"] == 0.4
    code, _, err = run_cli(["render", str(masks), "-o", str(tmp_path / "p.zarr"), "--renderer", "painter", "--fit",
                            str(tmp_path / "fit.npz"), "--carry-over", "0.5", "--quiet"])
    assert code == 2 and "--carry-over is for --renderer tgan" in err
