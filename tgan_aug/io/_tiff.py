"""TIFF reading/writing helpers shared by the CTC and TIFF-pair readers.

Every failure becomes a one-line :class:`~tgan_aug.errors.UserError` that names the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tifffile

from masksynth.tracked import MAX_ID
from tgan_aug.errors import UserError

#: Compression of written TIFFs: deflate (zlib) is read by tifffile, Fiji/Bio-Formats and the CTC tools.
#: Level 1: microscopy images barely compress further at higher levels, and it is the fastest.
TIFF_COMPRESSION = ("zlib", 1)
#: Threads used to decode/encode many small TIFF files (the codecs release the GIL).
READ_THREADS = 4
WRITE_THREADS = 4


def read_tiff(path: Path) -> np.ndarray:
    """Read one TIFF file; a truncated or corrupt file raises UserError naming it."""
    try:
        return tifffile.imread(path)
    except FileNotFoundError:
        raise UserError(f"{path} does not exist; check the path") from None
    except Exception as exc:  # tifffile raises ValueError, struct.error, codec errors, ...
        raise UserError(
            f"cannot read TIFF {path} ({type(exc).__name__}: {exc}); the file is truncated or "
            "corrupt: copy or export it again"
        ) from None


def write_tiff(path: Path, array: np.ndarray) -> None:
    """Write one 2D frame as a single-page, deflate-compressed, min-is-black TIFF."""
    codec, level = TIFF_COMPRESSION
    tifffile.imwrite(path, array, compression=codec, compressionargs={"level": level}, photometric="minisblack")


def as_labels(array: np.ndarray, source: str) -> np.ndarray:
    """Label image(s) as uint16, refusing what does not fit.

    array: integer (or integer-valued float) array, 0 = background.
    source: file name used in error messages.
    Returns the same shape as uint16 (no copy when already uint16).
    """
    if array.dtype == np.uint16:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint16)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise UserError(f"{source}: label masks must be integers, got dtype {array.dtype}")
    if array.size == 0:
        return array.astype(np.uint16)
    lo, hi = array.min(), array.max()
    if np.issubdtype(array.dtype, np.floating) and not np.array_equal(array, np.round(array)):
        raise UserError(f"{source}: label masks must hold whole numbers, got fractional {array.dtype} values")
    if lo < 0:
        raise UserError(f"{source}: label ids must be >= 0 (0 = background), found {lo}")
    if hi > MAX_ID:
        raise UserError(
            f"{source}: label id {int(hi)} does not fit in uint16 (max {MAX_ID}); CTC masks hold at "
            "most 65535 ids: relabel the objects with fewer ids (e.g. skimage.segmentation.relabel_sequential)"
        )
    return array.astype(np.uint16)


def read_frames(
    files: Sequence[Path], *, labels: bool, progress=None
) -> np.ndarray:
    """Read one 2D TIFF per frame into a (T, Y, X) array.

    files: one file per frame, in time order.
    labels: True -> uint16 label masks (checked by :func:`as_labels`); False -> images in
        their own dtype (uint8, uint16, float32, ...), all frames the same dtype.
    progress: optional callable ``progress(n)`` called after each frame (e.g. tqdm.update).
    Every frame must have the size of the first; a different size raises UserError naming the file.
    """
    if not files:
        raise UserError("no frame files to read")

    def load(path: Path) -> np.ndarray:
        arr = read_tiff(path)
        if arr.ndim == 3 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.ndim != 2:
            raise UserError(
                f"{path}: expected one 2D (Y, X) frame per file, got shape {arr.shape}; "
                "only 2D+t data is supported"
            )
        return as_labels(arr, str(path)) if labels else arr

    first = load(files[0])
    out = np.empty((len(files), *first.shape), dtype=first.dtype)
    out[0] = first
    if progress:
        progress(1)

    def put(item: tuple[int, Path]) -> None:
        t, path = item
        arr = load(path)
        if arr.shape != first.shape:
            raise UserError(
                f"{path}: frame size {arr.shape} differs from {files[0].name} {first.shape}; "
                "all frames of a sequence must have the same size"
            )
        if arr.dtype != first.dtype:
            if not np.can_cast(arr.dtype, first.dtype, casting="safe"):
                raise UserError(
                    f"{path}: dtype {arr.dtype} differs from {files[0].name} ({first.dtype}); "
                    "all frames of a sequence must have the same dtype"
                )
        out[t] = arr

    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        for _ in pool.map(put, list(enumerate(files))[1:]):
            if progress:
                progress(1)
    return out
