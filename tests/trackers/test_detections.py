"""Per-frame detections made from ground truth."""

from __future__ import annotations

import numpy as np

from tgan_aug.trackers.detections import per_frame_ids

from .conftest import make_blobs


def test_per_frame_ids_keep_every_object_and_drop_identity():
    labels = np.asarray(make_blobs(n_cells=6, frames=5, seed=1).labels)
    det = per_frame_ids(labels, seed=3)
    assert det.dtype == np.int32 and det.shape == labels.shape
    for t in range(labels.shape[0]):
        n = len(np.unique(labels[t])) - 1
        assert sorted(np.unique(det[t])[1:]) == list(range(1, n + 1))  # ids 1..n in every frame
        pairs = {(a, b) for a, b in zip(labels[t].ravel(), det[t].ravel())}
        assert len(pairs) == n + 1  # one detection per object, background stays 0
    assert not np.array_equal(det, labels)  # identity over time is gone
    assert np.array_equal(per_frame_ids(labels, seed=3), det)  # deterministic for a seed
