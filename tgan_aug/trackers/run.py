"""Track whole datasets from disk: read detections, run btrack, trackastra or DeepSea, write CTC results.

The one library call behind ``tgan-aug track``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from masksynth.tracked import TrackedVideo
from tgan_aug.errors import UserError
from tgan_aug.trackers.ctc_results import write_ctc_results

__all__ = ["load_detections", "track_path"]

Tracker = Literal["btrack", "trackastra", "deepsea"]


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
    tracker: Tracker = "btrack",
    model: str | Path | None = None,
    config: str | Path | None = None,
    search_radius: float | None = None,
    mode: str = "greedy",
    crop_size: int | None = None,
    invert: str | None = None,
    sequence: str | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Track every sequence of ``data`` and write CTC result folders.

    One sequence: ``out_dir`` itself gets ``maskTTT.tif`` + ``res_track.txt``; several:
    ``out_dir/<name>_RES/`` each. tracker ``btrack`` uses ``config`` (default: the shipped
    one) and ``search_radius``; ``trackastra`` needs ``model`` (a trackastra model folder, e.g.
    from ``tgan-aug train-tracker``) and links greedily (``mode`` greedy | greedy_nodiv);
    ``deepsea`` uses the weights the ``deepsea`` package ships, or ``model`` (a fine-tuned
    DeepSea folder from ``tgan-aug train-tracker --tracker deepsea``), with ``crop_size``
    overriding the network input size (128 published; 64 is ~6x faster on CPU) and ``invert``
    (``auto`` | ``yes`` | ``no``) the intensity inversion (default: the model's, ``auto``).
    Returns the result folders.
    """
    from tqdm import tqdm

    if tracker not in ("btrack", "trackastra", "deepsea"):
        raise UserError(f"--tracker {tracker!r}: choose btrack, trackastra or deepsea")
    if tracker == "trackastra" and model is None:
        raise UserError("--tracker trackastra needs --model DIR (a trackastra model folder; train one with tgan-aug train-tracker)")
    if tracker == "btrack" and model is not None:
        raise UserError("--model is for --tracker trackastra or deepsea; btrack takes --config JSON")
    if tracker != "btrack" and (config is not None or search_radius is not None):
        raise UserError(f"--config and --search-radius are for --tracker btrack, not {tracker}")
    if tracker != "deepsea" and (crop_size is not None or invert is not None):
        raise UserError(f"--crop-size and --invert are for --tracker deepsea, not {tracker}")
    if invert not in (None, "auto", "yes", "no"):
        raise UserError(f"--invert {invert!r}: choose auto, yes or no")
    seqs = load_detections(data, sequence=sequence)
    loaded = None
    if tracker == "trackastra":
        from tgan_aug.trackers.trackastra_predict import load_trackastra

        loaded = load_trackastra(model, device=device)
    elif tracker == "deepsea":
        from tgan_aug.trackers.deepsea_track import load_tracker

        flag = {None: None, "auto": "auto", "yes": True, "no": False}[invert]
        loaded = load_tracker(model, crop_size=crop_size, invert=flag, device=device)
    out_dir = Path(out_dir)
    written = []
    for name, images, labels in tqdm(seqs, desc=f"tracking ({tracker})", disable=not progress or len(seqs) < 2):
        if tracker == "btrack":
            from tgan_aug.trackers.btrack_runner import track_btrack

            res = track_btrack(labels, images=images, config=config, search_radius=search_radius)
        elif tracker == "deepsea":
            res = loaded.track(images, labels, progress=progress)
        else:
            from tgan_aug.trackers.trackastra_predict import track_trackastra

            res = track_trackastra(images, labels, model=loaded, mode=mode, device=device)
        target = out_dir if len(seqs) == 1 else out_dir / f"{name}_RES"
        written.append(write_ctc_results(target, res, overwrite=overwrite))
    return written
