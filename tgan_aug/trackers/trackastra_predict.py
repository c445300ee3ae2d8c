"""Track with a trackastra model folder (trackastra's format): greedy linking, CTC tracks out.

Example::

    from tgan_aug.trackers.trackastra_predict import track_trackastra
    tracked = track_trackastra(images, segmentation, model="runs/trackastra")   # (T, Y, X) each
    write_ctc_results("RES", tracked)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from masksynth.tracked import TrackedMasks
from tgan_aug.errors import UserError, require
from tgan_aug.trackers.ctc_results import links_to_tracked

__all__ = ["load_trackastra", "track_trackastra"]


def load_trackastra(model: str | Path, *, device: str = "cpu"):
    """Load a trackastra model folder (``config.yaml``, ``model.pt``, ``train_config.yaml``)
    with ``trackastra.model.Trackastra.from_folder``."""
    require("trackastra", "trackers")
    import logging

    from trackastra.model import Trackastra

    folder = Path(model)
    missing = [n for n in ("config.yaml", "model.pt", "train_config.yaml") if not (folder / n).is_file()]
    if missing:
        raise UserError(f"--model {folder} is not a trackastra model folder (missing {', '.join(missing)}); train one with tgan-aug train-tracker")
    out = Trackastra.from_folder(folder, device=str(device))
    logging.getLogger().setLevel(logging.WARNING)  # trackastra's import sets the root logger to INFO
    return out


def track_trackastra(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    model,
    mode: Literal["greedy", "greedy_nodiv"] = "greedy",
    device: str = "cpu",
    progress: bool = False,
) -> TrackedMasks:
    """Link per-frame detections with a trackastra model.

    images: (T, Y, X) intensities (normalised by trackastra, percentiles per frame).
    labels: (T, Y, X) integer label masks, ids per frame. model: a model folder path or a
        loaded ``Trackastra``. mode: greedy linking with or without divisions (no ILP solver).
    Returns :class:`TrackedMasks`; every detection is kept (unlinked ones are tracks of their own).
    """
    from tqdm import tqdm

    images = np.asarray(images)
    labels = np.asarray(labels)
    if labels.ndim != 3 or images.shape != labels.shape:
        raise UserError(f"images {images.shape} and labels {labels.shape} must both be (T, Y, X) of one shape")
    if mode not in ("greedy", "greedy_nodiv"):
        raise UserError(f"mode {mode!r}: choose greedy or greedy_nodiv")
    if labels.shape[0] < 2:
        raise UserError("tracking needs at least 2 frames")
    if not isinstance(model, (str, Path)):
        tracker = model
    else:
        tracker = load_trackastra(model, device=device)
    bar = tqdm if progress else (lambda it=None, *a, **k: it if it is not None else _Null())
    preds = tracker._predict(images.astype(np.float32), labels.astype(np.int32), progbar_class=bar)
    graph = tracker._track_from_predictions(preds, mode=mode)
    links = []
    for u, v in graph.edges:
        a, b = graph.nodes[u], graph.nodes[v]
        links.append(((int(a["time"]), int(a["label"])), (int(b["time"]), int(b["label"]))))
    return links_to_tracked(labels, links)


class _Null:
    def __iter__(self):
        return iter(())

    def set_description(self, *a, **k):
        pass
