"""The data model: CTC validation rules, lineage derivation, property-based over random sequences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from masksynth import (
    CTCValidationError,
    NotLinkedError,
    TrackedMasks,
    TrackedVideo,
    lineage_from_labels,
    validate_tracked,
)

SLOT = 8  # each track lives in its own 8x8 slot of the canvas, so tracks never overlap


@st.composite
def valid_sequences(draw) -> tuple[np.ndarray, np.ndarray]:
    """Random valid (labels, lineage): root tracks over random spans, some dividing into two daughters."""
    frames = draw(st.integers(2, 8))
    n_roots = draw(st.integers(1, 5))
    rows: list[list[int]] = []
    next_id = 1
    for _ in range(n_roots):
        t0 = draw(st.integers(0, frames - 1))
        t1 = draw(st.integers(t0, frames - 1))
        mother = next_id
        rows.append([mother, t0, t1, 0])
        next_id += 1
        if t1 < frames - 1 and draw(st.booleans()):
            for _ in range(2):
                end = draw(st.integers(t1 + 1, frames - 1))
                rows.append([next_id, t1 + 1, end, mother])
                next_id += 1
    labels = np.zeros((frames, SLOT * 2, SLOT * len(rows)), dtype=np.uint16)
    for slot, (tid, t0, t1, _) in enumerate(rows):
        size = 2 + tid % 5
        labels[t0 : t1 + 1, 1 : 1 + size, slot * SLOT + 1 : slot * SLOT + 1 + size] = tid
    return labels, np.array(rows, dtype=np.int64)


@given(valid_sequences())
@settings(max_examples=60, deadline=None)
def test_random_valid_sequences_pass(seq):
    labels, lineage = seq
    validate_tracked(labels, lineage)
    masks = TrackedMasks(labels, lineage)
    assert masks.n_tracks == len(lineage)
    assert masks.n_divisions == int(sum(1 for r in lineage if r[3] == 0 and (lineage[:, 3] == r[0]).sum() == 2))


@given(valid_sequences())
@settings(max_examples=40, deadline=None)
def test_lineage_from_labels_recovers_root_rows(seq):
    """Without parent links in the masks, derived rows equal the given rows with parent 0."""
    labels, lineage = seq
    out, derived = lineage_from_labels(labels, check_linked=False)
    np.testing.assert_array_equal(out, labels)
    expected = lineage.copy()
    expected[:, 3] = 0
    np.testing.assert_array_equal(derived, expected[np.argsort(expected[:, 0])])


CORRUPTIONS = [
    "gap",
    "outside_span",
    "missing_row",
    "unknown_parent",
    "parent_too_late",
    "duplicate_row",
    "row_without_pixels",
    "wrong_start",
    "wrong_end",
    "zero_id",
    "self_parent",
]


def _corrupt(labels: np.ndarray, lineage: np.ndarray, kind: str, data) -> tuple[np.ndarray, np.ndarray, int]:
    """Apply one corruption; return (labels, lineage, id the error must name) or skip the example."""
    labels, lineage = labels.copy(), lineage.copy()
    frames = labels.shape[0]
    idx = data.draw(st.integers(0, len(lineage) - 1))
    tid, t0, t1, parent = (int(v) for v in lineage[idx])
    from hypothesis import assume

    if kind == "gap":
        assume(t1 - t0 >= 2)
        t = data.draw(st.integers(t0 + 1, t1 - 1))
        labels[t][labels[t] == tid] = 0
    elif kind == "outside_span":
        free = [t for t in range(frames) if t < t0 - 1 or t > t1 + 1]
        assume(free)
        t = data.draw(st.sampled_from(free))
        ys, xs = np.nonzero(labels[t0] == tid)
        labels[t, ys, xs] = tid
    elif kind == "missing_row":
        assume(not (lineage[:, 3] == tid).any())  # dropping a mother also breaks its daughters first
        lineage = np.delete(lineage, idx, axis=0)
    elif kind == "unknown_parent":
        lineage[idx, 3] = int(lineage[:, 0].max()) + 7
    elif kind == "parent_too_late":
        assume(parent != 0)
        prow = int(np.nonzero(lineage[:, 0] == parent)[0][0])
        lineage[prow, 2] = t0  # the mother would end at the child's first frame
        ys, xs = np.nonzero(labels[int(lineage[prow, 1])] == parent)
        labels[t0, ys, xs] = parent
        return labels, lineage, -1  # either the mother (pixels) or the child (parent rule) is named
    elif kind == "duplicate_row":
        lineage = np.concatenate([lineage, lineage[idx : idx + 1]])
    elif kind == "row_without_pixels":
        new = int(lineage[:, 0].max()) + 1
        lineage = np.concatenate([lineage, [[new, 0, 0, 0]]])
        tid = new
    elif kind == "wrong_start":
        assume(t0 + 1 <= t1)
        lineage[idx, 1] = t0 + 1
    elif kind == "wrong_end":
        assume(t1 - 1 >= t0)
        lineage[idx, 2] = t1 - 1
    elif kind == "zero_id":
        lineage[idx, 0] = 0
        tid = 0
    elif kind == "self_parent":
        lineage[idx, 3] = tid
    return labels, lineage, tid


@pytest.mark.parametrize("kind", CORRUPTIONS)
@given(seq=valid_sequences(), data=st.data())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
def test_each_corruption_is_caught_and_named(kind, seq, data):
    labels, lineage = seq
    bad_labels, bad_lineage, tid = _corrupt(labels, lineage, kind, data)
    with pytest.raises(CTCValidationError) as info:
        validate_tracked(bad_labels, bad_lineage)
    if tid > 0:
        assert info.value.track_id == tid, str(info.value)
        assert f"track {tid}" in str(info.value)


def test_error_names_track_and_frame_of_first_gap(tracked):
    labels = tracked.labels.copy()
    labels[2][labels[2] == 2] = 0
    with pytest.raises(CTCValidationError, match=r"track 2, frame 3: track has a gap"):
        validate_tracked(labels, tracked.lineage)


def test_labels_must_be_uint16_three_dimensional(tracked):
    with pytest.raises(CTCValidationError, match="uint16"):
        validate_tracked(tracked.labels.astype(np.int32), tracked.lineage)
    with pytest.raises(CTCValidationError, match=r"\(T, Y, X\)"):
        validate_tracked(tracked.labels[0], tracked.lineage)


def test_ids_above_uint16_are_rejected_with_the_fix():
    labels = np.zeros((2, 4, 4), dtype=np.int64)
    labels[:, 0, 0] = 70000
    with pytest.raises(ValueError, match="does not fit in uint16"):
        lineage_from_labels(labels, check_linked=False)
    with pytest.raises(CTCValidationError, match="fit uint16"):
        TrackedMasks(labels, [[70000, 0, 1, 0]])


def test_gap_is_split_into_a_child_track():
    labels = np.zeros((5, 6, 6), dtype=np.uint16)
    labels[[0, 1, 3, 4], 1:4, 1:4] = 9
    out, lineage = lineage_from_labels(labels)
    assert lineage.tolist() == [[9, 0, 1, 0], [10, 3, 4, 9]]
    assert (out[3:] == 10).sum() == 18 and (out[:2] == 9).sum() == 18
    TrackedMasks(out, lineage)  # valid


def test_per_frame_labels_are_not_guessed():
    """Per-frame instance labels numbered 1..n in every frame, with cells that move: refused, clearly."""
    rng = np.random.default_rng(0)
    labels = np.zeros((4, 40, 40), dtype=np.uint16)
    for t in range(4):
        order = rng.permutation(3) + 1
        for k, i in enumerate(order):
            labels[t, 5 + 12 * k : 12 + 12 * k, 5:12] = i
    with pytest.raises(NotLinkedError, match="does not guess links"):
        TrackedMasks.from_labels(labels)


def test_tracked_video_checks_shapes_and_records_range(tracked):
    images = np.full(tracked.shape, 7, dtype=np.uint8)
    images[0, 0, 0] = 200
    video = TrackedVideo(tracked, images, provenance={"command": "test"})
    assert video.intensity_range == (7.0, 200.0)
    assert video.summary()["image_dtype"] == "uint8"
    with pytest.raises(ValueError, match="same \\(T, Y, X\\)"):
        TrackedVideo(tracked, images[:-1])


def test_summary_counts(tracked):
    s = tracked.summary()
    assert (s["frames"], s["tracks"], s["divisions"]) == (6, 5, 1)
    assert s["cells_per_frame_min"] == 3 and s["cells_per_frame_max"] == 4
