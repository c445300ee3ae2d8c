"""Slow shape change: a cell's area or elongation as a latent AR(1) score mapped through measured quantiles.

A cell's score at frame t is ``z_t = m + e_t``: ``m`` (variance ``share``) stays with the cell,
``e_t`` (variance ``1 - share``) is an AR(1) with lag-1 correlation ``corr``. Scores stay standard
normal at every frame (when cells start from shapes distributed like the quantiles, as
calibration's bank of the real cells is), so the value ``Q(Phi(z_t))`` (Q: the measured quantiles) has the measured
per cell-frame distribution whatever ``share`` and ``corr`` are; they only set how the variation
splits between cells and along a track, and how fast it changes. A cell that starts from a shape
with value x starts at the score of x (no jump in its first frame).

:func:`fit_score_walk` measures ``share`` and ``corr`` on real tracks from the variogram of their
scores, which (unlike the spread around each track's mean) is not biased by short tracks.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri

__all__ = ["quantile_draw", "score_of", "value_of", "prob_of", "score_at", "start_walk", "step_walk", "fit_score_walk",
           "MAX_LAG"]

#: variogram lags (frames) that :func:`fit_score_walk` fits
MAX_LAG = 15
_SQRT2 = math.sqrt(2.0)


def quantile_draw(quantiles: np.ndarray, u: float) -> float:
    """The value at probability ``u`` in [0, 1] of a distribution given by its ``quantiles`` at
    evenly spaced probabilities 0, 1/(K-1), ..., 1 (linear interpolation between them)."""
    x = u * (len(quantiles) - 1)
    k = min(int(x), len(quantiles) - 2)
    return float(quantiles[k] + (x - k) * (quantiles[k + 1] - quantiles[k]))


def score_of(quantiles: np.ndarray, x: float) -> float:
    """Normal score of value ``x`` under the distribution given by ``quantiles`` at evenly spaced
    probabilities (the inverse of :func:`value_of`); probabilities clipped to [0.5/K, 1 - 0.5/K]."""
    k = len(quantiles)
    u = float(np.interp(x, quantiles, np.linspace(0.0, 1.0, k))) if quantiles[-1] > quantiles[0] else 0.5
    u = min(max(u, 0.5 / k), 1.0 - 0.5 / k)
    return float(ndtri(u))


def prob_of(z: float) -> float:
    """The probability (standard normal CDF) of normal score ``z``."""
    return 0.5 * (1.0 + math.erf(z / _SQRT2))


def score_at(u: float) -> float:
    """The normal score of probability ``u`` (clipped 1e-9 away from 0 and 1): the inverse of
    :func:`prob_of`."""
    return float(ndtri(min(max(u, 1e-9), 1.0 - 1e-9)))


def value_of(quantiles: np.ndarray, z: float) -> float:
    """The value at normal score ``z`` of the distribution given by ``quantiles``."""
    return quantile_draw(quantiles, prob_of(z))


def start_walk(z0: float, share: float, rng: np.random.Generator) -> tuple[float, float]:
    """Split a starting score ``z0`` (standard normal) into the cell's own part ``m`` and its
    deviation ``e`` (drawn given z0, so m ~ N(0, share), e ~ N(0, 1 - share), independent)."""
    m = share * z0 + math.sqrt(max(share * (1.0 - share), 0.0)) * float(rng.normal())
    return m, z0 - m


def step_walk(e: float, corr: float, share: float, rng: np.random.Generator) -> float:
    """The deviation one frame later: ``corr * e + sqrt((1 - corr^2)(1 - share)) * N(0, 1)``."""
    return corr * e + math.sqrt(max((1.0 - corr * corr) * (1.0 - share), 0.0)) * float(rng.normal())


def fit_score_walk(track: np.ndarray, t: np.ndarray, value: np.ndarray, *, max_lag: int = MAX_LAG
                   ) -> tuple[float, float] | None:
    """Measure ``(share, corr)`` of the score walk on real tracks.

    track, t, value: (N,) arrays, one row per cell-frame (track id, frame, area or elongation).
    Values become normal scores by rank over all cell-frames; the variogram of a track's scores,
    g(k) = mean (z_{t+k} - z_t)^2 / 2 over lags k = 1..max_lag, is fitted with
    (1 - share)(1 - corr^k) (least squares, corr on a grid of 0.00..0.99), weighting each lag by
    its number of pairs. Returns None with fewer than 20 lag-1 pairs.
    """
    from scipy import stats as sps

    order = np.lexsort((t, track))
    track, t, value = track[order], t[order], value[order]
    z = sps.norm.ppf((sps.rankdata(value) - 0.5) / value.size)
    lags, gamma, weight = [], [], []
    for k in range(1, max_lag + 1):
        same = (track[k:] == track[:-k]) & (t[k:] - t[:-k] == k)
        if not same.any():
            break
        d = z[k:][same] - z[:-k][same]
        lags.append(k)
        gamma.append(0.5 * float(np.mean(d * d)))
        weight.append(float(same.sum()))
    if not weight or weight[0] < 20:
        return None
    lag, g, w = np.array(lags, float), np.array(gamma), np.array(weight)
    best = (math.inf, 0.0, 0.0)
    for corr in np.linspace(0.0, 0.99, 100):
        basis = 1.0 - corr**lag
        within = float(np.clip(np.sum(w * basis * g) / np.sum(w * basis * basis), 0.0, 1.0))
        err = float(np.sum(w * (g - within * basis) ** 2))
        if err < best[0]:
            best = (err, float(corr), within)
    _, corr, within = best
    return 1.0 - within, corr
