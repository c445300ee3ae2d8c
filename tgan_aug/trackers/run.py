"""Track whole datasets from disk: read detections, run a registered tracker, write CTC results.

The one library call behind ``tgan-aug track``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from masksynth.tracked import TrackedVideo
from tgan_aug.errors import TganAugWarning, UserError
from tgan_aug.trackers.ctc_results import write_ctc_results
from tgan_aug.trackers.registry import get_tracker

__all__ = ["load_detections", "track_path"]


def load_detections(data: str | Path, *, sequence: str | None = None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Images and per-frame label masks to track: ``[(name, images (T, Y, X), labels (T, Y, X))]``.

    data: ``IMAGES.tif:MASKS.tif`` (masks need not be linked: any per-frame segmentation), a
    CTC dataset / sequence folder or a tgan-aug store (read with ``tgan_aug.io.load_tracked``;
    their label ids are ignored: the tracker only sees each frame's objects).
    """
    from tgan_aug.io import load_tracked, read_untracked_pair
    from tgan_aug.io.load import split_pair

    pair = split_pair(data)
    if pair is not None:
        images, labels = read_untracked_pair(*pair)
        return [(pair[1].stem, images, labels)]
    out = []
    for name, item in load_tracked(data, sequence=sequence):
        if not isinstance(item, TrackedVideo):
            raise UserError(f"{data} ({name}) has masks but no images; trackers need the images next to the masks")
        out.append((name, item.images, item.labels))
    return out


def track_path(
    data: str | Path,
    out_dir: str | Path,
    *,
    tracker: str = "btrack",
    model: str | Path | None = None,
    options: dict[str, Any] | None = None,
    sequence: str | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Track every sequence of ``data`` with a registered tracker and write CTC result folders.

    One sequence: ``out_dir`` itself gets ``maskTTT.tif`` + ``res_track.txt``; several:
    ``out_dir/<name>_RES/`` each. tracker: a name in :data:`tgan_aug.trackers.TRACKERS`; model
    and options: what its ``load`` takes (btrack: ``config``, ``search_radius``; trackastra: a
    model folder, ``mode``; deepsea: an optional fine-tuned folder, ``crop_size``, ``invert``).
    Returns the result folders.
    """
    from tqdm import tqdm

    kind = get_tracker(tracker)
    seqs = load_detections(data, sequence=sequence)
    loaded = kind.load(model, device=device, **(options or {}))
    out_dir = Path(out_dir)
    written = []
    for name, images, labels in tqdm(seqs, desc=f"tracking ({tracker})", disable=not progress or len(seqs) < 2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TganAugWarning)
            res = loaded.track(images, labels, progress=progress)
        for w in caught:
            named = issubclass(w.category, TganAugWarning)
            warnings.warn_explicit(f"sequence {name}: {w.message}" if named else w.message, w.category, w.filename, w.lineno)
        target = out_dir if len(seqs) == 1 else out_dir / f"{name}_RES"
        written.append(write_ctc_results(target, res, overwrite=overwrite))
    return written
