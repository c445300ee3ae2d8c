"""Calibration: synthesis parameters measured on a real tracked sequence."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from masksynth.config import SynthConfig
from masksynth.shapes import ShapeBank
from masksynth.stats import sequence_stats, track_speeds
from masksynth.tracked import TrackedMasks
from masksynth.errors import UserError

__all__ = ["calibrate", "calibration_params"]


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


def calibration_params(masks: TrackedMasks) -> dict[str, Any]:
    """Measure the :class:`SynthConfig` fields that real data determines.

    masks: a real tracked sequence (labels (T, Y, X) uint16 + lineage).
    Returns a dict of SynthConfig fields: size, frames, cells (in frame 0), mean_area, area_cv,
    speed_mean, speed_cv, turn_sd, division_rate (hazard per eligible cell and frame),
    division_min_area, min_division_age, growth_rate.
    """
    if masks.n_frames < 2:
        raise UserError(f"calibration needs at least 2 frames, the sequence has {masks.n_frames}")
    st = sequence_stats(masks)
    if st["area"].size == 0:
        raise UserError("calibration needs cells: the sequence's labels are all background")
    t, h, w = masks.shape
    area = st["area"]
    out: dict[str, Any] = {
        "size": (h, w),
        "frames": t,
        "cells": int(np.count_nonzero(np.unique(masks.labels[0]))),
        "coverage": None,
        "mean_area": float(np.clip(area.mean(), 4, 1e5)),
        "area_cv": float(np.clip(area.std() / area.mean(), 0, 2)),
    }
    disp = st["displacement"]
    if disp.size:
        out["speed_mean"] = float(disp.mean())
        speeds = track_speeds(masks)  # per-track means: the between-cell spread that speed_cv models
        if speeds.size >= 3:
            out["speed_cv"] = float(np.clip(speeds.std() / max(speeds.mean(), 1e-6), 0.0, 1.5))
    turns = st["turning"]
    if turns.size >= 5:
        r = float(np.abs(np.exp(1j * turns).mean()))
        out["turn_sd"] = float(np.clip(math.sqrt(-2 * math.log(max(r, 1e-6))), 0.05, 3.0))
    # divisions: cycle length from tracks that start and end with a division
    lin = masks.lineage
    n_div_frames = float(st["cells_per_frame"][:-1].sum())
    n_div = 0
    if len(lin):
        parents, counts = np.unique(lin[lin[:, 3] > 0, 3], return_counts=True)
        mothers = set(parents[counts >= 2].tolist())
        n_div = len(mothers)
    if n_div == 0 or n_div_frames == 0:
        out["division_rate"] = 0.0
        return out
    rate_obs = n_div / n_div_frames
    cycle = [r[2] - r[1] + 1 for r in lin.tolist() if r[0] in mothers and r[3] > 0]
    mean_cycle = float(np.mean(cycle)) if len(cycle) >= 3 else 1.0 / rate_obs
    min_age = max(1, int(np.percentile(cycle, 10))) if len(cycle) >= 3 else max(1, int(0.5 * mean_cycle))
    # mothers' areas in their last frame: cells divide above the 10th percentile
    last_areas = []
    for tid in sorted(mothers):
        t_end = int(lin[lin[:, 0] == tid, 2][0])
        last_areas.append(int(np.count_nonzero(masks.labels[t_end] == tid)))
    min_area = float(max(2.0, np.percentile(last_areas, 10)))
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


def _circ_sd(angles: np.ndarray) -> float:
    r = float(np.abs(np.exp(1j * angles).mean())) if angles.size else 1.0
    return math.sqrt(-2 * math.log(min(max(r, 1e-6), 1.0)))


def calibrate(
    masks: TrackedMasks,
    *,
    base: SynthConfig | None = None,
    shapes: bool = True,
    refine: int = 1,
    seed: int = 0,
) -> tuple[SynthConfig, ShapeBank | None]:
    """A :class:`SynthConfig` (and a shape bank of the real cells) measured on a real sequence.

    masks: the real tracked sequence. base: config whose other fields are kept (default: the
    ``mid``/``flat`` preset). shapes: also return a :class:`ShapeBank` of the real cell shapes.
    refine: correction rounds: each synthesizes a sequence with the current parameters, measures
    it, and scales speed_mean and turn_sd by real/synthetic (collisions slow cells
    down and deflect them, so measured values are not the model's parameters). seed: for those.
    Returns (config, bank or None). Fields set: see :func:`calibration_params`.
    """
    from masksynth.synth import synthesize  # local: synth imports this package's modules

    base = base if base is not None else SynthConfig.preset("mid", "flat")
    params = calibration_params(masks)
    cfg = SynthConfig.from_dict({**base.to_dict(), **params})
    bank = ShapeBank.from_labels(masks.labels, source="calibration data") if shapes else None
    real = sequence_stats(masks)
    for k in range(refine):
        syn = sequence_stats(synthesize(cfg, seed=(seed, 1000 + k), shapes=bank))
        changes: dict[str, Any] = {}
        if real["displacement"].size and syn["displacement"].size and syn["displacement"].mean() > 1e-3:
            ratio = real["displacement"].mean() / syn["displacement"].mean()
            changes["speed_mean"] = cfg.speed_mean * float(np.clip(ratio, 0.5, 2.0))
        if real["turning"].size >= 5 and syn["turning"].size >= 5 and _circ_sd(syn["turning"]) > 1e-3:
            ratio = _circ_sd(real["turning"]) / _circ_sd(syn["turning"])
            changes["turn_sd"] = float(np.clip(cfg.turn_sd * np.clip(ratio, 0.5, 2.0), 0.01, 3.0))
        cfg = cfg.replace(**changes)
    return cfg, bank
