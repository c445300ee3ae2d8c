"""Tracking metrics through ``py-ctcmetrics`` (the CTC's own definitions), not re-implemented.

Which metrics and where they come from:

- ``TRA``, ``DET``, ``LNK``, ``AOGM*``: CTC acyclic-oriented-graph matching measures.
- ``MOTA`` (with ``TP``, ``FP``, ``FN``, ``IDSW``, ``Precision`` = TP / (TP + FP),
  ``Recall`` = TP / (TP + FN)): CLEAR-MOT, detections matched per frame as in CTC
  (a result mask matches a reference mask when it covers more than half of it).
- ``MT`` / ``ML``: mostly tracked / mostly lost, the fraction of reference tracks matched (by
  any result track) in >= 80 % / < 20 % of the frames where they exist (CLEAR-MOT /
  py-motmetrics definition, as in the paper's Tables 2-3). Computed here by
  :func:`mostly_tracked_lost`: py-ctcmetrics 1.3's ``MTML`` takes the maximum over a confusion
  row that includes the "unmatched" column, so a reference track missed in 90 % of its frames
  counts as mostly tracked there.
- ``IDF1``, ``HOTA`` (+ ``DetA``, ``AssA``...), ``CHOTA``; biological ``CT``, ``TF``, ``BC(i)``,
  ``CCA`` when the reference has divisions.
- ``BC(1)`` (default): division F1, CTC branching correctness with 1 frame tolerance: a predicted
  division matches a reference one when the parents' last frames differ by <= 1 frame and the parent
  and both children match there (CTC matching); ``tp_div(1)``, ``fp_div(1)``, ``fn_div(1)`` count them.
  None when the reference has no divisions (then ``fp_div(1)`` counts the false ones).

No ``SEG`` folder is needed: metrics are requested explicitly, so ``SEG`` is never asked for.
"""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from masksynth.tracked import TrackedMasks
from tgan_aug.errors import UserError, require

__all__ = [
    "DEFAULT_METRICS",
    "TABLE_KEYS",
    "resolve_gt_dir",
    "evaluate_ctc",
    "evaluate_tracked",
    "check_result_folder",
    "results_table",
    "mostly_tracked_lost",
]

#: py-ctcmetrics metric families requested by default (no SEG: needs no segmentation truth).
DEFAULT_METRICS: tuple[str, ...] = ("Valid", "DET", "TRA", "LNK", "MOTA", "IDF1", "HOTA", "CHOTA", "MTML", "BC(1)")
#: Columns of :func:`results_table` (paper Tables 2-4 first, then the CTC measures).
TABLE_KEYS: tuple[str, ...] = ("MOTA", "MT", "ML", "Precision", "Recall", "IDF1", "HOTA", "TRA", "DET", "LNK", "IDSW",
                               "BC(1)")


def resolve_gt_dir(path: str | Path) -> Path:
    """The folder holding ``TRA/man_track.txt`` for a ground-truth path given as the ``NN_GT``
    folder, its ``TRA`` subfolder, or a dataset folder with exactly one ``NN_GT``."""
    path = Path(path)
    if (path / "TRA" / "man_track.txt").is_file():
        return path
    if path.name == "TRA" and (path / "man_track.txt").is_file():
        return path.parent
    candidates = sorted(p for p in path.glob("*_GT") if (p / "TRA" / "man_track.txt").is_file()) if path.is_dir() else []
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        raise UserError(f"--gt {path} holds several ground truths ({names}); pass one of them")
    raise UserError(
        f"--gt {path}: no TRA/man_track.txt found; pass the CTC ground-truth folder (e.g. data/01_GT) "
        "that holds TRA/man_trackTTT.tif and TRA/man_track.txt"
    )


def mostly_tracked_lost(
    labels_ref: Sequence[Sequence[int]], mapped_ref: Sequence[Sequence[int]], *, high: float = 0.8, low: float = 0.2
) -> dict[str, float]:
    """Mostly tracked / mostly lost fractions of the reference tracks.

    labels_ref: per frame, the reference track ids present. mapped_ref: per frame, the
    reference ids matched to some result object (CTC matching). A track is mostly tracked when
    matched in >= ``high`` of its frames, mostly lost when matched in < ``low`` of them.
    Returns ``{"MT": fraction, "ML": fraction}`` (0 / 0 when there are no reference tracks).
    """
    present: dict[int, int] = {}
    matched: dict[int, int] = {}
    for ids, hits in zip(labels_ref, mapped_ref):
        for i in ids:
            present[int(i)] = present.get(int(i), 0) + 1
        for i in set(int(h) for h in hits):
            matched[i] = matched.get(i, 0) + 1
    if not present:
        return {"MT": 0.0, "ML": 0.0}
    ratios = np.array([matched.get(i, 0) / n for i, n in present.items()])
    return {"MT": float(np.mean(ratios >= high)), "ML": float(np.mean(ratios < low))}


def resolve_res_dir(path: str | Path, gt_dir: Path | None = None) -> Path:
    """The folder holding ``res_track.txt``: ``path`` itself, or, for the root folder that
    ``track`` writes for several sequences, its ``NN_RES`` subfolder matching ``gt_dir``'s
    ``NN_GT`` (or its only ``*_RES`` subfolder)."""
    path = Path(path)
    if (path / "res_track.txt").is_file():
        return path
    subs = sorted(p for p in path.glob("*_RES") if (p / "res_track.txt").is_file()) if path.is_dir() else []
    if gt_dir is not None and gt_dir.name.endswith("_GT"):
        match = path / f"{gt_dir.name[:-3]}_RES"
        if match in subs:
            return match
    if len(subs) == 1:
        return subs[0]
    if subs:
        names = ", ".join(p.name for p in subs)
        raise UserError(f"--res {path} holds several results ({names}); pass the one for --gt {gt_dir}, e.g. --res {subs[0]}")
    raise UserError(f"--res {path}: res_track.txt not found; pass a CTC result folder (maskTTT.tif + res_track.txt) "
                    "or the folder `track` wrote (with NN_RES subfolders)")


def _clean(value):
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if math.isnan(v) else v
    if isinstance(value, (np.integer, int, np.bool_)):
        return int(value)
    return value


def evaluate_ctc(gt: str | Path, res: str | Path, *, metrics: Sequence[str] = DEFAULT_METRICS) -> dict[str, float | int | None]:
    """Score a CTC result folder against CTC ground truth with ``py-ctcmetrics``.

    gt: ground-truth folder (``NN_GT``, its ``TRA``, or a dataset folder with one ``NN_GT``).
    res: result folder with ``maskTTT.tif`` and ``res_track.txt`` (same number of frames), or the
        folder ``track`` writes for several sequences (its ``NN_RES`` matching ``gt``'s ``NN_GT`` is used).
    metrics: py-ctcmetrics names (``TRA``, ``DET``, ``LNK``, ``MOTA``, ``IDF1``, ``HOTA``,
        ``MTML``, ``CHOTA``, ``CT``, ``TF``, ``BC``, ``CCA``, ``Valid``; ``SEG`` needs SEG truth).
    Returns a flat dict of floats/ints (``Valid`` = 1 for a valid result; 0 means the result
    breaks the CTC rules and the other entries are None).
    """
    require("ctc_metrics", "trackers")
    from ctc_metrics.scripts.evaluate import calculate_metrics, load_data

    gt_dir = resolve_gt_dir(gt)
    res_dir = resolve_res_dir(res, gt_dir)
    n_gt = len(list((gt_dir / "TRA").glob("man_track*.tif")))
    n_res = len(list(res_dir.glob("mask*.tif")))
    if n_gt != n_res:
        raise UserError(f"--res {res_dir} has {n_res} mask files but --gt {gt_dir} has {n_gt} frames; track the same sequence")
    metrics = list(metrics)
    want_mtml = "MTML" in metrics
    metrics = [m for m in metrics if m != "MTML"]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        comp, ref, traj, segm, _, is_valid = load_data(str(res_dir), str(gt_dir), True, "SEG" in metrics, threads=1)
        out = calculate_metrics(comp, ref, traj, segm, metrics, is_valid)
    out.setdefault("Valid", int(is_valid))
    if want_mtml and is_valid:
        out.update(mostly_tracked_lost(traj["labels_ref"], traj["mapped_ref"]))
    for family in ("BC",):  # request names whose values are reported under other keys
        if out.get(family) is None:
            out.pop(family, None)
    return {k: _clean(v) for k, v in out.items()}


def evaluate_tracked(
    gt: TrackedMasks, res: TrackedMasks, *, metrics: Sequence[str] = DEFAULT_METRICS
) -> dict[str, float | int | None]:
    """Score in-memory tracks (e.g. a tracker's output) against in-memory ground truth.

    gt, res: :class:`TrackedMasks` with the same (T, Y, X). Both are written to a temporary
    CTC layout and scored by :func:`evaluate_ctc`. A result without any object (py-ctcmetrics
    1.3 raises on an empty ``res_track.txt``) is scored here: nothing detected, MOTA 0, recall 0,
    MT 0, ML 1, precision undefined (None).
    """
    from tgan_aug.trackers.ctc_results import write_ctc_results, write_gt_tra

    if gt.shape != res.shape:
        raise UserError(f"ground truth {gt.shape} and result {res.shape} must have the same (T, Y, X)")
    if len(res.lineage) == 0:
        n_gt = int(sum(len(np.unique(f)) - 1 for f in gt.labels))
        return {"Valid": 1, "MOTA": 0.0, "TP": 0, "FP": 0, "FN": n_gt, "IDSW": 0, "Precision": None, "Recall": 0.0,
                "MT": 0.0, "ML": 1.0, "IDF1": 0.0, "DET": 0.0, "note": "no detections"}
    with tempfile.TemporaryDirectory(prefix="tgan_aug_eval_") as tmp:
        gt_dir = write_gt_tra(Path(tmp) / "GT", gt)
        res_dir = write_ctc_results(Path(tmp) / "RES", res)
        return evaluate_ctc(gt_dir, res_dir, metrics=metrics)


def check_result_folder(res: str | Path) -> None:
    """Validate a CTC result folder with ``py-ctcmetrics``' own checks (unique labels, parents
    end before children start, every track's label in its frames and no other...).

    Raises :class:`UserError` naming the folder when the result is not valid.
    """
    require("ctc_metrics", "trackers")
    from ctc_metrics.metrics import valid
    from ctc_metrics.utils.filesystem import parse_masks, read_tracking_file

    res_dir = resolve_res_dir(res)
    masks = parse_masks(str(res_dir))
    tracks = read_tracking_file(str(res_dir / "res_track.txt"))
    import tifffile

    labels = []
    for m in masks:
        ids = np.unique(tifffile.imread(m))
        labels.append(ids[ids > 0].tolist())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ok = valid(masks, tracks, labels)
    if not ok:
        why = "; ".join(str(w.message) for w in caught[:3]) or "py-ctcmetrics reported it invalid"
        raise UserError(f"{res_dir} is not a valid CTC result: {why}")


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def results_table(
    results: Mapping[str, float | int | None] | Sequence[tuple[str, Mapping[str, float | int | None]]],
    *,
    keys: Sequence[str] = TABLE_KEYS,
) -> str:
    """A Markdown table: one row per (name, results) pair (or one row for a single dict)."""
    rows = [("result", results)] if isinstance(results, Mapping) else list(results)
    keys = [k for k in keys if any(k in r for _, r in rows)]
    lines = ["| " + " | ".join(["sequence", *keys]) + " |", "|" + "---|" * (len(keys) + 1)]
    for name, r in rows:
        lines.append("| " + " | ".join([str(name), *(_fmt(r.get(k)) for k in keys)]) + " |")
    return "\n".join(lines)
