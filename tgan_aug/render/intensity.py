"""Intensity matching: one monotone map per rendered sequence onto the training data's histogram.

Why (recipes/RESULTS.md, "Intensity fidelity"): on bacteria-phc the generator's frames have the
right structure but too wide an intensity distribution (halos around the colony too bright, dark
patches in the background), which costs histogram-W1, FID-DeepSea and the temporal log-ratios.
Mapping a sequence's rendered intensities onto the pooled intensity quantiles of the training
frames (stored in the checkpoint by training, ``ImageStats.quantiles``) fixes most of it. Measured
alternatives that did worse there: per-class targets (cell / background quantiles mixed by the
sequence's mask coverage: the held-out colony is denser than the training one and its classes
look different), and a calibration map "generator on the training masks -> training frames".

How: the map is estimated ONCE per sequence from ``CALIBRATION_FRAMES`` evenly spaced frames
(rendered first, each from its own mask) and applied to every frame, so it cannot flicker; it is
piecewise linear between ``MAP_KNOTS`` matching quantiles, non-decreasing, and leaves the order of
intensities unchanged (what is darker stays darker). Everything here works in the generator's units ([-1, 1]
for lo..hi of :class:`~tgan_aug.training.data.ImageStats`); target quantiles beyond that range
stay beyond it until :meth:`ImageStats.denormalise` clips to the dtype.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from tgan_aug.errors import UserError

__all__ = ["IntensityMatch", "INTENSITY_MATCH_MODES", "CALIBRATION_FRAMES", "MAP_KNOTS", "resolve_match", "target_quantiles",
           "calibration_indices", "fit_quantile_map", "apply_quantile_map"]

#: "auto": match when the checkpoint stores the training quantiles (else render unmatched);
#: "training": match, and fail for a checkpoint without them; "none": the generator's raw output
IntensityMatch = Literal["auto", "training", "none"]
INTENSITY_MATCH_MODES: tuple[str, ...] = ("auto", "training", "none")  # the first is the default
#: frames per sequence rendered first to estimate its intensity distribution
CALIBRATION_FRAMES = 8
#: knots of the map (quantiles at probabilities 0, 1/64, ..., 1). Through more knots the map
#: matches the histogram more closely but, with steeper local slopes, amplifies the frame-to-frame
#: jitter of cell brightness; through fewer it misses narrow histogram peaks. Shipped models on
#: their held-out frames (seed 0; knots 17 / 33 / 65 / 129 / 257, unmatched in brackets):
#: psc-phc flicker log-ratio 0.21 / 0.21 / 0.25 / 0.45 / 0.52 (0.14), hist-W1 0.0055 / 0.0043 /
#: 0.0035 / 0.0028 / 0.0032 (0.0031), FID-DeepSea 7.5 / 8.7 / 6.2 / 1.3 / 1.4 (10.6);
#: bacteria-phc flicker 0.066 / 0.066 / 0.064 / 0.071 / 0.077 (0.45), hist-W1 0.030 / 0.033 /
#: 0.033 / 0.032 / 0.032 (0.056), FID-DeepSea 8.4 / 8.9 / 8.7 / 8.6 / 8.5 (18.7).
MAP_KNOTS = 65


def resolve_match(mode: str, stats, *, source: str = "the checkpoint") -> bool:
    """Whether to match: ``mode`` ("auto" | "training" | "none") against what ``stats`` stores.

    Raises :class:`UserError` for an unknown mode, or for "training" when ``stats.quantiles`` is None.
    """
    if mode not in INTENSITY_MATCH_MODES:
        raise UserError(f"--intensity-match {mode!r}: choose one of {', '.join(INTENSITY_MATCH_MODES)}")
    has = getattr(stats, "quantiles", None) is not None
    if mode == "training" and not has:
        raise UserError(f"--intensity-match training: {source} stores no training intensity quantiles (trained "
                        "before they were stored); use --intensity-match auto or none, or retrain")
    return mode != "none" and has


def target_quantiles(stats) -> np.ndarray:
    """The training quantiles of ``stats`` (ImageStats) in generator units: (N,) float64, ascending.

    Linear in data units, not clipped: data unit ``lo`` -> -1, ``hi`` -> +1.
    """
    q = np.asarray(stats.quantiles, dtype=np.float64)
    return (q - stats.lo) / max(stats.hi - stats.lo, 1e-12) * 2.0 - 1.0


def calibration_indices(n_frames: int, k: int = CALIBRATION_FRAMES) -> np.ndarray:
    """Up to ``k`` evenly spaced frame indices of a sequence of ``n_frames`` (first and last included)."""
    if n_frames < 1:
        raise UserError(f"calibration_indices: a sequence needs at least one frame, got {n_frames}")
    return np.unique(np.linspace(0, n_frames - 1, min(k, n_frames)).round().astype(int))


def fit_quantile_map(source: np.ndarray, target_q: np.ndarray, *, knots: int = MAP_KNOTS) -> tuple[np.ndarray, np.ndarray]:
    """The monotone map that sends the distribution of ``source`` onto quantiles ``target_q``.

    source: any-shaped float array (the calibration frames of one sequence); target_q: (N,)
    ascending quantiles at probabilities linspace(0, 1, N); knots: quantiles the map passes through
    (probabilities linspace(0, 1, knots), see :data:`MAP_KNOTS`). Returns (xp, fp), both (knots,)
    float64: source quantiles made strictly increasing (ties nudged by 1e-9 per step) and the
    target's, for :func:`apply_quantile_map`.
    """
    target_q = np.asarray(target_q, dtype=np.float64)
    if target_q.ndim != 1 or target_q.size < 2 or np.any(np.diff(target_q) < 0) or not np.all(np.isfinite(target_q)):
        raise UserError("fit_quantile_map: target quantiles must be a finite, ascending 1-D array of >= 2 values")
    xs = np.asarray(source, dtype=np.float64).reshape(-1)
    if xs.size == 0:
        raise UserError("fit_quantile_map: no source intensities to fit the map on")
    if knots < 2:
        raise UserError(f"fit_quantile_map: knots must be >= 2, got {knots}")
    probs = np.linspace(0.0, 1.0, knots)  # (the target's probabilities are linspace(0, 1, N))
    fp = np.interp(probs, np.linspace(0.0, 1.0, target_q.size), target_q)
    xp = np.quantile(xs, probs)
    xp = np.maximum.accumulate(xp + np.arange(xp.size) * 1e-9)  # strictly increasing for np.interp
    return xp, fp


def apply_quantile_map(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Apply a map from :func:`fit_quantile_map` to ``x`` (any shape): float32 of x's shape.

    Piecewise linear between the quantiles; values beyond the source's min/max go to the target's.
    """
    return np.interp(np.asarray(x, dtype=np.float64), xp, fp).astype(np.float32)
