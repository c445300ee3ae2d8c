"""Track smoothing: each cell's brightness follows its track smoothly from frame to frame.

Why (recipes/RESULTS.md, "Track smoothing"): rendered per frame (the default, see
:mod:`tgan_aug.render.engine`), every frame is drawn from its own mask, so a cell's mean intensity
jitters from frame to frame with its shape and neighbours (bacteria-phc: mean |change| along a
track 0.018 of the intensity range vs 0.014 in the real video), and the intensity map of
:mod:`tgan_aug.render.intensity` stretches that jitter with the contrast. Real cells change their
brightness slowly.

How: the renderer knows every cell's track (a label is a track id in every frame). Along each track
it keeps an exponential moving average of the cell's mean intensity, ``s_t = beta * s_(t-1) + (1 - beta)
* m_t`` (``s`` starts at the first measured mean ``m``), and shifts the cell's pixels by ``s_t - m_t``,
so the cell's mean becomes ``s_t`` and its texture is kept. Causal (frames stream out in order), one
pass, the background and the pixels outside the masks are untouched. For uncorrelated jitter of sd
sigma the smoothed mean has sd ``sigma * sqrt((1 - beta) / (1 + beta))`` (beta 0.3: 0.73 sigma); a
steady trend lags by ``beta / (1 - beta)`` frames (beta 0.3: 0.4 frames). A daughter starts from its
own first mean. Too much smoothing makes cells steadier than real ones (the flicker log-ratio
counts that as well): on PhC-C2DL-PSC (one model) beta 0 / 0.3 / 0.5 / 0.7 gave the flicker
log-ratio 0.26 / 0.10 / 0.39 / 0.79.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tgan_aug.errors import UserError

__all__ = ["TrackState", "check_weight", "check_beta", "smooth_frame"]


def check_weight(value: float, option: str) -> float:
    """``value`` as a float in [0, 1) (the weight of the past in a temporal step; 0 = off); raises
    :class:`UserError` naming ``option`` (e.g. "--track-smoothing") otherwise."""
    w = float(value)
    if not 0.0 <= w < 1.0:
        raise UserError(f"{option} {value!r}: must be in [0, 1) (0 = off; default: the model's fitted value)")
    return w


def check_beta(beta: float) -> float:
    """``beta`` as a float in [0, 1); raises :class:`UserError` otherwise (0 turns smoothing off)."""
    return check_weight(beta, "--track-smoothing")


@dataclass
class TrackState:
    """Per-sequence smoothed mean intensity of every track seen so far (NaN = not seen yet)."""

    smoothed: np.ndarray = field(default_factory=lambda: np.full(1, np.nan))

    def grow(self, n: int) -> None:
        """Make room for labels < n."""
        if n > self.smoothed.size:
            self.smoothed = np.concatenate([self.smoothed, np.full(n - self.smoothed.size, np.nan)])


def smooth_frame(frame: np.ndarray, labels: np.ndarray, state: TrackState, beta: float) -> np.ndarray:
    """One frame of track smoothing (see the module docstring); updates ``state`` in place.

    frame: (Y, X) float (any units, e.g. the generator's [-1, 1]); labels: (Y, X) int, 0 =
    background, a label = a track id. Returns a float32 (Y, X) copy whose cell means follow the
    tracks' moving averages; ``beta`` = 0 returns the frame unchanged (as float32).
    """
    if frame.shape != labels.shape:
        raise UserError(f"smooth_frame: frame {frame.shape} and labels {labels.shape} differ in shape")
    out = np.asarray(frame, dtype=np.float32).copy()
    if beta == 0.0:
        return out
    lab = np.asarray(labels).reshape(-1).astype(np.int64)
    n = int(lab.max()) + 1 if lab.size else 1
    state.grow(n)
    cnt = np.bincount(lab, minlength=n)
    sums = np.bincount(lab, weights=out.reshape(-1).astype(np.float64), minlength=n)
    ids = np.flatnonzero(cnt[1:]) + 1
    if ids.size == 0:
        return out
    m = sums[ids] / cnt[ids]
    prev = state.smoothed[ids]
    s = np.where(np.isnan(prev), m, beta * prev + (1.0 - beta) * m)
    state.smoothed[ids] = s
    delta = np.zeros(n, np.float32)
    delta[ids] = s - m
    out += delta[lab].reshape(out.shape)
    return out
