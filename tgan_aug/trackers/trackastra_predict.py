"""Track with a trackastra model folder (trackastra's format): greedy linking, CTC tracks out.

Shorthands over :data:`tgan_aug.trackers.TRACKERS` ``["trackastra"]``. Example::

    from tgan_aug.trackers.trackastra_predict import track_trackastra
    tracked = track_trackastra(images, segmentation, model="runs/trackastra")   # (T, Y, X) each
    write_ctc_results("RES", tracked)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from masksynth.tracked import TrackedMasks
from tgan_aug.trackers.registry import TRACKERS, Tracker

__all__ = ["load_trackastra", "track_trackastra"]


def load_trackastra(model: str | Path, *, mode: Literal["greedy", "greedy_nodiv"] = "greedy", device: str = "cpu") -> Tracker:
    """Load a trackastra model folder (``config.yaml``, ``model.pt``, ``train_config.yaml``)."""
    return TRACKERS["trackastra"].load(model, device=device, mode=mode)


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
    labels: (T, Y, X) integer label masks, ids per frame. model: a model folder path, a tracker
        from :func:`load_trackastra` or trackastra's own ``Trackastra`` (from ``Trackastra.from_folder``). mode: greedy linking with or without divisions (no ILP solver).
    Returns :class:`TrackedMasks`; every detection kept (unlinked ones are tracks of their own).
    """
    if isinstance(model, (str, Path)):
        tracker = load_trackastra(model, mode=mode, device=device)
    else:
        tracker = model if isinstance(model, Tracker) else TRACKERS["trackastra"](model, mode=mode)
    return tracker.track(images, labels, progress=progress)
