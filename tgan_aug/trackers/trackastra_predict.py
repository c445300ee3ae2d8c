"""Track with a trackastra model folder (trackastra's format): linking, CTC tracks out.

trackastra predicts an association probability for every pair of detections in consecutive
frames (averaged over the sliding windows that hold both); linking turns them into tracks, each
detection getting at most one predecessor and at most two successors. Three modes:

- ``greedy`` (default, no extra dependency): the most probable pairs first, while feasible. A
  detection's first successor needs ``threshold``; a second one (a division) needs
  ``division_threshold``.
- ``greedy_nodiv``: the same, never a division (for cells that do not divide in the movie).
- ``ilp``: trackastra's global integer linear program (``trackastra.tracking.ilp.track_ilp``),
  solved with ``motile`` and SCIP (``pip install 'tgan-aug[ilp]'``): 20-130 s for the 2844
  detections of bacteria-phc's test frames on one CPU thread (greedy: 0.1 s); it ignores the two
  thresholds. ``ilp_costs`` picks one of trackastra's cost sets (:data:`ILP_COSTS`): ``gt`` (the
  default; made for ground-truth detections: each link earns its probability, a track start
  costs 0.25, an end 0.5, a division 0.25), ``deepcell_gt`` (a division costs 1),
  ``deepcell_gt_tuned`` (a division 1, a start 0.5) or ``deepcell_res_tuned`` (made for
  segmented detections: a detection may stay unselected; here it is kept as a track of its own).
  On detections from a segmenter (bacteria-phc, ``recipes/end-to-end``) ``gt`` linked below
  btrack and ``deepcell_gt_tuned`` above it (RESULTS.md).

Settings of the greedy modes, measured in ``recipes/trackastra-credible`` (bacteria-phc, ground
truth detections):

- ``threshold``: the smallest probability a link may have. trackastra's ``track`` fixes 0.5;
  a model trained on little data is under-confident on crowded frames (on bacteria-phc test
  frames the median probability of a true link was 0.19 after 300 steps), and 0.5 leaves most
  cells unlinked. The default here is :data:`LINK_THRESHOLD`.
- ``division_threshold``: the smallest probability of a detection's second successor. At 0.1
  the greedy pass called about twice as many divisions as there are, and each false division
  ends a track (an identity switch); :data:`DIVISION_THRESHOLD` (trackastra's own link threshold)
  keeps their number near the true one.
- ``max_distance``: the largest move between frames, pixels (trackastra: 256).

Shorthands over :data:`tgan_aug.trackers.TRACKERS` ``["trackastra"]``. Example::

    from tgan_aug.trackers.trackastra_predict import track_trackastra
    tracked = track_trackastra(images, segmentation, model="runs/trackastra")   # (T, Y, X) each
    write_ctc_results("RES", tracked)
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any, Literal

import numpy as np

from masksynth.configbase import check_choice, choices_of
from masksynth.tracked import TrackedMasks
from tgan_aug.errors import require
from tgan_aug.trackers.registry import TRACKERS, Tracker

__all__ = ["DIVISION_THRESHOLD", "ILP_COSTS", "LINK_MODES", "LINK_THRESHOLD", "MAX_DISTANCE", "greedy_links",
           "link_predictions", "load_trackastra", "track_trackastra"]

#: smallest association probability a link may have (trackastra's own ``track``: 0.5)
LINK_THRESHOLD = 0.1
#: smallest probability of a detection's second successor, i.e. of a division (greedy modes)
DIVISION_THRESHOLD = 0.5
#: largest move between consecutive frames, pixels (trackastra's default)
MAX_DISTANCE = 256.0

LinkMode = Literal["greedy", "greedy_nodiv", "ilp"]
LINK_MODES: tuple[str, ...] = choices_of(LinkMode)
#: trackastra's ILP cost sets (``trackastra.tracking.ilp.ILP_CONFIGS``), see the module docstring
IlpCosts = Literal["gt", "deepcell_gt", "deepcell_gt_tuned", "deepcell_res_tuned"]
ILP_COSTS: tuple[str, ...] = choices_of(IlpCosts)


def greedy_links(candidates, *, threshold: float = LINK_THRESHOLD, division_threshold: float = DIVISION_THRESHOLD,
                 allow_divisions: bool = True):
    """Greedy linking of a candidate graph (``networkx.DiGraph``, edges with a ``weight`` in [0, 1]).

    Edges are taken in order of decreasing weight while feasible: the target has no predecessor
    yet; the source has no successor and the weight is >= ``threshold``, or it has one successor,
    divisions are allowed and the weight is >= ``division_threshold``. trackastra's own
    ``track_greedy`` is this with ``division_threshold == threshold``. Returns the solution graph
    (the linked nodes with their attributes, the kept edges).
    """
    import networkx as nx

    solution = nx.DiGraph()
    for u, v, attrs in sorted(candidates.edges(data=True), key=lambda e: e[2]["weight"], reverse=True):
        weight = attrs["weight"]
        if weight < threshold:
            break
        if solution.has_node(v) and solution.in_degree(v) > 0:
            continue
        successors = solution.out_degree(u) if solution.has_node(u) else 0
        if successors >= 2 or (successors == 1 and not (allow_divisions and weight >= division_threshold)):
            continue
        solution.add_node(u, **candidates.nodes[u])
        solution.add_node(v, **candidates.nodes[v])
        solution.add_edge(u, v, **attrs)
    return solution


def link_predictions(predictions: dict[str, Any], *, mode: LinkMode = "greedy", threshold: float = LINK_THRESHOLD,
                     division_threshold: float = DIVISION_THRESHOLD, max_distance: float = MAX_DISTANCE,
                     max_neighbors: int = 10, ilp_costs: IlpCosts = "gt"):
    """Links from trackastra's predictions (``Trackastra._predict``: ``nodes``, ``weights``).

    Candidate pairs are detections in consecutive frames at most ``max_distance`` pixels apart
    (the ``max_neighbors`` nearest per detection) with a predicted probability; ``mode`` links
    them (see the module docstring; the thresholds apply to the greedy modes, ``ilp_costs`` to
    ``ilp``). Returns
    trackastra's solution graph (``networkx.DiGraph``, nodes with ``time`` and ``label``).
    """
    from tgan_aug.trackers.registry import import_trackastra

    check_choice(mode, LinkMode, "mode")
    check_choice(ilp_costs, IlpCosts, "ilp_costs")
    import_trackastra()
    from trackastra.tracking.tracking import build_graph

    candidates = build_graph(nodes=predictions["nodes"], weights=predictions["weights"], use_distance=False,
                             max_distance=max_distance, max_neighbors=max_neighbors, delta_t=1)
    if mode != "ilp":
        return greedy_links(candidates, threshold=threshold, division_threshold=division_threshold,
                            allow_divisions=mode == "greedy")
    require("motile", "ilp")
    from trackastra.tracking.ilp import track_ilp

    if candidates.number_of_edges() == 0:  # nothing to solve (motile rejects an empty problem)
        return candidates
    with contextlib.redirect_stdout(io.StringIO()):  # track_ilp prints solver statistics
        return track_ilp(candidates, allow_divisions=True, ilp_config=ilp_costs)


def _given(**options: float | str | None) -> dict[str, float | str]:
    """The linking options that were set (None = the tracker's default)."""
    return {k: v for k, v in options.items() if v is not None}


def load_trackastra(model: str | Path, *, mode: LinkMode = "greedy", threshold: float | None = None,
                    division_threshold: float | None = None, max_distance: float | None = None,
                    ilp_costs: IlpCosts | None = None, device: str = "cpu") -> Tracker:
    """Load a trackastra model folder (``config.yaml``, ``model.pt``, ``train_config.yaml``)."""
    options = _given(threshold=threshold, division_threshold=division_threshold, max_distance=max_distance,
                     ilp_costs=ilp_costs)
    return TRACKERS["trackastra"].load(model, device=device, mode=mode, **options)


def track_trackastra(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    model,
    mode: LinkMode = "greedy",
    threshold: float | None = None,
    division_threshold: float | None = None,
    max_distance: float | None = None,
    ilp_costs: IlpCosts | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> TrackedMasks:
    """Link per-frame detections with a trackastra model.

    images: (T, Y, X) intensities (normalised by trackastra, percentiles per frame).
    labels: (T, Y, X) integer label masks, ids per frame. model: a model folder path, a tracker
        from :func:`load_trackastra` or trackastra's own ``Trackastra`` (from ``Trackastra.from_folder``).
    mode, threshold, division_threshold, max_distance, ilp_costs: linking (see the module docstring;
        None = the defaults).
    Returns :class:`TrackedMasks`; every detection kept (unlinked ones are tracks of their own).
    """
    options = _given(threshold=threshold, division_threshold=division_threshold, max_distance=max_distance,
                     ilp_costs=ilp_costs)
    if isinstance(model, (str, Path)):
        tracker = load_trackastra(model, mode=mode, device=device, **options)
    else:
        tracker = model if isinstance(model, Tracker) else TRACKERS["trackastra"](model, mode=mode, **options)
    return tracker.track(images, labels, progress=progress)
