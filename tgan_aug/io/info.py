"""What a dataset holds: the facts a person checks first (``tgan-aug info``)."""

from __future__ import annotations

import os
from typing import Any, Literal

import numpy as np

from masksynth.tracked import TrackedMasks, TrackedVideo, frame_ids
from tgan_aug.io.load import ctc_layout_summary, describe_source, load_tracked
from tgan_aug.io.store import list_store_sequences, open_store_sequence

__all__ = ["dataset_info", "summarize", "format_info"]


def summarize(
    data: TrackedVideo | TrackedMasks,
    *,
    image_dtype: str | None = None,
    intensity_range: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Facts about one sequence (JSON-serialisable).

    data: the sequence; for TrackedMasks, ``image_dtype``/``intensity_range`` may describe images
    kept elsewhere (a store's attributes).
    Keys: frames, height, width, label_dtype, image_dtype (None without images),
    intensity_range, cells_per_frame (list, one count per frame), cells_first, cells_last,
    cells_min, cells_max, cells_mean, tracks, divisions, mean_track_length (frames).
    """
    masks = data.masks if isinstance(data, TrackedVideo) else data
    if isinstance(data, TrackedVideo):
        image_dtype, intensity_range = str(data.images.dtype), data.intensity_range
    cpf = np.array([frame_ids(f).size for f in masks.labels], dtype=np.int64)
    lengths = masks.lineage[:, 2] - masks.lineage[:, 1] + 1
    return {
        "frames": masks.n_frames,
        "height": masks.shape[1],
        "width": masks.shape[2],
        "label_dtype": str(masks.labels.dtype),
        "image_dtype": image_dtype,
        "intensity_range": None if intensity_range is None else [float(v) for v in intensity_range],
        "cells_per_frame": cpf.tolist(),
        "cells_first": int(cpf[0]) if cpf.size else 0,
        "cells_last": int(cpf[-1]) if cpf.size else 0,
        "cells_min": int(cpf.min()) if cpf.size else 0,
        "cells_max": int(cpf.max()) if cpf.size else 0,
        "cells_mean": float(cpf.mean()) if cpf.size else 0.0,
        "tracks": masks.n_tracks,
        "divisions": masks.n_divisions,
        "mean_track_length": float(lengths.mean()) if lengths.size else 0.0,
    }


def _provenance_note(prov: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {prov[k]}" for k in ("format", "masks", "lineage", "linked") if k in prov)


def dataset_info(
    path: str | os.PathLike,
    *,
    sequence: str | None = None,
    link: Literal["auto", "ids", "overlap"] = "auto",
) -> list[dict[str, Any]]:
    """:func:`summarize` for every sequence at ``path`` (store, CTC folder or TIFF pair).

    Each dict also has ``path``, ``source`` ("store" | "ctc" | "tiff-pair"), ``sequence`` and
    ``annotation`` (CTC: which folder and lineage source was read; store/pair: provenance summary).
    The lineage is checked against the masks (CTC rules) in every case. For stores only the
    labels are read (image dtype and range come from the attributes).
    """
    source = describe_source(path)
    out = []
    if source == "store":
        names = list_store_sequences(path)
        if sequence is not None:
            names = [sequence]
        for name in names:
            seq = open_store_sequence(path, name)
            masks = TrackedMasks(np.asarray(seq.labels[...]), seq.lineage)  # validates
            facts: dict[str, Any] = {"path": str(path), "source": source, "sequence": name}
            facts["annotation"] = _provenance_note(seq.provenance)
            facts.update(summarize(masks, image_dtype=seq.attrs.get("image_dtype"), intensity_range=seq.intensity_range))
            out.append(facts)
        return out
    for name, data in load_tracked(path, sequence=sequence, link=link):
        facts = {"path": str(path), "source": source, "sequence": name}
        if source == "ctc":
            facts["annotation"] = ctc_layout_summary(path, name)
        else:
            facts["annotation"] = _provenance_note(data.provenance) if isinstance(data, TrackedVideo) else ""
        facts.update(summarize(data))
        out.append(facts)
    return out


def format_info(facts: dict[str, Any]) -> str:
    """Human-readable block for one sequence's facts (as printed by ``tgan-aug info``)."""
    head = f"{facts['path']}  [{facts['source']}, sequence {facts['sequence']}]"
    if facts.get("annotation"):
        head += f"  {facts['annotation']}"
    if facts["image_dtype"]:
        images = facts["image_dtype"]
        if facts["intensity_range"]:
            lo, hi = facts["intensity_range"]
            images += f" (values {lo:g}..{hi:g})"
    else:
        images = "none (masks only)"
    lines = [
        head,
        f"  frames             {facts['frames']}",
        f"  size (Y x X)       {facts['height']} x {facts['width']}",
        f"  images             {images}",
        f"  labels             {facts['label_dtype']}",
        f"  cells per frame    {facts['cells_first']} -> {facts['cells_last']} "
        f"(min {facts['cells_min']}, max {facts['cells_max']}, mean {facts['cells_mean']:.1f})",
        f"  tracks             {facts['tracks']}",
        f"  divisions          {facts['divisions']}",
        f"  mean track length  {facts['mean_track_length']:.2f} frames",
    ]
    return "\n".join(lines)

