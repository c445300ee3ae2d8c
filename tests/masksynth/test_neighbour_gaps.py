"""Gaps between neighbouring cells (masksynth.stats.pair_gaps / neighbour_gaps): sisters touch
where the mother was cut, other neighbours keep their distance, and the two are told apart."""

import numpy as np
import pytest

from masksynth import TrackedMasks
from masksynth.stats import neighbour_gaps, pair_gaps


def test_pair_gaps_are_exact_chessboard_gaps_and_stop_at_reach():
    f = np.zeros((30, 30), np.uint16)
    f[2:5, 2:5] = 1
    f[2:5, 5:8] = 2  # shares a border with 1: gap 0
    f[6:8, 9:11] = 3  # diagonal from 2's corner (4, 7): chessboard distance 2, gap 1
    f[2:5, 12:14] = 4  # 3 px of background after 2 (columns 8..11 hold 3's pixels too: 3-4 gap 1)
    f[20:23, 20:23] = 5  # far from everyone
    rows = {(a, b): g for a, b, g in pair_gaps(f, reach=4).tolist()}
    assert rows[(1, 2)] == 0
    assert rows[(2, 3)] == 1
    assert rows[(3, 4)] == 1
    assert rows[(2, 4)] == 4  # columns 8-11 between them
    assert rows[(1, 3)] == 4  # 1's corner (4, 4) to 3's (6, 9): chessboard distance 5
    assert all(5 not in p for p in rows)  # 12+ px away from everyone: not a neighbour
    assert (1, 4) not in rows  # gap 7 > reach
    assert (2, 4) not in {(a, b) for a, b, _ in pair_gaps(f, reach=3).tolist()}


def test_pair_gaps_finds_every_pair_in_a_crowded_window():
    """Three cells within one 3x3 window: a max/min filter would see only the largest and smallest id."""
    f = np.zeros((5, 5), np.uint16)
    f[1, 1], f[1, 2], f[1, 3], f[2, 2] = 1, 7, 3, 5
    got = {(a, b) for a, b, _ in pair_gaps(f, reach=0).tolist()}
    assert got == {(1, 7), (3, 7), (5, 7), (1, 5), (3, 5)}  # 1-3 are 2 columns apart: gap 1 > reach 0


def _colony(others_gap: int, frames: int = 4) -> TrackedMasks:
    """Frame 0: one mother (id 1) and a row of five 6x6 cells keeping ``others_gap`` px between each
    other; from frame 1 the mother's two daughters (2, 3) touch where she was cut."""
    t, h, w = frames, 40, 80
    lab = np.zeros((t, h, w), np.uint16)
    lab[0, 20:26, 4:16] = 1
    lab[1:, 20:26, 4:10] = 2
    lab[1:, 20:26, 10:16] = 3
    for k in range(5):
        x = 4 + k * (6 + others_gap)
        lab[:, 4:10, x : x + 6] = 10 + k
    lin = [[1, 0, 0, 0], [2, 1, t - 1, 1], [3, 1, t - 1, 1]] + [[10 + k, 0, t - 1, 0] for k in range(5)]
    return TrackedMasks(lab, np.array(lin))


@pytest.mark.parametrize("gap", [0, 2, 3])
def test_neighbour_gaps_tell_sisters_from_other_neighbours(gap):
    m = _colony(gap, frames=6)
    assert np.unique(neighbour_gaps(m, pairs="sisters")).tolist() == [0]  # the daughters touch
    others = neighbour_gaps(m, pairs="others")
    assert others.size == 4 * 6 and np.unique(others).tolist() == [gap]
    assert neighbour_gaps(m, pairs="all").size == others.size + 5
    if gap:  # pairs farther apart than the reach are not neighbours
        assert neighbour_gaps(m, pairs="others", reach=gap - 1).size == 0


def test_neighbour_gaps_rejects_an_unknown_pair_kind():
    with pytest.raises(ValueError, match="pairs must be"):
        neighbour_gaps(_colony(1), pairs="cousins")
