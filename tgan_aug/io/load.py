"""One entry point for user data: ``load_tracked(path)`` decides what the path is.

Accepted paths:

- a tgan-aug zarr store (folder with ``zarr.json`` carrying tgan_aug attributes): every
  sequence, or the one named by ``sequence``;
- a CTC dataset folder (``NN`` + ``NN_GT``/``NN_ST``), or one sequence's ``NN``/``NN_GT``/``NN_ST``
  folder: every annotated sequence, or the one named by ``sequence``;
- ``IMAGES.tif:MASKS.tif``, a multi-frame TIFF pair (see :mod:`tgan_aug.io.tiff_pair`; ``link``
  says how to get tracks from per-frame masks).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from masksynth.tracked import TrackedMasks, TrackedVideo
from tgan_aug.errors import UserError
from tgan_aug.io.ctc import find_ctc, list_ctc_sequences, read_ctc
from tgan_aug.io.store import is_store, list_store_sequences, read_store
from tgan_aug.io.tiff_pair import read_tiff_pair

__all__ = ["ctc_layout_summary", "describe_source", "load_tracked", "split_pair"]

_TIFF_SUFFIXES = (".tif", ".tiff")
_WHAT = "give a CTC dataset folder, a tgan-aug store (.zarr) or IMAGES.tif:MASKS.tif"


def split_pair(path: str | os.PathLike) -> tuple[Path, Path] | None:
    """``"a.tif:b.tif"`` -> (Path("a.tif"), Path("b.tif")); None when ``path`` is not a pair."""
    text = os.fspath(path)
    if ":" not in text or Path(text).exists():
        return None
    for i, ch in enumerate(text):
        if ch != ":":
            continue
        left, right = text[:i], text[i + 1 :]
        if left.lower().endswith(_TIFF_SUFFIXES) and right.lower().endswith(_TIFF_SUFFIXES):
            return Path(left), Path(right)
    return None


def describe_source(path: str | os.PathLike) -> str:
    """'store', 'ctc' or 'tiff-pair'; UserError (one line, with the fix) for anything else."""
    if split_pair(path) is not None:
        return "tiff-pair"
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist; {_WHAT}")
    if path.is_file():
        if path.suffix.lower() in _TIFF_SUFFIXES:
            raise UserError(f"{path} is a single TIFF; give the images and masks as IMAGES.tif:MASKS.tif")
        raise UserError(f"{path} is a file; {_WHAT}")
    if is_store(path):
        return "store"
    if not any(path.iterdir()):
        raise UserError(f"{path} is empty; {_WHAT}")
    if list_ctc_sequences(path):
        return "ctc"
    raise UserError(
        f"{path} is neither a tgan-aug store nor a CTC dataset (no NN_GT/TRA, NN_GT/SEG or NN_ST/SEG "
        f"folder with man_trackTTT.tif / man_segTTT.tif); {_WHAT}"
    )


def load_tracked(
    path: str | os.PathLike,
    *,
    sequence: str | None = None,
    images: bool = True,
    link: Literal["auto", "ids", "overlap"] = "auto",
    progress: bool = False,
) -> list[tuple[str, TrackedVideo | TrackedMasks]]:
    """Load tracked data from a store, a CTC folder or a TIFF pair.

    path: see the module docstring.
    sequence: one sequence name ("01" for CTC, "seq000" for a store); None = all.
    images: also read the images (CTC only; stores and pairs always return theirs).
    link: for TIFF pairs: "auto" | "ids" | "overlap" (see :func:`read_tiff_pair`).
    progress: progress bars while reading CTC frames.

    Returns [(name, TrackedVideo or TrackedMasks)], labels (T, Y, X) uint16, in name order.
    Raises UserError with one line naming the file and the fix for anything unreadable.
    """
    kind = describe_source(path)
    if kind == "tiff-pair":
        img, msk = split_pair(path) or (Path(), Path())
        if sequence not in (None, msk.stem):
            raise UserError(f"{path} is a TIFF pair (one sequence, {msk.stem!r}); drop --sequence {sequence}")
        return [(msk.stem, read_tiff_pair(img, msk, linked=link))]
    path = Path(path)
    if kind == "store":
        names = list_store_sequences(path)
        if not names:
            raise UserError(f"{path} holds no sequences; write one with import-ctc or write_store")
        if sequence is not None:
            if sequence not in names:
                raise UserError(f"{path} has no sequence {sequence!r}; it holds {', '.join(names)}")
            names = [sequence]
        return [(name, read_store(path, name)) for name in names]
    names = list_ctc_sequences(path)
    if sequence is not None:
        if sequence not in names:
            raise UserError(f"{path} has no annotated CTC sequence {sequence!r}; it holds {', '.join(names)}")
        names = [sequence]
    return [(name, read_ctc(path, sequence=name, images=images, progress=progress)) for name in names]


def load_masks(
    path: str | os.PathLike,
    *,
    sequence: str | None = None,
    link: Literal["auto", "ids", "overlap"] = "auto",
    progress: bool = False,
) -> list[tuple[str, TrackedMasks]]:
    """The tracked masks of every sequence at ``path``, as :func:`load_tracked` reads them, without images.

    One type whatever the source: ``[(name, TrackedMasks)]`` (CTC images are not read; a store's
    or TIFF pair's are dropped).
    """
    items = load_tracked(path, sequence=sequence, images=False, link=link, progress=progress)
    return [(name, item.masks if isinstance(item, TrackedVideo) else item) for name, item in items]


def ctc_layout_summary(path: str | os.PathLike, sequence: str) -> str:
    """e.g. ``01_GT/TRA + man_track.txt`` for the folder that :func:`read_ctc` uses."""
    return find_ctc(path, sequence=sequence, images=False).describe()
