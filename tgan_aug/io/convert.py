"""Conversions between CTC folders and zarr stores (``tgan-aug import-ctc`` / ``export-ctc``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from masksynth.tracked import TrackedVideo
from tgan_aug.errors import UserError
from tgan_aug.io.ctc import _sequence_outputs, list_ctc_sequences, read_ctc, write_ctc
from tgan_aug.io.outputs import removed_on_failure
from tgan_aug.io.store import (
    _open_root,
    check_store_target,
    choose_sequences,
    is_store,
    list_store_sequences,
    open_store_sequence,
    write_store,
)

__all__ = ["export_ctc", "import_ctc"]

_NUMERIC = re.compile(r"^\d{2,}$")


def import_ctc(
    ctc_dir: str | os.PathLike,
    store: str | os.PathLike,
    *,
    sequence: str | None = None,
    gt: Literal["auto", "GT", "ST"] = "auto",
    kind: Literal["auto", "TRA", "SEG"] = "auto",
    overwrite: bool = False,
    append: bool = False,
    progress: bool = False,
) -> list[str]:
    """Copy CTC sequences into a zarr store; each keeps its CTC name ("01", "02", ...).

    ctc_dir: a CTC dataset folder (or one sequence's NN / NN_GT / NN_ST folder).
    store: the store folder (created when absent).
    sequence: import only this one; gt / kind: which annotation (see :func:`read_ctc`).
    overwrite: replace sequences that already exist in the store.
    append: add to an existing store that holds other sequences (refused without it or overwrite).
    Returns the names written. Existing names are checked before anything is read or written;
    if the import fails, the store (or folders) it created is removed.
    """
    ctc_dir, store = Path(ctc_dir), Path(store)
    if not ctc_dir.exists():
        raise UserError(f"{ctc_dir} does not exist; give a CTC dataset folder (holding NN/ and NN_GT/ or NN_ST/)")
    names = list_ctc_sequences(ctc_dir)
    if sequence is not None:
        if sequence not in names:
            raise UserError(f"{ctc_dir} has no annotated sequence {sequence!r}; it holds {', '.join(names) or 'none'}")
        names = [sequence]
    if not names:
        read_ctc(ctc_dir, images=False)  # raises the precise reason (empty, no annotations, ...)
        raise UserError(f"{ctc_dir} holds no annotated CTC sequence")
    check_store_target(store, append=append, overwrite=overwrite)
    if store.exists():
        _open_root(store, create=True)  # a non-store or newer-version path fails here, before reading
        existing = set(list_store_sequences(store)) if is_store(store) else set()
        clash = [n for n in names if n in existing]
        if clash and not overwrite:
            raise UserError(
                f"{store}: sequence {clash[0]!r} already exists; pass --overwrite to replace it"
            )
    written = []
    with removed_on_failure(store):
        for name in names:
            data = read_ctc(ctc_dir, sequence=name, gt=gt, kind=kind, progress=progress)
            provenance = None
            if not isinstance(data, TrackedVideo):
                provenance = {"source": str(ctc_dir), "format": "ctc", "sequence": name}
            write_store(store, data, name=name, overwrite=overwrite, provenance=provenance, progress=progress)
            written.append(name)
    return written


def _ctc_names(names: list[str]) -> dict[str, str]:
    """Store name -> CTC sequence: numeric names ("01") keep theirs, others get the next free number."""
    taken = {n for n in names if _NUMERIC.match(n)}
    out, k = {}, 1
    for name in names:
        if _NUMERIC.match(name):
            out[name] = name
            continue
        while f"{k:02d}" in taken:
            k += 1
        out[name] = f"{k:02d}"
        taken.add(out[name])
    return out


def export_ctc(
    store: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    sequences: list[str] | None = None,
    seg: bool = False,
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, str]:
    """Write store sequences as CTC sequences of one dataset folder, streaming frame by frame.

    store: a tgan-aug store; sequences: names to export (None = all).
    out_dir: the CTC dataset folder. Store names that are numbers ("01") keep them; others
        (seq000, ...) become 01, 02, ... in name order (skipping numbers already used).
    seg: also write NN_GT/SEG/man_segTTT.tif (same masks as TRA).
    overwrite: replace existing NN / NN_GT folders (checked for all before anything is written).
    Returns {store name: CTC sequence}.
    """
    store, out_dir = Path(store), Path(out_dir)
    names = choose_sequences(store, sequences)
    mapping = _ctc_names(names)
    opened = {name: open_store_sequence(store, name) for name in names}  # incomplete -> fails here
    if not overwrite:
        for ctc_name in mapping.values():
            for p in _sequence_outputs(out_dir, ctc_name):
                if p.exists():
                    raise UserError(f"{p} already exists; pass --overwrite to replace it")
    for name, seq in opened.items():
        try:
            write_ctc(out_dir, seq, sequence=mapping[name], seg=seg, overwrite=overwrite, progress=progress)
        except RuntimeError as exc:  # damaged zarr chunk (checksum / decode error)
            raise UserError(f"{store}/{name}: a chunk is unreadable ({exc}); write the sequence again") from None
    return mapping
