"""Track with a trackastra model folder (trackastra's format): greedy linking, CTC tracks out.

trackastra predicts an association probability for every pair of detections in consecutive
frames (averaged over the sliding windows that hold both); linking keeps the most probable
pairs first, each detection getting at most one predecessor and at most two successors
(``greedy``; one with ``greedy_nodiv``). Two settings decide which pairs may be linked:

- ``threshold``: the smallest probability a link may have. trackastra's ``track`` fixes 0.5;
  a model trained on little data is under-confident on crowded frames (on bacteria-phc test
  frames the median probability of a true link was 0.19 after 300 steps), and 0.5 leaves most
  cells unlinked. The default here, :data:`LINK_THRESHOLD`, is the one measured best in
  ``recipes/trackastra-credible``.
- ``max_distance``: the largest move between frames, pixels (trackastra: 256).

Shorthands over :data:`tgan_aug.trackers.TRACKERS` ``["trackastra"]``. Example::

    from tgan_aug.trackers.trackastra_predict import track_trackastra
    tracked = track_trackastra(images, segmentation, model="runs/trackastra")   # (T, Y, X) each
    write_ctc_results("RES", tracked)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from masksynth.tracked import TrackedMasks
from tgan_aug.trackers.registry import TRACKERS, Tracker

__all__ = ["LINK_THRESHOLD", "MAX_DISTANCE", "link_predictions", "load_trackastra", "track_trackastra"]

#: smallest association probability a link may have (trackastra's own ``track``: 0.5)
LINK_THRESHOLD = 0.1
#: largest move between consecutive frames, pixels (trackastra's default)
MAX_DISTANCE = 256.0

LinkMode = Literal["greedy", "greedy_nodiv"]


def link_predictions(predictions: dict[str, Any], *, mode: LinkMode = "greedy", threshold: float = LINK_THRESHOLD,
                     max_distance: float = MAX_DISTANCE, max_neighbors: int = 10):
    """Greedy links from trackastra's predictions (``Trackastra._predict``: ``nodes``, ``weights``).

    Candidate pairs are detections in consecutive frames at most ``max_distance`` pixels apart
    (the ``max_neighbors`` nearest per detection) with a predicted probability; pairs at or above
    ``threshold`` are taken in order of probability while feasible. Returns trackastra's solution
    graph (``networkx.DiGraph``, nodes with ``time`` and ``label``).
    """
    from tgan_aug.trackers.registry import import_trackastra

    import_trackastra()
    from trackastra.tracking.tracking import build_graph, track_greedy

    candidates = build_graph(nodes=predictions["nodes"], weights=predictions["weights"], use_distance=False,
                             max_distance=max_distance, max_neighbors=max_neighbors, delta_t=1)
    return track_greedy(candidates, allow_divisions=mode == "greedy", threshold=threshold)


def load_trackastra(model: str | Path, *, mode: LinkMode = "greedy", threshold: float | None = None,
                    max_distance: float | None = None, device: str = "cpu") -> Tracker:
    """Load a trackastra model folder (``config.yaml``, ``model.pt``, ``train_config.yaml``)."""
    options = {k: v for k, v in dict(threshold=threshold, max_distance=max_distance).items() if v is not None}
    return TRACKERS["trackastra"].load(model, device=device, mode=mode, **options)


def track_trackastra(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    model,
    mode: LinkMode = "greedy",
    threshold: float | None = None,
    max_distance: float | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> TrackedMasks:
    """Link per-frame detections with a trackastra model.

    images: (T, Y, X) intensities (normalised by trackastra, percentiles per frame).
    labels: (T, Y, X) integer label masks, ids per frame. model: a model folder path, a tracker
        from :func:`load_trackastra` or trackastra's own ``Trackastra`` (from ``Trackastra.from_folder``).
    mode, threshold, max_distance: linking (see the module docstring; None = the defaults).
    Returns :class:`TrackedMasks`; every detection kept (unlinked ones are tracks of their own).
    """
    options = {k: v for k, v in dict(threshold=threshold, max_distance=max_distance).items() if v is not None}
    if isinstance(model, (str, Path)):
        tracker = load_trackastra(model, mode=mode, device=device, **options)
    else:
        tracker = model if isinstance(model, Tracker) else TRACKERS["trackastra"](model, mode=mode, **options)
    return tracker.track(images, labels, progress=progress)
