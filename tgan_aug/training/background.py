"""Reference background of a sequence: real frames with the cells removed.

The generator gets a background image that shows the field of view without cells. It is built
from the real frames: each pixel is the median over the frames in which that pixel lies outside
every (dilated) cell mask; pixels covered by a cell in every frame are filled by inpainting
(``cv2.inpaint``, Telea). The result is a statistic over many frames, never one frame of the
clip being predicted, and it contains no cell (a test checks that intensity inside the masks
matches intensity outside).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage as ndi

from tgan_aug.validation import validate_video

__all__ = ["estimate_background"]


def estimate_background(
    images: np.ndarray,
    masks: np.ndarray,
    *,
    dilate: int = 5,
    frames: np.ndarray | None = None,
    max_frames: int = 64,
) -> np.ndarray:
    """Median background of a sequence with the cells removed.

    images: (T, Y, X) float array (any units; the output is in the same units).
    masks: (T, Y, X) bool or integer labels (nonzero = cell).
    dilate: pixels grown around every cell before it is excluded (halo of phase contrast).
    frames: optional (K,) indices of the frames to use (e.g. frames outside a held-out clip).
    max_frames: at most this many frames (evenly spaced) are used, to bound memory and time.
    Returns (Y, X) float32. Raises :class:`UserError` for arrays :func:`validate_video` rejects.
    """
    images, masks = validate_video(images, masks, name="estimate_background", min_frames=1, binary_ok=True)
    idx = np.arange(images.shape[0]) if frames is None else np.asarray(frames, dtype=np.int64)
    if idx.size == 0:
        raise ValueError("estimate_background needs at least one frame")
    if idx.size > max_frames:
        idx = idx[np.linspace(0, idx.size - 1, max_frames).round().astype(np.int64)]
    stack = images[idx].astype(np.float32, copy=True)
    cells = masks[idx] != 0
    if dilate > 0:
        structure = np.ones((1, 2 * dilate + 1, 2 * dilate + 1), dtype=bool)
        # disk-like: a square grown by `dilate` pixels (cheap and conservative)
        cells = ndi.binary_dilation(cells, structure=structure)
    stack[cells] = np.nan
    covered = cells.all(axis=0)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            bg = np.nanmedian(stack, axis=0)
    if covered.all():  # cells everywhere, all the time: fall back to a robust low percentile
        bg = np.percentile(images[idx].astype(np.float32), 10, axis=0)
        return bg.astype(np.float32)
    if covered.any():
        fill = float(np.nanmedian(bg))
        bg = np.where(covered, fill, bg).astype(np.float32)
        bg = _inpaint(bg, covered, radius=max(3, int(dilate)))
    return bg.astype(np.float32)


def _inpaint(img: np.ndarray, holes: np.ndarray, *, radius: int) -> np.ndarray:
    """Telea inpainting of a float image through a 16-bit copy (cv2's float path gives wrong values)."""
    known = img[~holes]
    lo, hi = float(known.min()), float(known.max())
    if hi - lo < 1e-12:
        return np.full_like(img, lo)
    q = np.round((np.clip(img, lo, hi) - lo) / (hi - lo) * 65535).astype(np.uint16)
    out = cv2.inpaint(q, holes.astype(np.uint8), radius, cv2.INPAINT_TELEA)
    return (out.astype(np.float32) / 65535.0 * (hi - lo) + lo).astype(np.float32)
