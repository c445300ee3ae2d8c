"""Where cells touch: the gaps the generators close and the contact pixels the realism metric reads."""

from __future__ import annotations

import numpy as np

from tgan_aug.contacts import cell_foreground, contact_pixels


def test_cell_foreground_closes_one_pixel_gaps_between_two_cells_only():
    """A background pixel counts as cell when two different cells lie in its 3x3 neighbourhood: the
    one-pixel line between touching cells (also diagonally) closes; a notch inside one cell, a
    two-pixel gap and a cell of the next frame do not; binary masks pass through."""
    lab = np.zeros((2, 12, 20), np.uint16)
    lab[0, 2:6, 2:6] = 1
    lab[0, 2:6, 7:10] = 2  # one-pixel gap at column 6, rows 2-5
    lab[0, 2:6, 12:15] = 3  # two-pixel gap (columns 10-11) to cell 2
    lab[0, 8:10, 2:10] = 4
    lab[0, 9, 5] = 0  # a notch in cell 4: one cell on both sides
    lab[0, 10:12, 16:18] = 5
    lab[0, 7:9, 18:20] = 6  # a diagonal neighbour of cell 5: pixels (9, 17) and (9, 18) lie between them
    lab[1, 2:6, 2:6] = 7  # frame 1: a cell where frame 0 has cell 1, nothing at column 6
    fg = cell_foreground(lab)
    assert fg.dtype == bool and fg.shape == lab.shape
    added = fg & (lab == 0)
    assert added[0, 2:6, 6].all()  # the gap between cells 1 and 2
    assert not added[0, :, 10:12].any() and not added[0, 9, 5]
    assert added[0, 9, 17] and added[0, 9, 18]  # between the diagonal cells 5 and 6
    assert added[0].sum() == 4 + 2 + 2  # column 6 rows 2-5; (1, 6) and (6, 6) touch cells 1 and 2 diagonally; 5-6
    assert not added[1].any()
    np.testing.assert_array_equal(cell_foreground(lab[0]), fg[0])
    np.testing.assert_array_equal(cell_foreground(lab != 0), lab != 0)
    np.testing.assert_array_equal(cell_foreground(lab.astype(np.int32)), fg)
