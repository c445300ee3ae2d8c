"""The crops DeepSea's tracker sees, shared by inference and fine-tuning.

For a cell in frame t-1 DeepSea cuts a square window centred on the cell's centroid, of side
``window_scale`` (6) times the cell's larger bounding-box extent, out of

- frame t-1 with only that cell's pixels kept (the rest 0): "which cell";
- frame t with every segmented cell's pixels kept (background 0): "where could it be now";
- for training, frame t's mask of the cell (both daughters after a division): the target.

Windows that reach past the image border are zero-padded. The crops are resized to
``crop_size`` x ``crop_size`` (images bilinear with antialiasing, as PIL resizes; masks nearest)
and images are normalised as DeepSea's transforms do: intensities in [0, 1] -> (x - 0.5) / 0.5.
Frames are scaled to [0, 1] per frame (min-max, as DeepSea scales its 8-bit images). Since the
crops zero everything but cells, cells must not be near 0 themselves: frames whose cells are
darker than their background (e.g. phase-contrast bacteria) are inverted (:func:`resolve_invert`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi

__all__ = [
    "CellBox",
    "normalize_frame",
    "cells_are_dark",
    "resolve_invert",
    "cell_boxes",
    "crop_padded",
    "resize_image",
    "resize_labels",
    "cell_pair",
]


@dataclass(frozen=True)
class CellBox:
    """A cell's crop window in pixels: centroid (cy, cx), side ``window``, and the half-open
    box rows [y0, y1), columns [x0, x1) (may reach outside the image)."""

    cy: float
    cx: float
    window: float
    y0: int
    x0: int
    y1: int
    x1: int


def normalize_frame(image: np.ndarray, *, invert: bool = False) -> np.ndarray:
    """One frame (Y, X), any numeric dtype -> float32 (Y, X) min-max scaled to [0, 1]
    (``invert``: 1 - that, for cells darker than their background). A constant
    frame gives zeros."""
    img = np.asarray(image, dtype=np.float32)
    lo, hi = float(img.min()), float(img.max())
    out = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return 1.0 - out if invert else out


def cells_are_dark(images: np.ndarray, labels: np.ndarray, *, max_frames: int = 10) -> bool:
    """True when segmented cells are on average darker than the background.

    images: (T, Y, X) intensities, any real dtype; labels: (T, Y, X) label masks (0 = background).
    Looks at up to ``max_frames`` evenly spaced frames, each min-max scaled to [0, 1] first.
    False when there are no cells or no background.
    """
    idx = np.unique(np.linspace(0, labels.shape[0] - 1, min(max_frames, labels.shape[0])).round().astype(int))
    fg_sum = bg_sum = 0.0
    fg_n = bg_n = 0
    for t in idx.tolist():
        img, fg = normalize_frame(images[t]), np.asarray(labels[t]) > 0
        fg_sum, fg_n = fg_sum + float(img[fg].sum()), fg_n + int(fg.sum())
        bg_sum, bg_n = bg_sum + float(img[~fg].sum()), bg_n + int((~fg).sum())
    return bool(fg_n and bg_n and fg_sum / fg_n < bg_sum / bg_n)


def resolve_invert(invert: bool | str, images: np.ndarray, labels: np.ndarray) -> bool:
    """The ``invert`` setting for one sequence: ``"auto"`` = :func:`cells_are_dark`, else ``bool(invert)``.

    images, labels: (T, Y, X) as in :func:`cells_are_dark`.
    """
    return cells_are_dark(images, labels) if invert == "auto" else bool(invert)


def cell_boxes(labels: np.ndarray, *, window_scale: float = 6.0, min_window: float = 16.0) -> dict[int, CellBox]:
    """Crop windows of every cell of one frame.

    labels: (Y, X) integer label mask, 0 = background. The window side is
    ``max(window_scale * max(ymax - ymin, xmax - xmin), min_window)`` pixels (DeepSea: 6 x the
    bounding-box extent; ``min_window`` keeps one-pixel cells usable); the box is
    ``int(c - window / 2) .. int(c + window / 2)`` around the centroid c, as DeepSea crops.
    Returns ``{id: CellBox}`` for the ids present.
    """
    labels = np.asarray(labels)
    ids = np.unique(labels)
    ids = ids[ids > 0]
    if ids.size == 0:
        return {}
    slices = ndi.find_objects(labels.astype(np.int64, copy=False), max_label=int(ids.max()))
    centroids = ndi.center_of_mass(np.ones(labels.shape, np.uint8), labels, ids)
    out: dict[int, CellBox] = {}
    for i, (cy, cx) in zip(ids.tolist(), centroids):
        sy, sx = slices[i - 1]
        extent = max(sy.stop - 1 - sy.start, sx.stop - 1 - sx.start)
        w = max(window_scale * extent, float(min_window))
        out[i] = CellBox(float(cy), float(cx), float(w), int(cy - w / 2), int(cx - w / 2), int(cy + w / 2), int(cx + w / 2))
    return out


def crop_padded(arr: np.ndarray, box: CellBox) -> np.ndarray:
    """``arr[y0:y1, x0:x1]`` of a (Y, X) array, zero where the box leaves the image."""
    h, w = box.y1 - box.y0, box.x1 - box.x0
    out = np.zeros((max(h, 1), max(w, 1)), dtype=arr.dtype)
    ya, xa = max(box.y0, 0), max(box.x0, 0)
    yb, xb = min(box.y1, arr.shape[0]), min(box.x1, arr.shape[1])
    if yb > ya and xb > xa:
        out[ya - box.y0 : yb - box.y0, xa - box.x0 : xb - box.x0] = arr[ya:yb, xa:xb]
    return out


def resize_image(crop: np.ndarray, size: int) -> torch.Tensor:
    """(h, w) float crop -> (size, size) float32 tensor, bilinear with antialiasing (PIL-like)."""
    t = torch.from_numpy(np.ascontiguousarray(crop, dtype=np.float32))[None, None]
    return F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)[0, 0]


def resize_labels(crop: np.ndarray, size: int) -> torch.Tensor:
    """(h, w) integer crop -> (size, size) int64 tensor, nearest neighbour (labels stay labels)."""
    t = torch.from_numpy(np.ascontiguousarray(crop, dtype=np.float64))[None, None]
    return F.interpolate(t, size=(size, size), mode="nearest-exact")[0, 0].round().long()


def cell_pair(
    prev_image: np.ndarray,
    prev_labels: np.ndarray,
    cell: int,
    curr_image: np.ndarray,
    curr_labels: np.ndarray,
    box: CellBox,
    *,
    size: int = 128,
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """The two network inputs for one cell and the current labels under them.

    prev_image, curr_image: (Y, X) float frames already scaled to [0, 1] (:func:`normalize_frame`).
    prev_labels, curr_labels: (Y, X) integer label masks of frames t-1 and t. cell: the id of the
    cell in ``prev_labels``. box: its window (:func:`cell_boxes` of frame t-1).
    Returns ``(prev (1, S, S), curr (1, S, S))`` float32 tensors in [-1, 1] (pixels outside the
    cell / outside all cells are -1) and the (h, w) crop of ``curr_labels`` (window resolution).
    """
    prev = crop_padded(prev_image, box) * (crop_padded(prev_labels, box) == cell)
    curr_lab = crop_padded(curr_labels, box)
    curr = crop_padded(curr_image, box) * (curr_lab > 0)
    p, c = resize_image(prev, size), resize_image(curr, size)
    return ((p - 0.5) / 0.5)[None], ((c - 0.5) / 0.5)[None], curr_lab
