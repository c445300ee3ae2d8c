"""Where cells touch in a label image: sisters' junctions and neighbours' contacts.

In phase-contrast colonies (bacteria-phc, frames 20-52) two kinds of contact look different:

- sisters (the two daughters of one division) meet at a dark junction: at the pixels where they
  touch or lie one pixel apart the image is only 0.23 of the way from the cells' inside to the
  background around them; their masks touch (140 pair-frames) or leave a one- or two-pixel cut
  (272), and masksynth leaves such a cut between every pair of daughters;
- other neighbours are separated by a bright halo line: 0.74 of the way to background at the same
  kind of contact pixels; their masks mostly lie 2-3 pixels apart (1848 of 2129), masksynth's packed
  colonies often 1 pixel.

A generator sees binary masks, so it cannot tell a sisters' cut from a neighbours' gap; given the
cut, it draws a halo line between daughters. :func:`cell_foreground` closes the gaps between
sisters only (the painter's junction rule, :func:`sister_gaps`), so the generator sees the two
daughters as one body, as it sees real sisters whose masks touch. The other way round, two
neighbours whose masks touch are one blob to a generator, which then draws no halo line between
them; masksynth's colonies have many (it lets calibrated bacteria touch, since their fresh sisters
do). With ``part_neighbours`` :func:`cell_foreground` clears :func:`neighbour_partings`, so other
neighbours keep the two background pixels real ones mostly keep. :func:`contact_pixels` gives the
pixels where two cells meet, where :func:`tgan_aug.metrics.microscopy.contact_contrast` measures how
a video draws them.

Labels: (T, Y, X) or (Y, X), any integer dtype, 0 = background. Lineage: the CTC table
(N, 4) int ``[id, begin, end, parent]`` (:class:`masksynth.TrackedMasks`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["SISTER_REACH", "NEIGHBOUR_GAP", "cell_foreground", "contact_pixels", "neighbour_ids", "neighbour_partings",
           "parent_table", "sister_gaps"]

#: background pixels between two sister cells, each at most this many steps away along a row, a
#: column or a diagonal, belong to their junction (a gap of up to SISTER_REACH pixels closes)
SISTER_REACH = 2
#: background pixels that :func:`neighbour_partings` leaves between two cells that are not sisters
#: (real bacteria-phc neighbours: 91 % of 7143 neighbour pair-frames keep >= 2, 9 % 0-1;
#: ``masksynth.stats.neighbour_gaps``)
NEIGHBOUR_GAP = 2


def parent_table(lineage: np.ndarray | None, max_id: int) -> np.ndarray | None:
    """(max_id + 1,) int64: the parent of every track id (0 = none); None without lineage."""
    if lineage is None or not len(lineage):
        return None
    lin = np.asarray(lineage, dtype=np.int64)
    lin = lin[(lin[:, 0] > 0) & (lin[:, 0] <= max_id)]
    parents = np.zeros(max_id + 1, dtype=np.int64)
    parents[lin[:, 0]] = lin[:, 3]
    return parents


def _first_label(pad: np.ndarray, shape: tuple[int, int], dy: int, dx: int) -> np.ndarray:
    """For every pixel, the first non-zero label 1 .. SISTER_REACH steps away along (dy, dx) (0 = none)."""
    found = np.zeros(shape, dtype=pad.dtype)
    for k in range(1, SISTER_REACH + 1):
        y0, x0 = SISTER_REACH + k * dy, SISTER_REACH + k * dx
        found = np.where(found == 0, pad[y0 : y0 + shape[0], x0 : x0 + shape[1]], found)
    return found


def sister_gaps(labels: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """(Y, X) labels + :func:`parent_table` -> (Y, X) bool: background pixels with a cell on one side
    and its sister (same parent) on the opposite side, each at most ``SISTER_REACH`` steps away along
    a row, a column or a diagonal."""
    labels = np.asarray(labels)
    present = parents[np.minimum(np.unique(labels), parents.size - 1)]
    present = present[present > 0]
    if present.size == np.unique(present).size:  # no two daughters of one mother in this frame
        return np.zeros(labels.shape, dtype=bool)
    pad = np.pad(labels, SISTER_REACH)
    gap = np.zeros(labels.shape, dtype=bool)
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a = _first_label(pad, labels.shape, dy, dx)
        b = _first_label(pad, labels.shape, -dy, -dx)
        pa, pb = parents[np.minimum(a, parents.size - 1)], parents[np.minimum(b, parents.size - 1)]
        gap |= (a != 0) & (b != 0) & (a != b) & (pa > 0) & (pa == pb)
    return gap & (labels == 0)


def _shifted(labels: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """The label at (y + dy, x + dx) of every pixel (y, x) (0 beyond the frame)."""
    h, w = labels.shape
    out = np.zeros_like(labels)
    out[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)] = labels[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)]
    return out


def neighbour_partings(labels: np.ndarray, parents: np.ndarray | None = None) -> np.ndarray:
    """(Y, X) labels (+ :func:`parent_table`) -> (Y, X) bool: the cell pixels to clear so that every
    two cells that are not sisters keep at least ``NEIGHBOUR_GAP`` (2) background pixels between
    them, taking as few as that needs: a pixel next to another cell (touching, chessboard distance
    1) goes on both sides; then, of two cells one background pixel apart, the pixels of the one with
    the larger id that lie at distance 2 from the other. Sisters (same parent) are left as they are;
    without ``parents`` every pair counts."""
    lab = np.asarray(labels)
    out = np.zeros(lab.shape, dtype=bool)
    if not lab.any():
        return out
    par = parents if parents is not None else np.zeros(int(lab.max()) + 1, np.int64)

    def others(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        pa, pb = par[np.minimum(a, par.size - 1)], par[np.minimum(b, par.size - 1)]
        return (a != 0) & (b != 0) & (a != b) & ~((pa > 0) & (pa == pb))

    lab = lab.astype(np.int64)
    for d in (1, 2):
        if d == 2:  # the touching pairs are 2 px apart now
            lab = np.where(out, 0, lab)
        for dy in range(-d, d + 1):
            for dx in range(-d, d + 1):
                if max(abs(dy), abs(dx)) == d:
                    b = _shifted(lab, dy, dx)
                    hit = others(lab, b)
                    out |= hit if d == 1 else hit & (lab > b)
    return out


def cell_foreground(labels: np.ndarray, lineage: np.ndarray | None = None, *, close_sisters: bool = True,
                    part_neighbours: bool = False) -> np.ndarray:
    """Labels (+ their lineage) -> bool of the same shape: the cells as the generators see them.

    ``labels != 0``, and with a lineage (and ``close_sisters``) also the gaps between sisters
    (:func:`sister_gaps`, frame by frame): two daughters form one body with a junction, as real
    sisters do. Gaps between other cells stay background (a halo line in the images). With
    ``part_neighbours``, the pixels of :func:`neighbour_partings` are cleared (every pair but
    sisters, when the lineage is given), so neighbours whose masks touch are not one blob.
    Without lineage and parting: ``labels != 0``.
    """
    lab = np.asarray(labels)
    fg = lab != 0
    parents = parent_table(lineage, int(lab.max())) if fg.any() else None
    if (parents is None or not close_sisters) and not part_neighbours:
        return fg
    frames = fg[None] if lab.ndim == 2 else fg.copy()
    for t, frame in enumerate(lab[None] if lab.ndim == 2 else lab):
        if part_neighbours:
            frames[t] &= ~neighbour_partings(frame, parents)
        if parents is not None and close_sisters:
            frames[t] |= sister_gaps(frame, parents)
    return frames[0] if lab.ndim == 2 else frames


def neighbour_ids(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(high, low, none) of each pixel's 3x3 neighbourhood: the largest and the smallest cell id in it.

    high is 0 and low is ``none`` where the neighbourhood holds no cell; both have the labels' shape
    and a dtype that holds their ids (uint16 or int32: scipy's filters pass their fill value through
    a float, which a 64-bit integer's largest value does not survive).
    """
    lab = np.asarray(labels)
    top = int(lab.max()) if lab.size else 0
    lab = lab.astype(np.uint16 if top < np.iinfo(np.uint16).max else np.int32, copy=False)
    size = (3, 3) if lab.ndim == 2 else (1, 3, 3)
    none = int(np.iinfo(lab.dtype).max)
    high = ndi.maximum_filter(lab, size=size, mode="constant", cval=0)
    low = ndi.minimum_filter(np.where(lab != 0, lab, none), size=size, mode="constant", cval=none)
    return high, low, none


def contact_pixels(labels: np.ndarray, lineage: np.ndarray | None = None, *, pairs: str = "all") -> np.ndarray:
    """Labels -> bool of the same shape: the pixels whose 3x3 neighbourhood holds two different cells.

    That is the cell pixels next to another cell (a shared border) and the background pixels of a
    one-pixel gap between two cells. pairs: "all"; "sisters" or "others" (needs ``lineage``) keeps
    the pixels whose neighbourhood's smallest and largest ids are sisters, or are not.
    """
    if pairs not in ("all", "sisters", "others"):
        raise ValueError(f"pairs must be 'all', 'sisters' or 'others', got {pairs!r}")
    lab = np.asarray(labels)
    if not lab.any():
        return np.zeros(lab.shape, bool)
    high, low, none = neighbour_ids(lab)
    contact = (low != none) & (low != high)
    if pairs == "all":
        return contact
    parents = parent_table(lineage, int(lab.max()))
    if parents is None:
        raise ValueError("contact_pixels: pairs='sisters' or 'others' needs the labels' lineage")
    lo = parents[np.where(contact, low, 0).astype(np.int64)]
    hi = parents[np.where(contact, high, 0).astype(np.int64)]
    sisters = contact & (lo > 0) & (lo == hi)
    return sisters if pairs == "sisters" else contact & ~sisters
