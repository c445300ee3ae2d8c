"""Augmentation of tracked sequences keeps ids and lineage valid."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masksynth import (
    SynthConfig,
    TrackedMasks,
    augment_tracked,
    crop,
    flip,
    morph_cells,
    relineage,
    rot90,
    split_time,
    synthesize,
    time_slice,
    validate_tracked,
)
from tgan_aug.errors import UserError


def test_rot90_and_flip_keep_the_lineage(tracked):
    r = rot90(tracked, 1)
    assert r.labels.shape == (6, 64, 48)
    assert np.array_equal(r.lineage, tracked.lineage)
    assert np.array_equal(rot90(r, 3).labels, tracked.labels)
    f = flip(tracked, "x")
    assert np.array_equal(f.labels[:, :, ::-1], tracked.labels)
    with pytest.raises(UserError, match="flip axis must be 'y' or 'x'"):
        flip(tracked, "z")


def test_crop_that_cuts_a_track_into_two_parts_links_them():
    lab = np.zeros((5, 10, 20), np.uint16)
    xs = [2, 8, 14, 8, 2]  # goes right out of the crop [0, 12) and comes back
    for t, x in enumerate(xs):
        lab[t, 3:6, x : x + 3] = 1
    m = TrackedMasks(lab, [[1, 0, 4, 0]])
    c = crop(m, y=0, x=0, height=10, width=12)
    assert c.lineage.tolist() == [[1, 0, 1, 0], [2, 3, 4, 1]]
    assert set(np.unique(c.labels[3])) == {0, 2}


def test_crop_removing_a_mother_makes_its_daughters_roots(tracked):
    # mother 1 and her daughters live in the left part; crop the right part where only 3 lives
    c = crop(tracked, y=0, x=30, height=48, width=34)
    validate_tracked(c.labels, c.lineage)
    assert np.all(c.lineage[:, 3] == 0)


def test_crop_keeping_one_daughter_keeps_a_valid_link(tracked):
    # daughters 4 (rows 8-11) and 5 (rows 14-17); keep rows 0..12: mother and daughter 4 only
    c = crop(tracked, y=0, x=0, height=13, width=64)
    rows = {r[0]: r for r in c.lineage.tolist()}
    assert 5 not in rows and rows[4][3] == 1
    validate_tracked(c.labels, c.lineage)


def test_time_slice_after_the_division_drops_the_mother(tracked):
    s = time_slice(tracked, 3, 6)
    assert s.n_frames == 3 and 1 not in s.lineage[:, 0]
    assert np.all(s.lineage[:, 1] == 0) and np.all(s.lineage[:, 3] == 0)
    with pytest.raises(UserError, match="time slice"):
        time_slice(tracked, 4, 9)


def test_split_time_makes_windows(tracked):
    parts = split_time(tracked, 2)
    assert [p.n_frames for p in parts] == [2, 2, 2]
    assert len(split_time(tracked, 4, stride=1)) == 3
    with pytest.raises(UserError, match="split length"):
        split_time(tracked, 7)


def test_morph_cells_changes_areas_but_not_tracks(tracked):
    d = morph_cells(tracked, rng=np.random.default_rng(0), prob=1.0)
    validate_tracked(d.labels, d.lineage)
    assert np.array_equal(d.lineage, tracked.lineage)
    before = np.bincount(tracked.labels[0].ravel(), minlength=6)
    after = np.bincount(d.labels[0].ravel(), minlength=6)
    assert np.any(after[1:4] != before[1:4])
    # no cell ever vanishes, even a 1-pixel one under erosion
    tiny = np.zeros((2, 8, 8), np.uint16)
    tiny[:, 3, 3] = 1
    e = morph_cells(TrackedMasks(tiny, [[1, 0, 1, 0]]), rng=np.random.default_rng(0), prob=1.0)
    assert (e.labels == 1).sum(axis=(1, 2)).min() >= 1


def test_relineage_of_a_valid_sequence_is_identity(tracked):
    r = relineage(tracked.labels, tracked.lineage)
    assert r == tracked


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    crop_h=st.integers(8, 64),
    crop_w=st.integers(8, 96),
    length=st.integers(1, 10),
    morph=st.sampled_from([0.0, 0.5]),
)
def test_random_augmentation_of_synthetic_sequences_is_valid(seed, crop_h, crop_w, length, morph):
    cfg = SynthConfig.preset("mid", size=(64, 96), frames=10, division_rate=0.2, min_division_age=2,
                             division_min_area=20, mean_area=60.0)
    m = synthesize(cfg, seed=seed)
    side = min(crop_h, crop_w)
    a = augment_tracked(m, rng=np.random.default_rng(seed), crop_size=(side, side), length=length,
                        morph_prob=morph)
    validate_tracked(a.labels, a.lineage)
    assert a.n_frames == length and a.labels.shape[1:] == (side, side)
    # every division still has daughters that start after their mother ends
    rows = {r[0]: r for r in a.lineage.tolist()}
    for tid, t0, t1, parent in a.lineage.tolist():
        if parent:
            assert rows[parent][2] < t0
