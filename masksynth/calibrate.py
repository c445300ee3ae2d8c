"""Calibration: synthesis parameters measured on a real tracked sequence."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from masksynth.config import SynthConfig
from masksynth.placement import min_gap_ok
from masksynth.shapes import ShapeBank
from masksynth.stats import (_ks, area_changes, cell_frame_shapes, colony_packing, consecutive_steps, frame_drift,
                             last_frame_shapes, merge_stats, sequence_stats, track_speeds)
from masksynth.tracked import TrackedMasks
from masksynth.wander import fit_score_walk
from masksynth.errors import UserError

__all__ = ["calibrate", "calibration_params", "QUANTILE_LEVELS"]

#: probabilities at which calibration stores measured distributions (SynthConfig *_quantiles)
QUANTILE_LEVELS = np.linspace(0.0, 1.0, 41)
#: fewest samples (steps, turns, complete cell cycles) a distribution is measured from
MIN_SAMPLES = 20
#: division sizes come from the mothers not cut by the frame's edge when at least this many are
MIN_WHOLE_MOTHERS = 3
#: refinement makes steps at most this much longer than measured
MAX_SPEEDUP = 1.25
#: ... and division sizes (area, elongation) at most this factor larger or smaller than measured
MAX_SIZE_CHANGE = 1.25
#: the division-size fields refinement corrects, with the bounds SynthConfig accepts
SIZE_FIELDS = {"division_area_quantiles": (2.0, 1e6), "division_elongation_quantiles": (1.0, 1e3)}
#: synthetic sequences pooled to judge (and correct) each candidate during refinement
EVAL_SEQUENCES = 2
#: a dividing colony is packed and pushed when at least this fraction of its cell-frames have
#: another cell within 2 px and displacement grows with the distance from the centre (rank
#: correlation at least PUSH_RADIAL); then cells push each other with PUSH_ITERATIONS sweeps
PUSH_PACKED = 0.5
PUSH_RADIAL = 0.2
PUSH_ITERATIONS = 12
#: a dividing sequence whose first-frame cells sit in one cluster (rms distance of their pixels
#: from their centre, per axis, at most this fraction of the shorter side) grows one colony from
#: them: the synthetic founders start as one colony where the real ones are (bacteria-phc 0.019,
#: PhC-C2DL-PSC 0.32)
FOUNDERS_CLUSTER = 0.1
#: the field drifts (drift_quantiles) when its median step is at least this many px per frame
#: (below a pixel it is not told apart from centroid jitter: PhC-C2DL-PSC 0.17, bacteria-phc 3.3)
DRIFT_MIN_PX = 1.0
#: ... and it jitters rather than flows: its mean step (a vector) is at most this fraction of its
#: median step length (bacteria-phc 0.21; cells all heading one way are their own motion)
DRIFT_MAX_FLOW = 0.5


def _quantiles(x: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in np.quantile(x, QUANTILE_LEVELS))


def _score_corr(pairs: np.ndarray, *, pooled: bool = True) -> float:
    """Correlation of the two columns of (N, 2) ``pairs`` as normal scores (rank-based), in
    [0, 0.95]; 0 with fewer than ``MIN_SAMPLES`` pairs. pooled: both columns are draws of one
    quantity (sisters' cycles, consecutive steps) and are ranked together; else each column
    is ranked on its own."""
    from scipy import stats as sps

    if len(pairs) < MIN_SAMPLES:
        return 0.0
    if pooled:
        ranks = sps.rankdata(pairs.ravel()).reshape(pairs.shape)
        z = sps.norm.ppf((ranks - 0.5) / ranks.size)
    else:
        z = sps.norm.ppf((sps.rankdata(pairs, axis=0) - 0.5) / len(pairs))
    if z[:, 0].std() == 0 or z[:, 1].std() == 0:  # a constant column (e.g. cells that never move)
        return 0.0
    r = float(np.corrcoef(z[:, 0], z[:, 1])[0, 1])
    return float(np.clip(r, 0.0, 0.95)) if math.isfinite(r) else 0.0


def _eligible_cell_frames(masks: TrackedMasks, *, min_area: float, min_age: int) -> int:
    """Cell-frames (all but the last frame) where a cell is at least ``min_area`` px large and
    ``min_age`` frames old (tracks present from frame 0 without a parent count as old)."""
    lin = masks.lineage
    n = int(lin[:, 0].max()) + 1 if len(lin) else 1
    start = np.zeros(n, np.int64)
    start[lin[:, 0]] = np.where((lin[:, 1] == 0) & (lin[:, 3] == 0), -(10**6), lin[:, 1])
    total = 0
    for t in range(masks.n_frames - 1):
        area = np.bincount(masks.labels[t].ravel(), minlength=n)[:n]
        ids = np.flatnonzero(area)
        ids = ids[ids > 0]
        total += int(np.count_nonzero((area[ids] >= min_area) & (t - start[ids] >= min_age)))
    return total


def _division_shapes(seqs: list[TrackedMasks]) -> tuple[np.ndarray, np.ndarray]:
    """Area (px) and elongation of every mother in its last frame, pooled over ``seqs`` (>= 1)."""
    areas, elongs = zip(*(last_frame_shapes(m, m.mothers()) for m in seqs))
    return np.concatenate(areas), np.concatenate(elongs)


def _founders_layout(masks: TrackedMasks) -> dict[str, Any]:
    """Placement of one colony grown from the first frame's cells, where they form one cluster
    (:data:`FOUNDERS_CLUSTER`): layout "colony", colonies 1, colony_sigma (their pixels' rms
    distance from their centre per axis, as a fraction of the shorter side) and colony_margin
    (their centre's distance from the nearest edge, as a fraction of that side). {} otherwise."""
    first = masks.labels[0]
    ys, xs = np.nonzero(first)
    if ys.size == 0:
        return {}
    h, w = first.shape
    spread = math.sqrt((ys.var() + xs.var()) / 2.0) / min(h, w)
    if spread > FOUNDERS_CLUSTER:
        return {}
    cy, cx = ys.mean() / h, xs.mean() / w
    return {"layout": "colony", "colonies": 1, "colony_sigma": float(max(spread, 1e-3)),
            "colony_margin": float(np.clip(min(cy, 1.0 - cy, cx, 1.0 - cx), 0.0, 0.5))}


def _division_delays(lin: np.ndarray, mothers: set[int]) -> dict[int, float]:
    """{mother id: frames its division came later than the mean of its generation in its lineage}.
    A generation: the mothers descended from the same first-frame or entering track through the
    same number of divisions; mothers alone in theirs are left out. lin: (N, 4) lineage rows."""
    parent = {int(r[0]): int(r[3]) for r in lin}
    end = {int(r[0]): int(r[2]) for r in lin}

    def root(i: int) -> tuple[int, int]:
        k = 0
        while parent.get(i, 0) > 0:
            i, k = parent[i], k + 1
        return i, k

    groups: dict[tuple[int, int], list[int]] = {}
    for i in mothers:
        groups.setdefault(root(i), []).append(i)
    return {i: end[i] - float(np.mean([end[j] for j in g])) for g in groups.values() if len(g) >= 2 for i in g}


def _cycle_catch_up(cycles: dict[int, int], parent: dict[int, int], delays: dict[int, float]) -> float:
    """cycle_catch_up: minus the slope of a cell's cycle length on its mother's division delay
    (:func:`_division_delays`), in [0, 0.95]; 0 with fewer than ``MIN_SAMPLES`` such cells.
    cycles: {track id: complete cycle length (frames)}; parent: {track id: mother id}."""
    pairs = np.array([(delays[parent[i]], c) for i, c in cycles.items() if parent[i] in delays], dtype=np.float64)
    if len(pairs) < MIN_SAMPLES or pairs[:, 0].std() == 0:
        return 0.0
    slope = float(np.polyfit(pairs[:, 0], pairs[:, 1], 1)[0])
    return float(np.clip(-slope, 0.0, 0.95)) if math.isfinite(slope) else 0.0


def _robust_sd(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def _area_wander(masks: TrackedMasks, d_log_area: np.ndarray) -> dict[str, float]:
    """Cells that do not grow: their log area as an AR(1) around a fixed size, fitted to the
    robust variances of its frame-to-frame changes (2 v (1 - phi)) and of its deviation from the
    track's mean (v); area_revert = 1 - phi, area_sd = the innovation sd."""
    if d_log_area.size < MIN_SAMPLES:
        return {}
    v = _robust_sd(area_changes(masks, within_track=True)) ** 2
    vd = _robust_sd(d_log_area) ** 2
    if v <= 1e-8:
        return {}
    revert = float(np.clip(vd / (2 * v), 0.05, 1.0))
    phi = 1.0 - revert
    return {"area_revert": revert, "area_sd": float(np.clip(math.sqrt(v * (1 - phi * phi)), 0.0, 0.2))}


def _shape_walks(masks: TrackedMasks) -> dict[str, Any]:
    """Cells that do not divide: their area and elongation as slow score walks
    (:mod:`masksynth.wander`): the per cell-frame quantiles and, fitted on the tracks, the share
    of variation each cell keeps and the lag-1 correlation of the rest."""
    rows = cell_frame_shapes(masks)
    out: dict[str, Any] = {}
    for name in ("area", "elongation"):
        fit = fit_score_walk(rows["track"], rows["t"], rows[name]) if rows[name].size >= MIN_SAMPLES else None
        if fit is not None:
            out[f"{name}_quantiles"] = _quantiles(rows[name])
            out[f"{name}_cell_share"], out[f"{name}_corr"] = fit
    return out


def _drift_quantiles(drift: np.ndarray) -> tuple[float, ...] | None:
    """Quantiles of the field's step length (px/frame) from its (T - 1, 2) steps
    (:func:`masksynth.stats.frame_drift`), or None when fewer than ``MIN_SAMPLES`` frames were
    measured, the median step is below :data:`DRIFT_MIN_PX` or the field flows one way (mean
    step longer than :data:`DRIFT_MAX_FLOW` x the median step length; synthesis draws drift in
    random directions)."""
    drift = drift[~np.isnan(drift[:, 0])]
    steps = np.hypot(drift[:, 0], drift[:, 1])
    if steps.size < MIN_SAMPLES:
        return None
    median = float(np.median(steps))
    if median < DRIFT_MIN_PX or float(np.hypot(*drift.mean(axis=0))) > DRIFT_MAX_FLOW * median:
        return None
    return _quantiles(steps)


def calibration_params(masks: TrackedMasks) -> dict[str, Any]:
    """Measure the :class:`SynthConfig` fields that real data determines.

    masks: a real tracked sequence (labels (T, Y, X) uint16 + lineage).
    Returns a dict of SynthConfig fields: size, frames, cells (in frame 0), mean_area, area_cv,
    shape_jitter (False: real shapes are drawn as they are), drift_quantiles (the field's motion
    per frame, :func:`_drift_quantiles`; when set, the step and turning statistics below are measured
    on the cells' own motion, the field's taken out), min_gap (0 when most frames have
    touching cells), enter_rate (tracks without a parent that start after frame 0, per frame),
    area_sd/area_revert/morph_prob (area jitter from the robust spread of the measured log-area
    changes: independent per frame, or for cells that never divide an AR(1) fitted to how far
    areas wander; no +-1 px morphology steps), for cells that never divide also their slow area
    and elongation change (area_quantiles, area_cell_share, area_corr and the same for elongation:
    :func:`_shape_walks`), speed_mean, speed_cv, turn_sd, division_rate (hazard per eligible cell
    and frame), division_min_area, min_division_age, growth_rate;
    and the measured distributions (quantiles at :data:`QUANTILE_LEVELS`):
    speed_quantiles (step length, px/frame) with speed_corr (lag-1 correlation of a cell's step
    lengths), turn_quantiles (absolute turning angle, rad), cycle_quantiles (frames from birth
    to division, from tracks that start and end with a division, with the part that makes up
    the mother's delay given back), division_area_quantiles and division_elongation_quantiles
    (mothers' areas (px) and elongations in their last frame) with cycle_catch_up (minus the
    slope of a cycle on the mother's delay against her generation, :func:`_cycle_catch_up`),
    cycle_sister_corr (correlation of sisters' cycle lengths) and cycle_size_corr (of a
    cell's cycle length and its division size, normal scores), each when at least
    ``MIN_SAMPLES`` values were measured; push_iterations (:data:`PUSH_ITERATIONS`) and
    push_contact (True) when the cells divide and form a packed colony that pushes them
    (:func:`masksynth.colony_packing`: packed >= :data:`PUSH_PACKED`, radial >= :data:`PUSH_RADIAL`);
    layout, colonies, colony_sigma and colony_margin when the cells divide and the first
    frame's cells form one cluster (:func:`_founders_layout`: the synthetic founders start where
    the real ones are, and the colony grows in the frame as the real one does).
    """
    if masks.n_frames < 2:
        raise UserError(f"calibration needs at least 2 frames, the sequence has {masks.n_frames}")
    st = sequence_stats(masks)
    if st["area"].size == 0:
        raise UserError("calibration needs cells: the sequence's labels are all background")
    field = frame_drift(masks)
    drift = _drift_quantiles(field)
    if drift is not None:  # the cells' own motion is what is left once the field's is taken out
        own = sequence_stats(masks, drift=field)
        st = {**st, "displacement": own["displacement"], "turning": own["turning"]}
    t, h, w = masks.shape
    area = st["area"]
    out: dict[str, Any] = {
        "size": (h, w),
        "frames": t,
        "cells": int(np.count_nonzero(np.unique(masks.labels[0]))),
        "coverage": None,
        "mean_area": float(np.clip(area.mean(), 4, 1e5)),
        "area_cv": float(np.clip(area.std() / area.mean(), 0, 2)),
        "shape_jitter": False,
        "drift_quantiles": drift,
    }
    # cells that touch in the data may touch in the synthesis (fewer blocked moves in colonies)
    busy = [f for f in masks.labels if np.count_nonzero(np.unique(f)) >= 2]
    if busy and sum(not min_gap_ok(f, 1) for f in busy) > len(busy) / 2:
        out["min_gap"] = 0
    # shape change from frame to frame: area jitter around the growth trend, no +-1 px steps
    # (one pixel of erosion or dilation changes a small cell's area by far more than measured)
    d_log_area = area_changes(masks)
    if d_log_area.size >= MIN_SAMPLES:
        out.update(area_revert=1.0, morph_prob=0.0, area_sd=float(np.clip(_robust_sd(d_log_area) / math.sqrt(2), 0.0, 0.2)))
    disp = st["displacement"]
    if disp.size >= MIN_SAMPLES:
        out["speed_quantiles"] = _quantiles(disp)
        out["speed_corr"] = _score_corr(consecutive_steps(masks))
    if disp.size:
        out["speed_mean"] = float(disp.mean())
        speeds = track_speeds(masks)  # per-track means: the between-cell spread that speed_cv models
        if speeds.size >= 3:
            out["speed_cv"] = float(np.clip(speeds.std() / max(speeds.mean(), 1e-6), 0.0, 1.5))
    turns = st["turning"]
    if turns.size >= 5:
        r = float(np.abs(np.exp(1j * turns).mean()))
        out["turn_sd"] = float(np.clip(math.sqrt(-2 * math.log(max(r, 1e-6))), 0.05, 3.0))
    if turns.size >= MIN_SAMPLES:
        out["turn_quantiles"] = _quantiles(np.abs(turns))
    lin = masks.lineage
    # cells entering the field of view: tracks without a parent that start after frame 0
    out["enter_rate"] = float(np.count_nonzero((lin[:, 1] > 0) & (lin[:, 3] == 0)) / (t - 1)) if len(lin) else 0.0
    # divisions: cycle length from tracks that start and end with a division
    n_div_frames = float(st["cells_per_frame"][:-1].sum())
    mothers = set(masks.mothers().tolist())
    n_div = len(mothers)
    if n_div == 0 or n_div_frames == 0:
        out["division_rate"] = 0.0
        out.update(_area_wander(masks, d_log_area))
        out.update(_shape_walks(masks))
        return out
    rate_obs = n_div / n_div_frames
    out.update(_founders_layout(masks))
    packing = colony_packing(masks)
    if packing["packed"] >= PUSH_PACKED and packing["radial"] >= PUSH_RADIAL:
        out["push_iterations"] = PUSH_ITERATIONS  # a growing colony that pushes its cells
        out["push_contact"] = True  # across the contacts: the colony stays packed
    cycle = [r[2] - r[1] + 1 for r in lin.tolist() if r[0] in mothers and r[3] > 0]
    mean_cycle = float(np.mean(cycle)) if len(cycle) >= 3 else 1.0 / rate_obs
    min_age = max(1, int(np.percentile(cycle, 10))) if len(cycle) >= 3 else max(1, int(0.5 * mean_cycle))
    if len(cycle) >= MIN_SAMPLES:
        length = {r[0]: r[2] - r[1] + 1 for r in lin.tolist() if r[0] in mothers and r[3] > 0}
        parent = {r[0]: r[3] for r in lin.tolist()}
        # daughters make up part of their mother's delay (division waves that stay in step); the
        # cycles drawn are the measured ones with that part given back
        delays = _division_delays(lin, mothers)
        catch_up = _cycle_catch_up(length, parent, delays)
        drawn = {i: c + catch_up * delays.get(parent[i], 0.0) for i, c in length.items()}
        out["cycle_catch_up"] = catch_up
        out["cycle_quantiles"] = _quantiles(np.asarray(list(drawn.values()), dtype=np.float64))
        sisters: dict[int, list[float]] = {}
        for i, c in drawn.items():
            sisters.setdefault(parent[i], []).append(c)
        out["cycle_sister_corr"] = _score_corr(np.array([v[:2] for v in sisters.values() if len(v) >= 2]).reshape(-1, 2))
    # mothers' areas in their last frame: cells divide above the 10th percentile. A mother cut by
    # the frame's edge shows only part of her (in a crop of a colony most mothers are), so the
    # sizes come from the whole mothers when there are MIN_WHOLE_MOTHERS of them
    ids = np.array(sorted(mothers), dtype=np.int64)
    last_areas, last_elong = last_frame_shapes(masks, ids)
    uncut = ~_cut_by_edge(masks, ids)
    if uncut.sum() < MIN_WHOLE_MOTHERS:
        uncut[:] = True
    min_area = float(max(2.0, np.percentile(last_areas[uncut], 10)))
    if len(cycle) >= MIN_SAMPLES:
        out["division_area_quantiles"] = _quantiles(last_areas[uncut])
        out["division_elongation_quantiles"] = _quantiles(last_elong[uncut])
        # a longer cycle ends larger: cycle length vs division size of the complete cycles
        size = dict(zip(sorted(mothers), last_areas.tolist()))
        whole = [size[r[0]] for r in lin.tolist() if r[0] in mothers and r[3] > 0]  # in the order of cycle
        out["cycle_size_corr"] = _score_corr(np.column_stack([cycle, whole]).astype(np.float64), pooled=False)
    # hazard = divisions per *eligible* cell-frame (old and large enough), as the model uses it
    eligible = _eligible_cell_frames(masks, min_area=min_area, min_age=min_age)
    hazard = n_div / eligible if eligible > 0 else rate_obs
    out["min_division_age"] = min_age
    out["division_min_area"] = min_area
    out["division_rate"] = float(np.clip(hazard, 0.0, 1.0))
    # cells double their area over one model cycle: min_age + 1/hazard frames on average
    model_cycle = min_age + 1.0 / max(out["division_rate"], 1e-3)
    out["growth_rate"] = float(np.clip(2.0 ** (1.0 / max(model_cycle, 1.0)) - 1.0, 0.0, 1.0))
    return out


def _cut_by_edge(masks: TrackedMasks, ids: np.ndarray) -> np.ndarray:
    """(len(ids),) bool: the track touches the frame's border in its last frame."""
    end = dict(zip(masks.lineage[:, 0].tolist(), masks.lineage[:, 2].tolist()))
    out = np.zeros(len(ids), dtype=bool)
    for i, tid in enumerate(np.asarray(ids).tolist()):
        f = masks.labels[end[tid]]
        out[i] = bool((f[0] == tid).any() or (f[-1] == tid).any() or (f[:, 0] == tid).any() or (f[:, -1] == tid).any())
    return out


def _circ_sd(angles: np.ndarray) -> float:
    r = float(np.abs(np.exp(1j * angles).mean())) if angles.size else 1.0
    return math.sqrt(-2 * math.log(min(max(r, 1e-6), 1.0)))


def _matched(model: tuple[float, ...], real_q: np.ndarray, syn: np.ndarray, hi: float) -> tuple[float, ...]:
    """Quantile mapping: shift each model quantile by (real - synthetic) at its probability, so
    what collisions and rasterisation add to the model's draws is taken back out. real_q: the
    real sample's quantiles at :data:`QUANTILE_LEVELS`; syn: the synthetic sample."""
    q = np.asarray(model) + real_q - np.quantile(syn, QUANTILE_LEVELS)
    return tuple(float(v) for v in np.maximum.accumulate(np.clip(q, 0.0, hi)))


def calibrate(
    masks: TrackedMasks,
    *,
    base: SynthConfig | None = None,
    shapes: bool = True,
    refine: int = 3,
    seed: int = 0,
) -> tuple[SynthConfig, ShapeBank | None]:
    """A :class:`SynthConfig` (and a shape bank of the real cells) measured on a real sequence.

    masks: the real tracked sequence. base: config whose other fields are kept (default: the
    ``mid``/``flat`` preset). shapes: also return a :class:`ShapeBank` of the real cell shapes.
    refine: correction rounds: each synthesizes a sequence with the current parameters, measures
    it and corrects the motion parameters by what the synthesis added (collisions slow cells
    down and deflect them; centroids of rasterised, changing shapes jitter): the step-length and
    turning quantiles by quantile mapping (each quantile shifted by real - synthetic), or, for
    data with too few steps, speed_mean and turn_sd scaled by real/synthetic; with measured cell
    cycles also the division sizes (area and elongation quantiles of the mothers' last frames),
    since growth blocked by neighbours in a packed colony ends cells smaller and stubbier than
    they aim for (within a factor :data:`MAX_SIZE_CHANGE` of the measured sizes). seed: for those.
    Returns (config, bank or None). Fields set: see :func:`calibration_params`.
    """
    from masksynth.synth import synthesize  # local: synth imports this package's modules

    base = base if base is not None else SynthConfig.preset("mid", "flat")
    params = calibration_params(masks)
    cfg = SynthConfig.from_dict({**base.to_dict(), **params})
    bank = ShapeBank.from_labels(masks.labels, source="calibration data") if shapes else None
    real = sequence_stats(masks)

    # the measured division-size quantiles are the real mothers' (calibration_params)
    sizes = cfg.division_area_quantiles is not None and cfg.division_elongation_quantiles is not None

    def corrected(c: SynthConfig, syn: dict[str, np.ndarray], syn_div: tuple[np.ndarray, np.ndarray] | None) -> SynthConfig:
        changes: dict[str, Any] = {}
        if syn_div is not None and syn_div[0].size >= MIN_SAMPLES:
            for j, (name, (lo, hi)) in enumerate(SIZE_FIELDS.items()):
                measured = np.asarray(getattr(cfg, name))
                q = _matched(getattr(c, name), measured, syn_div[j], hi)
                bounds = np.maximum(measured / MAX_SIZE_CHANGE, lo), np.minimum(measured * MAX_SIZE_CHANGE, hi)
                changes[name] = tuple(np.clip(q, *bounds).tolist())  # non-decreasing: so are both bounds
        r_disp, s_disp = real["displacement"], syn["displacement"]
        # steps never grow beyond MAX_SPEEDUP x the measured ones: where collisions block
        # moves (a packed colony), faster cells would only be right while the colony stays packed
        if c.speed_quantiles is not None and s_disp.size >= MIN_SAMPLES:
            q = _matched(c.speed_quantiles, np.quantile(r_disp, QUANTILE_LEVELS), s_disp, 1e4)
            changes["speed_quantiles"] = tuple(np.minimum(q, MAX_SPEEDUP * np.asarray(cfg.speed_quantiles) + 0.5).tolist())
        elif r_disp.size and s_disp.size and s_disp.mean() > 1e-3:
            ratio = r_disp.mean() / s_disp.mean()
            changes["speed_mean"] = min(c.speed_mean * float(np.clip(ratio, 0.5, 2.0)), MAX_SPEEDUP * cfg.speed_mean)
        r_turn, s_turn = real["turning"], syn["turning"]
        if c.turn_quantiles is not None and s_turn.size >= MIN_SAMPLES:
            changes["turn_quantiles"] = _matched(c.turn_quantiles, np.quantile(np.abs(r_turn), QUANTILE_LEVELS),
                                                 np.abs(s_turn), math.pi)
        elif r_turn.size >= 5 and s_turn.size >= 5 and _circ_sd(s_turn) > 1e-3:
            ratio = _circ_sd(r_turn) / _circ_sd(s_turn)
            changes["turn_sd"] = float(np.clip(c.turn_sd * np.clip(ratio, 0.5, 2.0), 0.01, 3.0))
        return c.replace(**changes)

    if refine <= 0:
        return cfg, bank
    # two chains of candidates, each corrected round by round: the measured distributions, and
    # the parametric model (speed_mean/speed_cv, turn_sd), which wins where blocked moves in a
    # crowded colony make quantile mapping drift; the candidate whose synthetic displacement and
    # turning are closest to the real ones (summed KS distances) is returned
    chains = [cfg, cfg.replace(speed_quantiles=None, turn_quantiles=None)]
    if cfg.speed_quantiles is None and cfg.turn_quantiles is None:
        chains = chains[:1]
    # judged on what is corrected: motion, and with division sizes corrected the shapes too
    judged = ("displacement", "turning") + (("area", "elongation") if sizes else ())
    best = (math.inf, cfg)
    for c in chains:
        for r in range(refine + 1):
            # the same seeds for every candidate (common random numbers), two sequences pooled:
            # a colony grown from a few cells varies a lot from one sequence to the next
            seqs = [synthesize(c, seed=(seed, 1000 + j), shapes=bank) for j in range(EVAL_SEQUENCES)]
            syn = merge_stats([sequence_stats(m) for m in seqs])
            score = sum(_ks(real[n], syn[n]) for n in judged if real[n].size and syn[n].size)
            if score < best[0]:
                best = (score, c)
            if r < refine:
                c = corrected(c, syn, _division_shapes(seqs) if sizes else None)
    return best[1], bank
