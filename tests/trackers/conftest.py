"""Synthetic tracked sequences for tracker tests: round cells moving slowly, rendered as
Gaussian blobs on noise. Deterministic for a seed; built in memory (no files)."""

from __future__ import annotations

import numpy as np
import pytest

from masksynth import TrackedMasks
from masksynth.tracked import TrackedVideo


def make_blobs(
    *,
    n_cells: int = 5,
    frames: int = 12,
    height: int = 96,
    width: int = 96,
    radius: int = 5,
    speed: float = 1.5,
    divide: bool = False,
    seed: int = 0,
) -> TrackedVideo:
    """Disks of ``radius`` px drifting ``speed`` px/frame in random directions, kept apart.

    With ``divide=True`` cell 1 divides half-way: it ends and daughters (new ids) start next to it.
    images: float32 (T, Y, X), Gaussian blobs (peak 1) on noise (sd 0.05).
    """
    rng = np.random.default_rng(seed)
    margin = radius + 3
    # place cells on a jittered grid so they never touch
    side = int(np.ceil(np.sqrt(n_cells + (2 if divide else 0))))
    cells_y = np.linspace(margin + 4, height - margin - 4, side)
    cells_x = np.linspace(margin + 4, width - margin - 4, side)
    spots = [(y, x) for y in cells_y for x in cells_x]
    rng.shuffle(spots)
    pos = {i + 1: np.array(spots[i], float) for i in range(n_cells)}
    ang = rng.uniform(0, 2 * np.pi, n_cells)
    vel = {i + 1: speed * np.array([np.sin(a), np.cos(a)]) for i, a in enumerate(ang)}
    labels = np.zeros((frames, height, width), np.uint16)
    images = rng.normal(0.0, 0.05, (frames, height, width)).astype(np.float32)
    yy, xx = np.mgrid[:height, :width]
    rows: dict[int, list[int]] = {}
    next_id = n_cells + 1
    t_div = frames // 2 if divide else None
    for t in range(frames):
        if t_div is not None and t == t_div and 1 in pos:
            y, x = pos.pop(1)
            v = vel.pop(1)
            for d, off in ((next_id, -radius - 1), (next_id + 1, radius + 1)):
                pos[d] = np.array([y, x + off])
                vel[d] = v.copy()
                rows[d] = [d, t, t, 1]
            next_id += 2
        for tid, p in pos.items():
            if t > 0 and not (t_div is not None and t == t_div and rows.get(tid, [0, -1])[1] == t):
                p += vel[tid]
                for ax, size in ((0, height), (1, width)):
                    if not margin <= p[ax] <= size - margin - 1:
                        vel[tid][ax] *= -1
                        p[ax] = np.clip(p[ax], margin, size - margin - 1)
            disk = (yy - p[0]) ** 2 + (xx - p[1]) ** 2 <= radius**2
            labels[t][disk & (labels[t] == 0)] = tid
            images[t] += np.exp(-((yy - p[0]) ** 2 + (xx - p[1]) ** 2) / (2 * (radius * 0.7) ** 2)).astype(np.float32)
            rows.setdefault(tid, [tid, t, t, 0])[2] = t
    lineage = np.array(sorted(rows.values()), dtype=np.int64)
    return TrackedVideo(TrackedMasks(labels, lineage), images)


@pytest.fixture
def ctc_dataset(tmp_path, request):
    """A CTC dataset folder (``01/`` + ``01_GT/TRA``) of :func:`make_blobs`, written with ``write_ctc``.

    Its size: the test module's ``CTC_DATASET`` dict of :func:`make_blobs` arguments
    (default 5 cells, 10 frames, 80 x 80, seed 4).
    """
    from tgan_aug.io import write_ctc

    kw = {"n_cells": 5, "frames": 10, "height": 80, "width": 80, "seed": 4, **getattr(request.module, "CTC_DATASET", {})}
    write_ctc(tmp_path / "ds", make_blobs(**kw), sequence="01")
    return tmp_path / "ds"


@pytest.fixture
def blobs_factory():
    """The :func:`make_blobs` builder."""
    return make_blobs
