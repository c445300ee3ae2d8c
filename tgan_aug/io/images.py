"""Images without masks: what a segmenter reads.

Accepted paths (``read_image_sequences``):

- a CTC sequence folder ``NN`` holding ``tTTT.tif`` frames: that sequence;
- a CTC dataset folder: every ``NN`` folder with frames (annotations are not needed);
- a multi-frame TIFF (T, Y, X), or ``IMAGES.tif:MASKS.tif`` (the images are read);
- a tgan-aug store: the images of every rendered sequence.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tgan_aug.errors import UserError
from tgan_aug.io._tiff import read_frames
from tgan_aug.io.ctc import _SEQ, _contiguous, _frame_files
from tgan_aug.io.load import split_pair
from tgan_aug.io.store import is_store, list_store_sequences, read_store
from tgan_aug.io.tiff_pair import _read_stack

__all__ = ["read_image_sequences", "read_mask_folder"]

_WHAT = "give a CTC sequence folder (NN/ with tTTT.tif), a CTC dataset folder, a multi-frame TIFF or a tgan-aug store"


def _ctc_image_folders(path: Path) -> list[Path]:
    if _SEQ.match(path.name) and _frame_files(path, "img"):
        return [path]
    return sorted(p for p in path.iterdir() if p.is_dir() and _SEQ.match(p.name) and _frame_files(p, "img"))


def read_image_sequences(path: str | os.PathLike, *, sequence: str | None = None) -> list[tuple[str, np.ndarray]]:
    """The image sequences at ``path`` (see the module docstring) as ``[(name, images (T, Y, X))]``,
    images in their own dtype; ``sequence`` keeps only the one of that name ("01", "seq000")."""
    pair = split_pair(path)
    path = Path(pair[0]) if pair is not None else Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist; {_WHAT}")
    if path.is_file():
        if path.suffix.lower() not in (".tif", ".tiff"):
            raise UserError(f"{path} is not a TIFF file; {_WHAT}")
        found = [(path.stem, _read_stack(path, "images"))]
    elif is_store(path):
        found = []
        for name in list_store_sequences(path):
            item = read_store(path, name, validate=False)
            if hasattr(item, "images"):
                found.append((name, np.asarray(item.images)))
        if not found:
            raise UserError(f"{path} holds no rendered sequences (masks only); render it first (tgan-aug render)")
    else:
        folders = _ctc_image_folders(path)
        if not folders:
            raise UserError(f"{path} holds no CTC image folder (NN/tTTT.tif); {_WHAT}")
        found = [(f.name, read_frames(_contiguous(_frame_files(f, "img"), f, "images"), labels=False)) for f in folders]
    if sequence is not None:
        names = [n for n, _ in found]
        if sequence not in names:
            raise UserError(f"{path} has no sequence {sequence!r}; it holds {', '.join(names)}")
        found = [(n, a) for n, a in found if n == sequence]
    return found


def read_mask_folder(folder: str | os.PathLike) -> np.ndarray:
    """Per-frame masks of a CTC result folder (``maskTTT.tif``, frames from 0 without gaps):
    (T, Y, X) uint16, ids as stored (need not be linked over time)."""
    import re

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder; give the folder of maskTTT.tif files that tgan-aug segment wrote")
    pattern = re.compile(r"^mask(\d{3,4})\.tiff?$")
    files: dict[int, Path] = {}
    for entry in os.scandir(folder):
        m = pattern.match(entry.name)
        if m and entry.is_file():
            files[int(m.group(1))] = Path(entry.path)
    if not files:
        raise UserError(f"{folder} holds no maskTTT.tif files; give the folder that tgan-aug segment (or a tracker) wrote")
    return read_frames(_contiguous(files, folder, "mask files"), labels=True)
