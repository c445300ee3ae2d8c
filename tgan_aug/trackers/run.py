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


def load_detections(data: str | Path, *, sequence: str | None = None,
                    detections: str | Path | None = None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Images and per-frame label masks to track: ``[(name, images (T, Y, X), labels (T, Y, X))]``.

    data: ``IMAGES.tif:MASKS.tif`` (masks need not be linked: any per-frame segmentation), a
    CTC dataset / sequence folder or a tgan-aug store (read with ``tgan_aug.io.load_tracked``;
    their label ids are ignored: the tracker only sees each frame's objects).
    detections: a folder of ``maskTTT.tif`` (what ``tgan-aug segment`` writes) to use as the
    masks instead; ``data`` then only needs images (:func:`tgan_aug.io.images.read_image_sequences`),
    and for several sequences the masks of sequence NN are in ``detections/NN_RES``.
    """
    from tgan_aug.io import load_tracked, read_untracked_pair
    from tgan_aug.io.load import split_pair

    if detections is not None:
        return _images_with_detections(data, Path(detections), sequence=sequence)
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


def _images_with_detections(data: str | Path, detections: Path, *, sequence: str | None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    from tgan_aug.io.images import read_image_sequences, read_mask_folder

    seqs = read_image_sequences(data, sequence=sequence)
    out = []
    for name, images in seqs:
        folder = detections / f"{name}_RES" if len(seqs) > 1 or (detections / f"{name}_RES").is_dir() else detections
        labels = read_mask_folder(folder)
        if labels.shape != images.shape:
            raise UserError(f"--detections {folder} holds masks {labels.shape} but {data} ({name}) images are {images.shape}; "
                            "segment the same sequence (tgan-aug segment DATA -o DIR)")
        out.append((name, images, labels))
    return out


def track_path(
    data: str | Path,
    out_dir: str | Path,
    *,
    tracker: str = "btrack",
    model: str | Path | None = None,
    options: dict[str, Any] | None = None,
    sequence: str | None = None,
    detections: str | Path | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Track every sequence of ``data`` with a registered tracker and write CTC result folders.

    One sequence: ``out_dir`` itself gets ``maskTTT.tif`` + ``res_track.txt``; several:
    ``out_dir/<name>_RES/`` each. tracker: a name in :data:`tgan_aug.trackers.TRACKERS`; model
    and options: what its ``load`` takes (btrack: ``config``, ``search_radius``; trackastra: a
    model folder, ``mode``; deepsea: an optional fine-tuned folder, ``crop_size``, ``invert``).
    detections: a folder of per-frame masks (``tgan-aug segment`` output) to link instead of
    ``data``'s own masks (see :func:`load_detections`). Returns the result folders.
    """
    from tqdm import tqdm

    kind = get_tracker(tracker)
    seqs = load_detections(data, sequence=sequence, detections=detections)
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
