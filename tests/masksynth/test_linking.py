"""masksynth.linking.link_nearest: per-frame ids -> tracks with divisions, valid by the CTC rules."""

from __future__ import annotations

import numpy as np
import pytest

from masksynth import SynthConfig, synthesize
from masksynth.errors import UserError
from masksynth.linking import link_nearest
from masksynth.tracked import validate_tracked


def _scramble(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Per-frame ids that say nothing about time: each frame's ids permuted and offset."""
    rng = np.random.default_rng(seed)
    out = np.zeros_like(labels)
    for t, frame in enumerate(labels):
        ids = np.unique(frame)[1:]
        lut = np.zeros(int(labels.max()) + 1, labels.dtype)
        lut[ids] = rng.permutation(ids.size) + 1 + 100 * t
        out[t] = lut[frame]
    return out


def _links(labels: np.ndarray, lineage: np.ndarray) -> tuple[set, set]:
    """(t, pixel of the object at t, pixel of the object at t+1) for continuations and mother -> daughter links."""
    parent = {int(r[0]): int(r[3]) for r in lineage}
    cont, div = set(), set()
    for t in range(labels.shape[0] - 1):
        first = {}
        for k, frame in enumerate((labels[t], labels[t + 1])):
            ids, idx = np.unique(frame.ravel(), return_index=True)
            first[k] = dict(zip(ids.tolist(), idx.tolist()))
        for i, pix in first[1].items():
            if i == 0:
                continue
            if i in first[0]:
                cont.add((t, first[0][i], pix))
            elif parent.get(i, 0) in first[0]:
                div.add((t, first[0][parent[i]], pix))
    return cont, div


def test_a_division_is_found_and_the_result_is_valid(tracked):
    """make_tracked: cell 1 splits into 4 and 5 at frame 3; cells move 1 px a frame."""
    labels, lineage = link_nearest(_scramble(tracked.labels))
    validate_tracked(labels, lineage)
    assert _links(labels, lineage) == _links(tracked.labels, tracked.lineage)
    assert int((lineage[:, 3] > 0).sum()) == 2 and len(lineage) == 5
    no_div, lin2 = link_nearest(_scramble(tracked.labels), divisions=False)
    validate_tracked(no_div, lin2)
    assert not (lin2[:, 3] > 0).any()


def test_synthetic_tracks_are_mostly_recovered():
    truth = synthesize(SynthConfig.preset("mid", frames=12, size=(128, 160), division_rate=0.05, speed_mean=1.5), seed=2)
    labels, lineage = link_nearest(_scramble(truth.labels))
    validate_tracked(labels, lineage)
    gc, gd = _links(truth.labels, truth.lineage)
    c, d = _links(labels, lineage)
    assert gd, "the fixture must divide"
    assert len(c & gc) / len(gc) > 0.9 and len(c & gc) / len(c) > 0.9
    assert len(d & gd) / len(gd) > 0.5


def test_bad_input_is_refused():
    with pytest.raises(UserError, match=r"\(T, Y, X\)"):
        link_nearest(np.zeros((4, 4), np.uint16))
    with pytest.raises(UserError, match="non-negative"):
        link_nearest(-np.ones((2, 4, 4), np.int32))
    labels, lineage = link_nearest(np.zeros((3, 5, 5), np.uint16))  # no objects: no tracks
    assert labels.max() == 0 and lineage.shape == (0, 4)
