"""btrack on label masks with the configuration the project ships; CTC tracks out.

The configuration (``tgan_aug/trackers/configs/btrack_cells.json``) is a constant-velocity
Kalman motion model and a hypothesis model for 2D cells; its parameters are documented in the
file itself (keys starting with ``_``). btrack's own example configs are downloaded at run time,
so ``btrack.datasets`` is never imported.

Example::

    from tgan_aug.trackers.btrack_runner import track_btrack
    tracked = track_btrack(segmentation)            # (T, Y, X) per-frame label masks
    write_ctc_results("RES", tracked)
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from masksynth.tracked import TrackedMasks
from tgan_aug.errors import TganAugWarning, UserError, require
from tgan_aug.trackers._btrack_lib import ensure_btrack_library
from tgan_aug.trackers.ctc_results import Link, links_to_tracked
from tgan_aug.validation import validate_video

__all__ = [
    "DEFAULT_CONFIG",
    "load_btrack_config",
    "track_btrack",
    "search_btrack_params",
    "optimizer_status",
    "optimizer_warning",
]

#: The shipped configuration file (package data).
DEFAULT_CONFIG = "btrack_cells.json"


def load_btrack_config(path: str | Path | None = None, **overrides: Any) -> dict[str, Any]:
    """The btrack configuration as a dict (notes, keys starting with ``_``, removed).

    path: a btrack JSON config (new style, as the shipped one); None = the shipped config.
    overrides: top-level keys (``max_search_radius=30``) or nested ones with ``__``
        (``motion_model__max_lost=3``, ``hypothesis_model__lambda_link=5``).
    """
    if path is None:
        text = resources.files("tgan_aug.trackers").joinpath("configs", DEFAULT_CONFIG).read_text()
        where = DEFAULT_CONFIG
    else:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"btrack config {path} not found; pass a btrack JSON config or leave it out for the shipped one")
        text, where = path.read_text(), str(path)
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"btrack config {where} is not valid JSON ({exc})") from None
    if "TrackerConfig" in cfg:
        raise UserError(f"btrack config {where} is a legacy 'TrackerConfig' file; use the new flat layout of {DEFAULT_CONFIG}")
    cfg = _strip_notes(cfg)
    for key, value in overrides.items():
        parts = key.split("__")
        node = cfg
        for part in parts[:-1]:
            if part not in node or not isinstance(node[part], dict):
                raise UserError(f"btrack override {key!r}: {part!r} is not a section of the config")
            node = node[part]
        if parts[-1] not in node:
            raise UserError(f"btrack override {key!r}: unknown key {parts[-1]!r}; known: {', '.join(sorted(node))}")
        node[parts[-1]] = value
    return cfg


def _strip_notes(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _strip_notes(v) for k, v in d.items() if not k.startswith("_")}
    return d


def _objects(labels: np.ndarray, images: np.ndarray | None):
    """btrack objects from label masks; returns (objects, [(t, label)] per object).

    Centroids are intensity-weighted when ``images`` is given; a cell whose pixels are all 0
    has no weighted centroid (NaN, which makes btrack's C++ core abort), so then every centroid
    is taken from the masks alone.
    """
    from btrack.utils import segmentation_to_objects

    def make(intensity):
        # class_id = max label value under each connected object = the original label id
        return segmentation_to_objects(
            labels, intensity_image=intensity, properties=("area",), assign_class_ID=True, num_workers=1
        )

    with np.errstate(invalid="ignore", divide="ignore"):
        objects = make(images)
    if images is not None and not all(np.isfinite(o.x) and np.isfinite(o.y) for o in objects):
        objects = make(None)
    # a label split into several pieces gives several objects: keep the largest piece
    best: dict[tuple[int, int], int] = {}
    for i, obj in enumerate(objects):
        key = (int(obj.t), int(obj.properties["class_id"]))
        if key not in best or obj.properties["area"] > objects[best[key]].properties["area"]:
            best[key] = i
    keep = sorted(best.values())
    kept = [objects[i] for i in keep]
    for new_id, obj in enumerate(kept):
        obj.ID = new_id
    keys = [(int(o.t), int(o.properties["class_id"])) for o in kept]
    return kept, keys


def _links_from_tracks(tracks, keys: list[tuple[int, int]]) -> list[Link]:
    links: list[Link] = []
    first: dict[int, tuple[int, int]] = {}
    last: dict[int, tuple[int, int]] = {}
    for trk in tracks:
        real = [keys[o.ID] for o in trk._data if not o.dummy and o.ID >= 0]
        if not real:
            continue
        first[trk.ID], last[trk.ID] = real[0], real[-1]
        links.extend(zip(real[:-1], real[1:]))
    for trk in tracks:
        if trk.ID not in last:
            continue
        for child in trk.children:
            if child in first and first[child][0] > last[trk.ID][0]:
                links.append((last[trk.ID], first[child]))
    return links


def track_btrack(
    labels: np.ndarray,
    *,
    images: np.ndarray | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    search_radius: float | None = None,
    optimize: bool = True,
) -> TrackedMasks:
    """Track per-frame label masks with btrack.

    labels: (T, Y, X) integer label masks, 0 = background (ids per frame; they need not persist).
    images: optional (T, Y, X) intensities (only used for intensity-weighted centroids).
    config: a btrack JSON path, a config dict (as from :func:`load_btrack_config`), or None for
        the shipped ``btrack_cells.json``.
    search_radius: overrides ``max_search_radius`` (pixels per frame).
    optimize: run btrack's global hypothesis optimisation (divisions, gap closing; needs cvxopt).
    Returns :class:`TrackedMasks` (every detection kept; new track ids).
    """
    require("btrack", "trackers")
    btrack = ensure_btrack_library()
    images, labels = validate_video(images, labels, name="btrack input", images_optional=True)
    cfg = copy.deepcopy(dict(config)) if isinstance(config, Mapping) else load_btrack_config(config)
    if search_radius is not None:
        if search_radius <= 0:
            raise UserError(f"search_radius must be > 0 pixels, got {search_radius}")
        cfg["max_search_radius"] = float(search_radius)
    if not labels.any():
        return TrackedMasks(np.zeros(labels.shape, np.uint16), np.zeros((0, 4), np.int64))

    logging.getLogger("btrack").setLevel(logging.WARNING)
    objects, keys = _objects(labels, images)
    n_frames, height, width = labels.shape
    with btrack.BayesianTracker(verbose=False) as tracker:
        tracker.configure(cfg)
        tracker.append(objects)
        tracker.volume = ((0, width), (0, height), (-1e5, 1e5))
        tracker.track(step_size=100)
        if optimize and cfg.get("hypothesis_model"):
            with _btrack_log() as messages, _c_stdout_silenced():
                tracker.optimise()  # with the config's optimizer_options (optimize() would drop them)
            status = optimizer_status(messages)
            if status != "optimal":
                warnings.warn(optimizer_warning(status, cfg), TganAugWarning, stacklevel=2)
        tracks = list(tracker.tracks)
    return links_to_tracked(labels, _links_from_tracks(tracks, keys))


#: btrack's log line when GLPK stops without a proven optimum (btrack then discards the solution)
_STATUS_LINE = re.compile(r"Optimizer returned status: (.+)")


def optimizer_status(messages: Iterable[str]) -> str:
    """GLPK's status of btrack's global optimisation, read from btrack's log messages.

    btrack logs ``Optimizer returned status: STATUS`` (``feasible``: the time limit was reached
    before the optimum was proven; ``undefined``: no solution yet) and then discards the
    solution; a solved problem logs no such line. Returns STATUS, or ``"optimal"``.
    """
    for message in messages:
        found = _STATUS_LINE.search(message)
        if found:
            return found.group(1).strip()
    return "optimal"


def optimizer_warning(status: str, config: Mapping[str, Any]) -> str:
    """The one-line warning for a btrack optimisation that ended with ``status`` (not optimal):
    what the result lacks and how to fix it."""
    limit = (config.get("optimizer_options") or {}).get("tm_lim")
    reason = f", time limit {limit / 1000:g} s reached" if limit and status == "feasible" else ""
    shipped = resources.files("tgan_aug.trackers").joinpath("configs", DEFAULT_CONFIG)
    return (
        f"btrack: the optimizer did not find an optimal solution (GLPK status {status!r}{reason}), so divisions and "
        "track joins were not solved: the result keeps the unjoined tracklets of the frame-to-frame stage (no "
        f"divisions, more and shorter tracks). Fix: copy {shipped} and pass it with --config (config=...) with a larger "
        "optimizer_options.tm_lim (ms) or a smaller hypothesis_model.dist_thresh (px; fewer candidate links)"
    )


@contextlib.contextmanager
def _c_stdout_silenced() -> Iterator[None]:
    """Discard what C code writes to the process's stdout (file descriptor 1) while the block runs:
    GLPK prints its cut generators' progress ("Constructing conflict graph...") whatever its
    ``msg_lev``."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def _btrack_log() -> Iterator[list[str]]:
    """Collect btrack's log messages (WARNING and up) instead of printing them; yields the list."""
    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger("btrack")
    handlers, logger.handlers = logger.handlers, [_Collect()]
    try:
        yield messages
    finally:
        logger.handlers = handlers


def search_btrack_params(
    gt: TrackedMasks,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    images: np.ndarray | None = None,
    metric: str = "MOTA",
) -> tuple[dict[str, Any], list[tuple[dict[str, Any], float]]]:
    """Grid search of btrack parameters scored on training data with ground truth.

    gt: tracked ground truth of a training sequence; btrack sees its masks as per-frame
        detections and is scored against its tracks.
    grid: override name (as in :func:`load_btrack_config`) -> values; default searches
        ``max_search_radius`` and ``hypothesis_model__lambda_link``.
    metric: the py-ctcmetrics score to maximise (``MOTA``, ``TRA``, ``IDF1``, ``BC(1)`` (division
        F1), ...). A grid point whose optimisation is not proven optimal warns (see :func:`track_btrack`).
    Returns (best overrides, [(overrides, score)] for every grid point).
    """
    from tgan_aug.trackers.metrics import evaluate_tracked

    grid = dict(grid or {"max_search_radius": [20.0, 50.0, 100.0], "hypothesis_model__lambda_link": [5.0, 10.0, 25.0]})
    names = list(grid)
    scores: list[tuple[dict[str, Any], float]] = []
    for values in itertools.product(*(grid[n] for n in names)):
        overrides = dict(zip(names, values))
        res = track_btrack(gt.labels, images=images, config=load_btrack_config(None, **overrides))
        score = evaluate_tracked(gt, res, metrics=tuple(dict.fromkeys(("MOTA", "TRA", "IDF1", metric)))).get(metric)
        scores.append((overrides, float("nan") if score is None else float(score)))
    best = max(scores, key=lambda s: -np.inf if np.isnan(s[1]) else s[1])[0]
    return best, scores
