"""Where cells touch: the sisters' gaps the generators close and the contact pixels the realism metric reads."""

from __future__ import annotations

import numpy as np
import pytest

from masksynth.stats import pair_gaps
from tgan_aug.contacts import cell_foreground, contact_pixels, neighbour_partings, parent_table, sister_gaps


def _colony() -> tuple[np.ndarray, np.ndarray]:
    """Frame 0: mother 1 (rows 2-5). Frame 1: her daughters 2 and 3 with a one-pixel cut (column 8),
    cell 4 one pixel from daughter 3 (column 16), cell 5 sharing a border with cell 4, and cell 6
    three pixels from cell 5 (columns 30-32)."""
    lab = np.zeros((2, 10, 40), np.uint16)
    lab[0, 2:6, 2:15] = 1
    lab[1, 2:6, 2:8] = 2
    lab[1, 2:6, 9:16] = 3
    lab[1, 2:6, 17:24] = 4
    lab[1, 2:6, 24:30] = 5
    lab[1, 2:6, 33:38] = 6
    lineage = np.array([[1, 0, 0, 0], [2, 1, 1, 1], [3, 1, 1, 1], [4, 1, 1, 0], [5, 1, 1, 0], [6, 1, 1, 0]])
    return lab, lineage


def test_cell_foreground_closes_the_gaps_between_sisters_only():
    lab, lineage = _colony()
    fg = cell_foreground(lab, lineage)
    added = fg & (lab == 0)
    assert added[1, 2:6, 8].all()  # the daughters' cut
    assert not added[1, :, 16].any() and not added[1, :, 30:33].any()  # neighbours stay apart
    assert added.sum() == 4 and not added[0].any()
    np.testing.assert_array_equal(cell_foreground(lab), lab != 0)  # no lineage: nothing to close
    np.testing.assert_array_equal(cell_foreground(lab[1], lineage), fg[1])
    wide = lab.copy()
    wide[1, 2:6, 9] = 0  # a two-pixel cut (columns 8-9): each pixel has a sister within SISTER_REACH = 2 on both sides
    assert (cell_foreground(wide, lineage) & (wide == 0))[1, 2:6, 8:10].all()
    far = lab.copy()
    far[1, 2:6, 9:12] = 0  # four pixels apart: not a junction any more
    assert not (cell_foreground(far, lineage) & (far == 0))[1].any()
    big = lab.astype(np.int64) * 100_000  # ids past uint16
    big_lineage = lineage * np.array([100_000, 1, 1, 100_000])
    np.testing.assert_array_equal(cell_foreground(big, big_lineage), fg)


def test_neighbour_partings_leave_two_pixels_between_other_neighbours_and_no_more():
    lab, lineage = _colony()
    parents = parent_table(lineage, int(lab.max()))
    cut = neighbour_partings(lab[1], parents)
    expected = np.zeros_like(cut)
    expected[2:6, [17, 23, 24]] = True  # 3-4 one pixel apart: the larger id gives a column; 4-5 touch: one each
    np.testing.assert_array_equal(cut, expected)
    assert not neighbour_partings(lab[0], parents).any()
    parted = np.where(cut, 0, lab[1])
    gaps = {(a, b): g for a, b, g in pair_gaps(parted).tolist()}
    assert gaps[(2, 3)] == 1  # sisters keep their cut
    assert gaps[(3, 4)] == gaps[(4, 5)] == 2 and gaps[(5, 6)] == 3  # 3 px apart already: untouched
    no_lineage = neighbour_partings(lab[1])  # every pair counts: the sisters' cut widens too
    np.testing.assert_array_equal(no_lineage, expected | (np.arange(40) == 9)[None] & (lab[1] == 3))
    fg = cell_foreground(lab, lineage, part_neighbours=True)
    np.testing.assert_array_equal(fg[1], ((lab[1] != 0) & ~expected) | sister_gaps(lab[1], parents))
    np.testing.assert_array_equal(cell_foreground(lab, lineage, close_sisters=False, part_neighbours=True)[1],
                                  (lab[1] != 0) & ~expected)
    np.testing.assert_array_equal(cell_foreground(lab, close_sisters=False), lab != 0)


def test_parent_table_and_sister_gaps_without_sisters():
    lab, lineage = _colony()
    parents = parent_table(lineage, int(lab.max()))
    assert parents.tolist() == [0, 0, 1, 1, 0, 0, 0]
    assert parent_table(None, 6) is None and parent_table(np.zeros((0, 4), int), 6) is None
    assert not sister_gaps(lab[0], parents).any()  # only the mother in frame 0


def test_contact_pixels_split_into_sisters_and_others():
    lab, lineage = _colony()
    every = contact_pixels(lab)
    sisters = contact_pixels(lab, lineage, pairs="sisters")
    others = contact_pixels(lab, lineage, pairs="others")
    np.testing.assert_array_equal(every, sisters | others)
    assert not (sisters & others).any()
    assert sisters[1, 2:6, 8].all() and not sisters[1, :, 16:30].any()
    assert others[1, 2:6, 16].all() and others[1, 2:6, 23:25].all()  # a gap and a shared border
    assert not every[1, :, 31].any() and not every[0].any()  # three pixels apart; one cell
    for dtype in (np.int32, np.int64):
        np.testing.assert_array_equal(contact_pixels(lab.astype(dtype)), every)
    with pytest.raises(ValueError, match="lineage"):
        contact_pixels(lab, pairs="sisters")
    with pytest.raises(ValueError, match="pairs"):
        contact_pixels(lab, lineage, pairs="touching")
