"""masksynth.tracked.frame_ids (the one-pass id scan used by validation and the store writer)."""

from __future__ import annotations

import numpy as np
import pytest

from masksynth.tracked import frame_ids, track_extents


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.uint32])
def test_frame_ids_equals_unique_without_zero(dtype):
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 50, size=(30, 40)).astype(dtype)
    expected = np.unique(frame)
    np.testing.assert_array_equal(frame_ids(frame), expected[expected != 0])
    assert frame_ids(frame).dtype == np.int64


def test_frame_ids_edge_cases():
    assert frame_ids(np.full((3, 3), 5, np.uint16)).tolist() == [5]  # no background pixel at all
    assert frame_ids(np.zeros((4, 4), np.uint16)).tolist() == []
    assert frame_ids(np.zeros((0, 4), np.uint16)).tolist() == []
    assert frame_ids(np.array([[0, 65535]], np.uint16)).tolist() == [65535]


def test_track_extents_unchanged(tracked):
    extents = track_extents(tracked.labels)
    for tid, t0, t1, _ in tracked.lineage.tolist():
        assert extents[tid] == list(range(t0, t1 + 1))
