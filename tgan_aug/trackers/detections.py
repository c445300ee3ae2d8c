"""Detections from ground truth: what a segmenter hands a tracker, made from tracked masks."""

from __future__ import annotations

import numpy as np

__all__ = ["per_frame_ids"]


def per_frame_ids(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """The same masks with ids renumbered 1..n independently in each frame (random order).

    labels: (T, Y, X) integer track ids. Returns (T, Y, X) int32: per-frame detections with no
    identity over time, so a tracker scored on them is scored on its linking alone.
    """
    rng = np.random.default_rng(seed)
    out = np.zeros(labels.shape, np.int32)
    for t, frame in enumerate(labels):
        ids = np.unique(frame)
        ids = ids[ids > 0]
        lut = np.zeros(int(frame.max()) + 1, np.int32)
        lut[ids] = rng.permutation(len(ids)) + 1
        out[t] = lut[frame]
    return out
