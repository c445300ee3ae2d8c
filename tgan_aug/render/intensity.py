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
piecewise linear between matching quantiles, non-decreasing, and leaves the order of intensities
unchanged (what is darker stays darker). Everything here works in the generator's units ([-1, 1]
for lo..hi of :class:`~tgan_aug.training.data.ImageStats`); target quantiles beyond that range
stay beyond it until :meth:`ImageStats.denormalise` clips to the dtype.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from tgan_aug.errors import UserError

__all__ = ["IntensityMatch", "INTENSITY_MATCH_MODES", "CALIBRATION_FRAMES", "resolve_match", "target_quantiles",
           "calibration_indices", "fit_quantile_map", "apply_quantile_map"]

#: "auto": match when the checkpoint stores the training quantiles (else render unmatched);
#: "training": match, and fail for a checkpoint without them; "none": the generator's raw output
IntensityMatch = Literal["auto", "training", "none"]
INTENSITY_MATCH_MODES: tuple[str, ...] = ("auto", "training", "none")  # the first is the default
#: frames per sequence rendered first to estimate its intensity distribution
CALIBRATION_FRAMES = 8


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


def fit_quantile_map(source: np.ndarray, target_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The monotone map that sends the distribution of ``source`` onto quantiles ``target_q``.

    source: any-shaped float array (the calibration frames of one sequence); target_q: (N,)
    ascending quantiles at probabilities linspace(0, 1, N). Returns (xp, fp), both (N,) float64:
    source quantiles made strictly increasing (ties nudged by 1e-9 per step) and ``target_q``, for
    :func:`apply_quantile_map`.
    """
    target_q = np.asarray(target_q, dtype=np.float64)
    if target_q.ndim != 1 or target_q.size < 2 or np.any(np.diff(target_q) < 0) or not np.all(np.isfinite(target_q)):
        raise UserError("fit_quantile_map: target quantiles must be a finite, ascending 1-D array of >= 2 values")
    xs = np.asarray(source, dtype=np.float64).reshape(-1)
    if xs.size == 0:
        raise UserError("fit_quantile_map: no source intensities to fit the map on")
    xp = np.quantile(xs, np.linspace(0.0, 1.0, target_q.size))
    xp = np.maximum.accumulate(xp + np.arange(xp.size) * 1e-9)  # strictly increasing for np.interp
    return xp, target_q


def apply_quantile_map(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Apply a map from :func:`fit_quantile_map` to ``x`` (any shape): float32 of x's shape.

    Piecewise linear between the quantiles; values beyond the source's min/max go to the target's.
    """
    return np.interp(np.asarray(x, dtype=np.float64), xp, fp).astype(np.float32)
