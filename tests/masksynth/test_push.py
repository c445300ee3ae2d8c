"""Pushing (overlap relaxation): a packed, growing colony pushes its cells instead of blocking them."""

from __future__ import annotations

import numpy as np
import pytest

from masksynth import SynthConfig, TrackedMasks, colony_packing, min_gap_ok, sequence_stats, synthesize
from masksynth.calibrate import PUSH_ITERATIONS, calibration_params
from masksynth.errors import UserError
from masksynth.push import expansion_shifts, relax_overlaps


def _canvas(masks, corners, shape=(40, 40), fixed=()):
    count = np.zeros(shape, np.int16)
    ids = np.zeros(shape, np.int32)
    for k, (m, (y, x)) in enumerate(zip(masks, corners)):
        count[y : y + m.shape[0], x : x + m.shape[1]] += m
        ids[y : y + m.shape[0], x : x + m.shape[1]] += m.astype(np.int32) * (k + 1)
    for m, (y, x) in fixed:
        count[y : y + m.shape[0], x : x + m.shape[1]] += m
    return count, ids


def _relax(masks, corners, fixed=(), iterations=10):
    count, ids = _canvas(masks, corners, fixed=fixed)
    corner = np.array(corners, np.int64)
    centres = np.array([[(m.shape[0] - 1) / 2, (m.shape[1] - 1) / 2] for m in masks])
    shift = relax_overlaps(count, ids, masks, list(masks), corner, centres, np.full(len(masks), 10.0),
                           iterations=iterations)
    return shift, corner


def test_two_overlapping_squares_are_pushed_apart_along_their_centre_line():
    sq = np.ones((8, 8), bool)
    shift, corner = _relax([sq, sq], [(10, 10), (10, 15)])  # 3 columns overlap
    assert shift[0, 0] == 0 and shift[1, 0] == 0  # no sideways drift
    assert shift[0, 1] < 0 < shift[1, 1]  # the left one goes left, the right one right
    assert corner[1, 1] - corner[0, 1] >= 8  # no overlap left
    assert abs(shift[0, 1] + shift[1, 1]) <= 1  # each takes about half


def test_a_fixed_footprint_pushes_by_the_whole_depth_and_stays():
    sq = np.ones((8, 8), bool)
    shift, corner = _relax([sq], [(10, 15)], fixed=[(sq, (10, 10))])
    assert shift[0, 0] == 0 and shift[0, 1] >= 3 and corner[0, 1] >= 18


def test_relaxation_is_a_no_op_without_overlaps():
    sq = np.ones((6, 6), bool)
    shift, corner = _relax([sq, sq], [(2, 2), (20, 20)])
    assert not shift.any() and corner.tolist() == [[2, 2], [20, 20]]


def _packed_colony(push: int) -> TrackedMasks:
    """Six rods packed around one centre, no own motion (speed 0), dividing every 5-7 frames."""
    cfg = SynthConfig.preset(
        "mid", "colony", size=(192, 192), frames=24, cells=6, colonies=1, colony_sigma=0.05, shape_kind="rod",
        mean_area=120.0, area_cv=0.1, min_gap=0, border="reflect", speed_mean=0.0, division_rate=1.0,
        cycle_quantiles=(5.0, 6.0, 6.0, 6.0, 7.0), division_area_quantiles=(200.0, 220.0, 240.0),
        shape_jitter=False, morph_prob=0.0, push_iterations=push,
    )
    return synthesize(cfg, seed=0)  # validate_tracked runs inside


def test_a_packed_colony_with_pushing_grows_faster_and_blocks_fewer_steps():
    """Measured: without pushing 6 -> 16 cells and 86 % of steps < 0.5 px; with pushing 6 -> 70, 21 %."""
    rigid, pushed = _packed_colony(0), _packed_colony(8)
    n_rigid, n_pushed = rigid.cells_per_frame()[-1], pushed.cells_per_frame()[-1]
    assert n_pushed >= 2 * n_rigid, (n_rigid, n_pushed)
    blocked = [float(np.mean(sequence_stats(m)["displacement"] < 0.5)) for m in (rigid, pushed)]
    assert blocked[1] < 0.5 * blocked[0], blocked
    # the exact guarantees hold with pushing: no overlap, two daughters the frame after the mother
    assert min_gap_ok(pushed.labels, 0)
    lin = pushed.lineage
    parents, counts = np.unique(lin[lin[:, 3] > 0, 3], return_counts=True)
    assert len(parents) >= 20 and set(counts.tolist()) == {2}
    ends = {int(r[0]): int(r[2]) for r in lin}
    assert all(int(r[1]) == ends[int(r[3])] + 1 for r in lin if r[3] > 0)


def test_daughters_are_not_pushed_in_their_first_frame():
    """Daughters grow in place where their mother was (pushed daughters could leave the frame
    before their first frame: a track row without pixels), each away from the cut by half the
    length it gains. Measured: median 93 % of the mother's pixels covered by the daughters, at
    least 69 % (79 % before they grew away from the cut); when they were pushed, 0-67 % (median)."""
    m = _packed_colony(8)
    lin = m.lineage
    covered = []
    for p in np.unique(lin[lin[:, 3] > 0, 3]).tolist():
        mother = lin[lin[:, 0] == p][0]
        daughters = lin[lin[:, 3] == p]
        was = m.labels[mother[2]] == p
        now = np.isin(m.labels[daughters[0, 1]], daughters[:, 0])
        covered.append((was & now).sum() / was.sum())
    assert len(covered) >= 20 and min(covered) >= 0.6 and np.median(covered) >= 0.85, sorted(covered)[:5]


def _expanding_grid(gap: int, frames: int = 6) -> TrackedMasks:
    """5x5 squares (side 6) on a grid that grows about its centre by 4 % per frame, squares
    included: steps grow with the distance from the centre. ``gap``: background pixels between
    squares at t=0 (as many later, up to rounding)."""
    h = w = 160
    labels = np.zeros((frames, h, w), np.uint16)
    for t in range(frames):
        k = 1.04**t
        side = int(round(6 * k))
        for i in range(5):
            for j in range(5):
                y = int(round(80 + (i - 2) * (6 + gap) * k - side / 2))
                x = int(round(80 + (j - 2) * (6 + gap) * k - side / 2))
                labels[t, y : y + side, x : x + side] = 1 + 5 * i + j
    return TrackedMasks(labels, np.array([[i, 0, frames - 1, 0] for i in range(1, 26)]))


def test_colony_packing_tells_a_packed_expanding_colony_from_scattered_cells():
    packed = colony_packing(_expanding_grid(gap=1))
    assert packed["packed"] > 0.85 and packed["radial"] > 0.3, packed  # calibration pushes from 0.5, 0.2
    loose = colony_packing(_expanding_grid(gap=12))
    assert loose["packed"] < 0.1, loose
    still = colony_packing(TrackedMasks(np.repeat(_expanding_grid(gap=1).labels[:1], 4, axis=0),
                                        np.array([[i, 0, 3, 0] for i in range(1, 26)])))
    assert np.isnan(still["radial"])  # nobody moves: nothing to correlate


@pytest.mark.parametrize("packed, radial, pushes", [(0.9, 0.4, True), (0.9, 0.05, False), (0.2, 0.4, False)])
def test_calibration_turns_pushing_on_for_a_packed_colony_whose_steps_grow_outwards(monkeypatch, packed, radial,
                                                                                     pushes):
    import importlib

    cal = importlib.import_module("masksynth.calibrate")  # the module (masksynth.calibrate is also a function)
    measured = []
    monkeypatch.setattr(cal, "colony_packing", lambda m: measured.append(m) or {"packed": packed, "radial": radial})
    colony = _packed_colony(0)  # divides: the rule applies to dividing colonies only
    params = calibration_params(colony)
    assert measured and measured[0] is colony
    assert params.get("push_iterations") == (PUSH_ITERATIONS if pushes else None)
    assert params.get("push_contact") == (True if pushes else None)


def test_push_iterations_are_checked():
    with pytest.raises(UserError, match="push_iterations must be an integer in 0..100"):
        SynthConfig.preset("mid", push_iterations=-1)


def test_a_growing_cluster_expands_about_its_centre_and_a_lone_or_still_cell_stays():
    occ = np.zeros((60, 60), bool)
    occ[10:14, 10:30] = True  # cluster A: two touching bars, rows 10-11 and 12-13
    occ[40:44, 40:44] = True  # cluster B: one square, far away
    pixels = np.array([[10, 10], [12, 10], [40, 40]])
    pos = np.array([[10.5, 19.5], [12.5, 19.5], [41.5, 41.5]])
    old = np.array([40.0, 40.0, 16.0])
    grown = expansion_shifts(occ, pixels, pos, old, old * np.array([1.21, 1.21, 1.5]), gap=0)
    # A grows by 21 %: its cells move apart by 10 % of their distance from its centre (11.5, 19.5)
    assert grown[0] == pytest.approx([-0.1, 0.0]) and grown[1] == pytest.approx([0.1, 0.0])
    assert grown[2] == pytest.approx([0.0, 0.0])  # B is alone: its centre is its centroid
    assert not expansion_shifts(occ, pixels, pos, old, old, gap=0).any()  # no growth, no shift


def _turns(masks, corners):
    count, ids = _canvas(masks, corners)
    centres = np.array([[(m.shape[0] - 1) / 2, (m.shape[1] - 1) / 2] for m in masks])
    turns = np.zeros(len(masks))
    relax_overlaps(count, ids, masks, list(masks), np.array(corners, np.int64), centres,
                   np.full(len(masks), 10.0), iterations=1, turns=turns)
    return turns


def test_a_rod_pushed_at_one_end_turns_away_and_one_pushed_at_its_centre_or_along_its_axis_does_not():
    from masksynth.shapes import BaseShape, render_shape

    rod, sq = np.ones((3, 15), bool), np.ones((5, 5), bool)
    # a square overlaps the rod's right end from below: the end is pushed up (and the square turns
    # the other way); under its centre, or on its axis at its end: no turn
    end = _turns([rod, sq], [(10, 10), (11, 20)])
    centre = _turns([rod, sq], [(10, 10), (11, 15)])[0]
    axial = _turns([rod, sq], [(10, 10), (9, 23)])[0]
    assert end[0] < -0.05 and end[1] > 0 and abs(centre) < 1e-9 and abs(axial) < 1e-9, (end, centre, axial)
    end = end[0]
    # and that sign turns the rendered rod so that its right end goes up, as the push does
    base = BaseShape.from_mask(np.pad(rod, 2))
    turned, c = render_shape(base, angle=float(end) * 3, scale=1.0, morph=0, frac=(0.0, 0.0), margin=0)
    ys, xs = np.nonzero(turned)
    right, left = ys[xs >= xs.max() - 1].mean(), ys[xs <= xs.min() + 1].mean()
    assert right < left - 1, (right, left)


def _rod_colony(torque: float, seed: int) -> TrackedMasks:
    """One rod without own motion dividing every 5-7 frames for 30 frames: ~30 rods."""
    cfg = SynthConfig.preset(
        "mid", "colony", size=(256, 256), frames=30, cells=1, colonies=1, colony_sigma=0.02, shape_kind="rod",
        mean_area=120.0, area_cv=0.1, min_gap=0, border="reflect", speed_mean=0.0, rotation_sd=0.02,
        division_rate=1.0, cycle_quantiles=(5.0, 6.0, 6.0, 6.0, 7.0), division_area_quantiles=(200.0, 220.0, 240.0),
        shape_jitter=False, morph_prob=0.0, push_iterations=8, push_torque=torque)
    return synthesize(cfg, seed=seed)  # validates the CTC rules


def _aspect(labels: np.ndarray) -> float:
    """Long over short axis (sd) of all cell pixels of a frame."""
    ev = np.linalg.eigvalsh(np.cov(np.stack(np.nonzero(labels))))
    return float(np.sqrt(ev[1] / ev[0]))


def test_pushes_that_turn_rods_make_a_colony_instead_of_a_chain():
    """Measured (seeds 0-3, last frame): without torque the rods grow end to end into a chain
    (aspect 6.9-8.8); with push_torque 1 it buckles into a colony (aspect 3.5-4.8)."""
    chains = [_aspect(_rod_colony(0.0, s).labels[-1]) for s in range(4)]
    colonies = [_rod_colony(1.0, s) for s in range(4)]
    assert max(_aspect(m.labels[-1]) for m in colonies) < min(chains), chains
    assert min(m.cells_per_frame()[-1] for m in colonies) >= 20  # they kept growing and dividing
    assert all(min_gap_ok(m.labels, 0) for m in colonies)


def test_push_torque_is_checked():
    with pytest.raises(UserError, match="push_torque must be in"):
        SynthConfig.preset("mid", push_torque=-0.5)


def test_the_contact_normal_is_the_thin_axis_of_an_overlap_on_the_side_of_the_push():
    from masksynth.push import _contact_normal

    ys, xs = np.zeros(10), np.arange(10.0)  # a one-row sliver along x
    assert _contact_normal(ys, xs, -0.6, 0.8) == pytest.approx((-1.0, 0.0))  # across it, towards the push
    assert _contact_normal(ys, xs, 0.6, 0.8) == pytest.approx((1.0, 0.0))
    diag = np.arange(8.0)  # a diagonal sliver: across it is (1, -1) / sqrt 2
    assert _contact_normal(diag, diag, 1.0, 0.0) == pytest.approx((2**-0.5, -(2**-0.5)))
    by, bx = np.divmod(np.arange(16.0), 4)  # a 4x4 blob: no thin axis, the push's own direction
    assert _contact_normal(by, bx, 0.6, 0.8) == (0.6, 0.8)


def test_contact_pushes_separate_rods_overlapping_side_by_side_by_the_sliver_not_by_their_length():
    """Two rods 4 px thick, one row overlapping over 12 px, offset 8 px along their length: along
    the centre line the push is the overlap's extent along it (most of that length), so they are
    also shoved 3 px lengthwise (measured: 4 px in all); across the contact one pixel sideways."""
    rod = np.ones((4, 20), bool)

    def relax(contact):
        count, ids = _canvas([rod, rod], [(10, 5), (13, 13)], shape=(40, 60))
        corner = np.array([(10, 5), (13, 13)], np.int64)
        centres = np.array([[1.5, 9.5], [1.5, 9.5]])
        shift = relax_overlaps(count, ids, [rod, rod], [rod, rod], corner, centres, np.full(2, 10.0),
                               iterations=10, contact=contact)
        assert count.max() == 1  # no overlap left
        return shift

    across, centre_line = relax(True), relax(False)
    assert not across[:, 1].any() and np.abs(across[:, 0]).sum() <= 2, across
    assert np.abs(centre_line).sum() >= 3 * np.abs(across).sum(), (centre_line, across)
