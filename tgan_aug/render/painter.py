"""Rendering with the non-learned painter: get a fit (from data or a saved file), paint into a store.

The painter (:mod:`tgan_aug.baselines.painter`) is the second renderer behind ``tgan-aug render``
(``--renderer painter --fit DATA_OR_FILE``): same input (tracked masks), same output (a zarr store
with images, labels, lineage and provenance, optional CTC folders), no model and no torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from tgan_aug.baselines.painter import PainterParams, fit_painter, load_painter, paint_frames, save_painter
from tgan_aug.errors import UserError
from tgan_aug.hashing import file_sha256

__all__ = ["painter_fit", "save_painter_fit", "paint_to_store"]


def painter_fit(spec: str | Path, *, sequence: str | None = None) -> tuple[PainterParams, dict[str, Any]]:
    """The painter fit named by ``spec`` (the ``--fit`` value) and a description for provenance.

    spec: a saved fit (``.npz`` from :func:`~tgan_aug.baselines.painter.save_painter`) or real data
        with images (CTC folder, store or IMAGES.tif:MASKS.tif), fitted on the spot (seconds).
    sequence: with data, fit on this sequence only (default: all sequences that have images).
    Returns (params, {"painter_fit": spec, "painter_fit_sha256" or "painter_fitted_on": [...]}).
    """
    from tgan_aug.io import load_tracked
    from tgan_aug.io.load import split_pair

    text = str(spec)
    path = Path(text)
    if path.is_file() and path.suffix == ".npz":
        return load_painter(path), {"painter_fit": text, "painter_fit_sha256": file_sha256(path)}
    if not path.exists() and split_pair(text) is None:
        raise UserError(f"--fit {text}: no such file or folder; give real data (CTC folder, store, "
                        "IMAGES.tif:MASKS.tif) or a fit saved with 'tgan-aug fit-painter'")
    items = load_tracked(text, sequence=sequence)
    videos = [(name, v) for name, v in items if hasattr(v, "images")]
    if not videos:
        raise UserError(f"--fit {text}: holds masks but no images; the painter fits on real images with their masks")
    params = fit_painter([v for _, v in videos])
    params.extra["fitted_on"] = {"source": text, "sequences": [name for name, _ in videos]}
    return params, {"painter_fit": text, "painter_fitted_on": [name for name, _ in videos]}


def save_painter_fit(data: str | Path, out: str | Path, *, sequence: str | None = None, overwrite: bool = False) -> Path:
    """Fit the painter on ``data`` (see :func:`painter_fit`) and save it at ``out`` (``.npz``); returns the path."""
    target = Path(out) if str(out).endswith(".npz") else Path(f"{out}.npz")
    if target.exists() and not overwrite:
        raise UserError(f"-o {target} exists; pass --overwrite to replace it")
    if Path(str(data)).suffix == ".npz":
        raise UserError(f"DATA {data} is already a painter fit; fit-painter fits on real data (CTC folder, store, IMAGES.tif:MASKS.tif)")
    params, _ = painter_fit(data, sequence=sequence)
    return save_painter(params, target)


def paint_to_store(
    params: PainterParams,
    items: list[tuple[str, Any]],
    out: str | Path,
    *,
    seed: int = 0,
    overwrite: bool = False,
    frame_batch: int = 8,
    provenance: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Paint tracked masks and stream them into a zarr store, one group per sequence.

    items: [(name, TrackedMasks or TrackedVideo)] (a video's images are ignored); labels
        (T, Y, X) uint16 and lineage pass through unchanged.
    seed: run seed; each sequence paints with :func:`~tgan_aug.render.shard.sequence_seed` (seed, name),
        so shards and batches do not change the result.
    frame_batch: frames written to the store at once.
    provenance: extra fields recorded with each sequence. progress: called with the number of frames
        written after each chunk.
    A sequence is marked complete only after all its frames are written. Returns the names written.
    """
    from tgan_aug.io.store import StoreWriter
    from tgan_aug.render.shard import sequence_seed

    written = []
    for name, data in items:
        masks = getattr(data, "masks", data)
        s = sequence_seed(seed, str(name))
        prov = {**(provenance or {}), "renderer": "painter", "painter_version": params.version,
                "seed": int(seed), "sequence_seed": int(s), "sequence": str(name)}
        with StoreWriter(out, str(name), shape=masks.labels.shape, image_dtype=params.dtype,
                         intensity_range=params.intensity_range, provenance=prov, overwrite=overwrite) as writer:
            chunk: list[np.ndarray] = []
            for t, frame in enumerate(paint_frames(masks.labels, params, lineage=masks.lineage, seed=s)):
                chunk.append(frame)
                if len(chunk) == frame_batch or t == masks.labels.shape[0] - 1:
                    t0 = t + 1 - len(chunk)
                    writer.write_frames(t0, masks.labels[t0 : t + 1], np.stack(chunk))
                    if progress is not None:
                        progress(len(chunk))
                    chunk = []
            writer.finalize(masks.lineage)
        written.append(str(name))
    return written
