"""Statistics of a tracked mask sequence, and their side-by-side comparison (KS distance).

Every statistic is a 1D sample (one value per cell and frame, per step, per frame or per track),
so two sequences compare with the two-sample Kolmogorov-Smirnov distance (0 = same distribution,
1 = disjoint).
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import cv2
import numpy as np
from scipy import stats as sps

from masksynth.tracked import TrackedMasks

__all__ = [
    "sequence_stats", "compare_stats", "stats_table", "STAT_DOCS", "divisions_by_frame", "track_speeds",
    "consecutive_steps", "area_changes", "merge_stats", "last_frame_shapes", "elongation_from_moments",
    "colony_packing", "cell_frame_shapes", "frame_drift", "DRIFT_MIN_CELLS", "pair_gaps", "neighbour_gaps",
    "NEIGHBOUR_REACH",
]

#: two cells are neighbours when at most this many background pixels lie between their masks
#: (chessboard distance, :func:`pair_gaps`)
NEIGHBOUR_REACH = 4

#: statistic -> (unit, what one sample is)
STAT_DOCS: dict[str, tuple[str, str]] = {
    "area": ("px", "cell area, per cell and frame"),
    "elongation": ("ratio", "sqrt of the ratio of the principal second moments, per cell and frame"),
    "displacement": ("px/frame", "centroid displacement between consecutive frames, per cell and step"),
    "turning": ("rad", "change of direction between consecutive steps longer than 0.5 px"),
    "coverage": ("fraction", "fraction of pixels covered by cells, per frame"),
    "cells_per_frame": ("cells", "number of cells, per frame"),
    "division_rate": ("1/frame", "divisions in a frame / cells in the frame before, per frame"),
    "track_length": ("frames", "frames per track"),
}


def _frame_moments(frame: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """Per-id area, centroid (y, x) and second central moments of one (Y, X) frame."""
    flat = frame.ravel()
    idx = np.flatnonzero(flat)
    lab = flat[idx].astype(np.int64)
    w = frame.shape[1]
    y = (idx // w).astype(np.float64)
    x = (idx % w).astype(np.float64)
    area = np.bincount(lab, minlength=n).astype(np.float64)
    safe = np.maximum(area, 1)
    my = np.bincount(lab, weights=y, minlength=n) / safe
    mx = np.bincount(lab, weights=x, minlength=n) / safe
    dy, dx = y - my[lab], x - mx[lab]
    syy = np.bincount(lab, weights=dy * dy, minlength=n) / safe
    sxx = np.bincount(lab, weights=dx * dx, minlength=n) / safe
    sxy = np.bincount(lab, weights=dy * dx, minlength=n) / safe
    return area, my, mx, syy, sxx, sxy


def _centroids(frame: np.ndarray, n: int) -> np.ndarray:
    """(n, 2) float64 centroid (y, x) px of each id 0..n-1 in one (Y, X) frame; NaN for ids absent
    from it and for the background (id 0)."""
    area, my, mx, *_ = _frame_moments(frame, n)
    cur = np.where(area[:, None] > 0, np.stack([my, mx], axis=1), np.nan)
    cur[0] = np.nan
    return cur


def elongation_from_moments(syy: np.ndarray, sxx: np.ndarray, sxy: np.ndarray) -> np.ndarray:
    """sqrt of the ratio of the principal second moments (1 = round; 1 for degenerate shapes)."""
    tr = syy + sxx
    det = np.sqrt(np.maximum((syy - sxx) ** 2 + 4 * sxy**2, 0))
    l1, l2 = (tr + det) / 2, (tr - det) / 2
    return np.sqrt(l1 / np.maximum(l2, 1e-3)) * (l2 > 1e-3) + (l2 <= 1e-3) * 1.0


def last_frame_shapes(masks: TrackedMasks, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Area (px) and elongation of the tracks ``ids`` in their last frame: two (len(ids),) arrays."""
    lin = masks.lineage
    n = int(masks.labels.max()) + 1 if masks.labels.size else 1
    end = dict(zip(lin[:, 0].tolist(), lin[:, 2].tolist()))
    areas, elongs = np.zeros(len(ids)), np.ones(len(ids))
    by_frame: dict[int, list[int]] = {}
    for i, tid in enumerate(np.asarray(ids).tolist()):
        by_frame.setdefault(end[tid], []).append(i)
    for t, idx in by_frame.items():
        area, _, _, syy, sxx, sxy = _frame_moments(masks.labels[t], n)
        sel = np.asarray(ids)[idx]
        areas[idx] = area[sel]
        elongs[idx] = elongation_from_moments(syy[sel], sxx[sel], sxy[sel])
    return areas, elongs


def cell_frame_shapes(masks: TrackedMasks) -> dict[str, np.ndarray]:
    """One row per cell and frame: {"track": track id, "t": frame, "area": px, "elongation":
    ratio}, each (N,) (int64, int64, float64, float64), frames in order; what a cell's shape
    change along its track is measured on."""
    labels = masks.labels
    n = int(labels.max()) + 1 if labels.size else 1
    parts: dict[str, list[np.ndarray]] = {"track": [], "t": [], "area": [], "elongation": []}
    for t in range(labels.shape[0]):
        area, _, _, syy, sxx, sxy = _frame_moments(labels[t], n)
        ids = np.flatnonzero(area)
        ids = ids[ids > 0]
        parts["track"].append(ids.astype(np.int64))
        parts["t"].append(np.full(ids.size, t, np.int64))
        parts["area"].append(area[ids])
        parts["elongation"].append(elongation_from_moments(syy[ids], sxx[ids], sxy[ids]))
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}


def divisions_by_frame(masks: TrackedMasks) -> np.ndarray:
    """(T,) int64: number of divisions (mothers with >= 2 daughters) whose daughters start at t."""
    out = np.zeros(masks.n_frames, dtype=np.int64)
    lin = masks.lineage
    for p in masks.mothers().tolist():
        starts = lin[lin[:, 3] == p, 1]
        out[int(starts.min())] += 1
    return out


def track_speeds(masks: TrackedMasks) -> np.ndarray:
    """Mean centroid displacement per frame of each track with at least two frames (px/frame)."""
    labels = masks.labels
    n = int(labels.max()) + 1 if labels.size else 1
    total = np.zeros(n)
    steps = np.zeros(n)
    prev = None
    for t in range(labels.shape[0]):
        cur = _centroids(labels[t], n)
        if prev is not None:
            d = np.hypot(*(cur - prev).T)
            ok = ~np.isnan(d)
            total[ok] += d[ok]
            steps[ok] += 1
        prev = cur
    has = steps > 0
    return total[has] / steps[has]


def consecutive_steps(masks: TrackedMasks) -> np.ndarray:
    """(N, 2) float64: centroid displacements (px) of the same track in two consecutive steps
    (t-1 -> t, t -> t+1), one row per track and t; what a cell's speed persistence is measured on."""
    labels = masks.labels
    n = int(labels.max()) + 1 if labels.size else 1
    rows = []
    cents: list[np.ndarray] = []
    for t in range(labels.shape[0]):
        cur = _centroids(labels[t], n)
        cents.append(cur)
        if len(cents) == 3:
            a = np.hypot(*(cents[1] - cents[0]).T)
            b = np.hypot(*(cents[2] - cents[1]).T)
            ok = ~np.isnan(a) & ~np.isnan(b)
            rows.append(np.stack([a[ok], b[ok]], axis=1))
            cents.pop(0)
    return np.concatenate(rows) if rows else np.zeros((0, 2))


def area_changes(masks: TrackedMasks, *, within_track: bool = False) -> np.ndarray:
    """(N,) float64: log(area_t / area_t-1) of the same track in consecutive frames (how much a
    cell's area jitters and grows from frame to frame); with ``within_track``: instead, each
    cell-frame's log area minus its track's mean log area (how far areas wander)."""
    labels = masks.labels
    n = int(labels.max()) + 1 if labels.size else 1
    out, prev, logs = [], None, []
    for t in range(labels.shape[0]):
        area = np.bincount(labels[t].ravel(), minlength=n)[:n].astype(np.float64)
        area[0] = 0
        ids = np.flatnonzero(area)
        logs.append((ids, np.log(area[ids])))
        if prev is not None:
            ok = (area > 0) & (prev > 0)
            out.append(np.log(area[ok] / prev[ok]))
        prev = area
    if within_track:
        ids = np.concatenate([i for i, _ in logs]) if logs else np.zeros(0, np.int64)
        la = np.concatenate([v for _, v in logs]) if logs else np.zeros(0)
        mean = np.bincount(ids, weights=la, minlength=n) / np.maximum(np.bincount(ids, minlength=n), 1)
        return la - mean[ids]
    return np.concatenate(out) if out else np.zeros(0)


#: frame_drift: the fewest cells seen in both frames a frame's drift is measured from
DRIFT_MIN_CELLS = 10


def frame_drift(masks: TrackedMasks, *, min_cells: int = DRIFT_MIN_CELLS) -> np.ndarray:
    """How the whole field moves from frame to frame (stage drift, or the camera following a
    colony): (T - 1, 2) float64, row t - 1 = the median (per axis) of the centroid
    displacements (dy, dx) px of the tracks present in frames t - 1 and t; NaN where fewer than
    ``min_cells`` tracks are (a few cells' own motion is not the field's)."""
    labels = masks.labels
    n = int(labels.max()) + 1 if labels.size else 1
    out = np.full((max(labels.shape[0] - 1, 0), 2), np.nan)
    prev = None
    for t in range(labels.shape[0]):
        cur = _centroids(labels[t], n)
        if prev is not None:
            d = cur - prev
            d = d[~np.isnan(d[:, 0])]
            if len(d) >= min_cells:
                out[t - 1] = np.median(d, axis=0)
        prev = cur
    return out


def sequence_stats(masks: TrackedMasks, *, drift: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Measure a tracked sequence.

    masks: :class:`TrackedMasks` (labels (T, Y, X) uint16, lineage (N, 4)).
    drift: optional (T - 1, 2) px, the field's motion per frame (:func:`frame_drift`; NaN rows
    count as 0), taken out of every step first: displacement and turning then describe the
    cells' own motion.
    Returns {statistic: 1D float64 samples}; statistics and units in :data:`STAT_DOCS`.
    One pass over the frames with bincounts (no per-cell loops).
    """
    labels = masks.labels
    t_n, h, w = labels.shape
    n = int(labels.max()) + 1 if labels.size else 1
    areas, elong, disp, turns, cover, counts = [], [], [], [], [], []
    prev_c = None
    prev_d = None
    for t in range(t_n):
        area, my, mx, syy, sxx, sxy = _frame_moments(labels[t], n)
        present = area > 0
        ids = np.flatnonzero(present)
        ids = ids[ids > 0]
        areas.append(area[ids])
        elong.append(elongation_from_moments(syy[ids], sxx[ids], sxy[ids]))
        cover.append(float(area[1:].sum()) / (h * w))
        counts.append(float(ids.size))
        cur_c = np.full((n, 2), np.nan)
        cur_c[ids, 0], cur_c[ids, 1] = my[ids], mx[ids]
        cur_d = np.full((n, 2), np.nan)
        if prev_c is not None:
            d = cur_c - prev_c
            if drift is not None and not np.isnan(drift[t - 1, 0]):
                d = d - drift[t - 1]
            ok = ~np.isnan(d[:, 0])
            cur_d[ok] = d[ok]
            disp.append(np.hypot(d[ok, 0], d[ok, 1]))
            if prev_d is not None:
                both = ok & ~np.isnan(prev_d[:, 0])
                a, b = prev_d[both], d[both]
                long = (np.hypot(a[:, 0], a[:, 1]) > 0.5) & (np.hypot(b[:, 0], b[:, 1]) > 0.5)
                a, b = a[long], b[long]
                ang = np.arctan2(b[:, 0], b[:, 1]) - np.arctan2(a[:, 0], a[:, 1])
                turns.append((ang + math.pi) % (2 * math.pi) - math.pi)
        prev_c, prev_d = cur_c, cur_d
    divs = divisions_by_frame(masks).astype(np.float64)
    cpf = np.asarray(counts)
    rate = divs[1:] / np.maximum(cpf[:-1], 1) if t_n > 1 else np.zeros(0)
    lin = masks.lineage
    cat = lambda parts: np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)  # noqa: E731
    return {
        "area": cat(areas),
        "elongation": cat(elong),
        "displacement": cat(disp),
        "turning": cat(turns),
        "coverage": np.asarray(cover, dtype=np.float64),
        "cells_per_frame": cpf,
        "division_rate": rate,
        "track_length": (lin[:, 2] - lin[:, 1] + 1).astype(np.float64) if len(lin) else np.zeros(0),
    }


#: colony_packing: a cell is packed when another cell lies within this many pixels (chessboard)
PACKED_PX = 2


def colony_packing(masks: TrackedMasks) -> dict[str, float]:
    """Is this a packed, growing colony whose cells move because it pushes them?

    masks: labels (T, Y, X) uint16 + lineage. Returns {"packed": fraction of cell-frames whose
    cell has another cell within :data:`PACKED_PX` px (segmented neighbours in a colony are
    often 1-2 px apart), "radial": Spearman correlation, over all steps, of a cell's
    displacement (px/frame) with its distance from the centroid of the frame's cells (> 0:
    cells farther out move faster, as in an expanding colony)}; NaN where there is nothing to
    measure.
    """
    labels = masks.labels
    n = int(labels.max()) + 1 if labels.size else 1
    packed = cells = 0
    dist, disp = [], []
    prev = None
    kernel = np.ones((2 * PACKED_PX + 1,) * 2, np.uint8)
    for t in range(labels.shape[0]):
        f = labels[t]
        area, my, mx, *_ = _frame_moments(f, n)
        ids = np.flatnonzero(area)
        ids = ids[ids > 0]
        cells += ids.size
        hi = cv2.dilate(f, kernel)
        lo = cv2.erode(np.where(f > 0, f, np.iinfo(f.dtype).max).astype(f.dtype), kernel)
        fg = f > 0
        packed += np.unique(f[fg & ((hi != f) | (lo != f))]).size
        cur = np.stack([my, mx], axis=1)
        if prev is not None and ids.size >= 3:
            both = ids[prev[0][ids] > 0]
            centre = cur[ids].mean(axis=0)
            dist.append(np.hypot(*(cur[both] - centre).T))
            disp.append(np.hypot(*(cur[both] - prev[1][both]).T))
        prev = (area, cur)
    radial = float("nan")
    if dist and sum(d.size for d in dist) >= 10:
        with warnings.catch_warnings():  # constant input: NaN, said in the docstring
            warnings.simplefilter("ignore")
            radial = float(sps.spearmanr(np.concatenate(dist), np.concatenate(disp)).statistic)
    return {"packed": packed / cells if cells else float("nan"), "radial": radial}


def pair_gaps(frame: np.ndarray, *, reach: int = NEIGHBOUR_REACH) -> np.ndarray:
    """(Y, X) integer labels -> (N, 3) int64 rows ``a, b, gap`` (a < b): every pair of cells whose
    masks come within ``reach`` background pixels, with the gap between them (the chessboard distance
    between their nearest pixels minus one: 0 = they touch, 1 = one pixel of background between)."""
    lab = np.asarray(frame)
    if lab.ndim != 2:
        raise ValueError(f"pair_gaps: expected one (Y, X) frame, got shape {lab.shape}")
    h, w = lab.shape
    keys, gaps = [], []
    top = int(lab.max()) + 1 if lab.size else 1
    for d in range(1, reach + 2):  # every shift at chessboard distance d, one of each +- pair
        for dy in range(-d, d + 1):
            for dx in range(-d, d + 1):
                if max(abs(dy), abs(dx)) != d or (dy, dx) < (0, 0):
                    continue
                a = lab[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
                b = lab[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)]
                m = (a != 0) & (b != 0) & (a != b)
                if m.any():
                    pa, pb = a[m].astype(np.int64), b[m].astype(np.int64)
                    k = np.unique(np.minimum(pa, pb) * top + np.maximum(pa, pb))
                    keys.append(k)
                    gaps.append(np.full(k.size, d - 1, np.int64))
    if not keys:
        return np.zeros((0, 3), np.int64)
    k, g = np.concatenate(keys), np.concatenate(gaps)
    order = np.lexsort((g, k))  # by pair, smallest gap first
    k, g = k[order], g[order]
    first = np.r_[True, k[1:] != k[:-1]]
    return np.stack([k[first] // top, k[first] % top, g[first]], axis=1)


def neighbour_gaps(masks: TrackedMasks, *, pairs: str = "others", reach: int = NEIGHBOUR_REACH) -> np.ndarray:
    """(N,) int64: the gap (background px, :func:`pair_gaps`) between two neighbouring cells, one
    value per pair and frame. pairs: "all", "sisters" (the two daughters of one division) or
    "others" (every other pair: what a colony's cells keep between each other when they are not
    fresh daughters, who touch or lie 1-2 px apart where the mother was cut)."""
    if pairs not in ("all", "sisters", "others"):
        raise ValueError(f"pairs must be 'all', 'sisters' or 'others', got {pairs!r}")
    lin = masks.lineage
    parent = np.zeros(max(int(masks.labels.max()), int(lin[:, 0].max(initial=0))) + 1, np.int64)
    parent[lin[:, 0]] = lin[:, 3]
    out = []
    for frame in masks.labels:
        rows = pair_gaps(frame, reach=reach)
        if pairs != "all":
            pa, pb = parent[rows[:, 0]], parent[rows[:, 1]]
            sisters = (pa > 0) & (pa == pb)
            rows = rows[sisters if pairs == "sisters" else ~sisters]
        out.append(rows[:, 2])
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def merge_stats(parts: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Pool the samples of several sequences' statistics (same keys)."""
    keys = parts[0].keys() if parts else []
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0 or b.size == 0:
        return float("nan")
    with warnings.catch_warnings():  # "exact calculation unsuccessful" falls back to asymp: fine here
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(sps.ks_2samp(a, b).statistic)


def compare_stats(
    stats: Sequence[dict[str, np.ndarray]], *, names: Sequence[str] | None = None
) -> list[dict[str, object]]:
    """Compare sequences statistic by statistic against the first one.

    stats: outputs of :func:`sequence_stats` (the first is the reference, e.g. real data).
    Returns one row per statistic: {"statistic", "unit", "sources": [{"name", "n", "mean",
    "median", "ks"}]} where ``ks`` is the two-sample KS distance to the first source
    (``scipy.stats.ks_2samp``; 0 for the reference itself, NaN when a sample is empty).
    """
    names = list(names) if names is not None else [f"seq{i}" for i in range(len(stats))]
    if len(names) != len(stats):
        raise ValueError(f"names has {len(names)} entries for {len(stats)} statistics dicts")
    rows = []
    for key, (unit, _) in STAT_DOCS.items():
        ref = stats[0].get(key, np.zeros(0))
        sources = []
        for name, st in zip(names, stats):
            x = st.get(key, np.zeros(0))
            sources.append({
                "name": name,
                "n": int(x.size),
                "mean": float(x.mean()) if x.size else float("nan"),
                "median": float(np.median(x)) if x.size else float("nan"),
                "ks": _ks(ref, x),
            })
        rows.append({"statistic": key, "unit": unit, "sources": sources})
    return rows


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return "n/a"
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def stats_table(rows: list[dict[str, object]]) -> str:
    """Markdown table of :func:`compare_stats` rows: median (mean) per source, KS vs the first."""
    sources = rows[0]["sources"] if rows else []
    names = [s["name"] for s in sources]  # type: ignore[index]
    head = ["statistic", "unit"] + [f"{n} median (mean)" for n in names] + [f"KS {n}" for n in names[1:]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        srcs = row["sources"]  # type: ignore[assignment]
        cells = [str(row["statistic"]), str(row["unit"])]
        cells += [f"{_fmt(s['median'])} ({_fmt(s['mean'])})" for s in srcs]  # type: ignore[index]
        cells += [_fmt(s["ks"]) for s in srcs[1:]]  # type: ignore[index]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
