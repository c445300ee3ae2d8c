"""Where cells touch in a label image: the one-pixel gaps and the shared borders between cells.

Masks made by masksynth (its colonies) and by many segmenters leave a one-pixel background line
between touching cells; annotations of the same kind of data often let them share a border. In the
images, touching cells meet without a gap (bacteria-phc). Two rules follow:

- :func:`cell_foreground`: the cells as the generators see them (training and rendering), the gaps
  between two cells closed;
- :func:`contact_pixels`: the pixels where two cells meet (gaps and borders), where
  :func:`tgan_aug.metrics.microscopy.contact_contrast` measures how a video draws touching cells.

Labels: (T, Y, X) or (Y, X), any integer dtype (or bool), 0 = background. Neighbourhoods are the 3x3
pixels around a pixel in its own frame.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["cell_foreground", "contact_pixels", "neighbour_ids"]


def neighbour_ids(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, object]:
    """(high, low, none) of each pixel's 3x3 neighbourhood: the largest and the smallest cell id in it.

    high is 0 and low is ``none`` (the dtype's largest value) where the neighbourhood holds no cell;
    both have the labels' dtype and shape.
    """
    lab = np.asarray(labels)
    size = (3, 3) if lab.ndim == 2 else (1, 3, 3)
    none = np.iinfo(lab.dtype).max if lab.dtype.kind in "ui" else np.inf
    high = ndi.maximum_filter(lab, size=size, mode="constant", cval=0)
    low = ndi.minimum_filter(np.where(lab != 0, lab, none), size=size, mode="constant", cval=none)
    return high, low, none


def cell_foreground(labels: np.ndarray) -> np.ndarray:
    """Labels -> bool of the same shape: the cells as the generators see them.

    A cell pixel is ``labels != 0``, and so is a background pixel whose 3x3 neighbourhood holds two
    different cells: the one-pixel gap between touching cells. With the gap left open, a generator
    draws background there, a bright halo line in phase contrast, between every pair of touching
    cells. Binary masks (one label value) come back as ``labels != 0``.
    """
    lab = np.asarray(labels)
    fg = lab != 0
    if lab.dtype == bool or not fg.any():
        return fg
    high, low, none = neighbour_ids(lab)
    return fg | ((low != none) & (low != high))


def contact_pixels(labels: np.ndarray) -> np.ndarray:
    """Labels -> bool of the same shape: where two different cells meet.

    The one-pixel gaps that :func:`cell_foreground` closes, and the cell pixels with another cell in
    their 3x3 neighbourhood (a shared border). Binary masks have no contacts.
    """
    lab = np.asarray(labels)
    if lab.dtype == bool or not lab.any():
        return np.zeros(lab.shape, bool)
    high, low, none = neighbour_ids(lab)
    return (low != none) & (low != high)
