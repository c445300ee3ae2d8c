"""Carry-over: a cell's texture moves with the cell from frame to frame (motion-compensated blending).

Why (recipes/RESULTS.md, "Carry-over"): rendered per frame (the default, see
:mod:`tgan_aug.render.engine`), every frame is drawn from its own mask, so the texture inside a
cell and its halo is redrawn at every frame instead of moving with the cell. Optical flow cannot
explain that change: on bacteria-phc the warping error (after flow compensation) was 0.033 of the
intensity range vs 0.023 in the real video, all of the excess inside the cells (0.042 vs 0.028)
and within 3 px of them (0.067 vs 0.045); the background far from cells was as steady as real.

How: the masks say how every cell moved. For frame t, a cell present in frame t-1 (the same label)
gets the translation of its centroid; every pixel inside a cell, or within ``radius`` px of one,
takes the translation of its nearest cell, and the PREVIOUS OUTPUT frame warped by it is blended
in with weight ``alpha * (1 - d / radius)`` (d: distance to the nearest cell, 0 inside). Blending
two textures lowers the local contrast, so the contrast of the frame as rendered is restored where
the blend lowered it (deviation from a Gaussian local mean, scale ``sigma`` px, multiplied by
sqrt(local variance rendered / local variance blended), clipped to [1, ``MAX_GAIN``]; on bacteria-phc at
alpha 0.5 the fine texture inside cells kept its contrast: sd of a 1.5 px high-pass 8.3 -> 8.7 grey
levels, real 9.2; where a cell's edge dominates the local variance, as for small cells with strong
edges, the restoration is partial). Every cell keeps the mean brightness it was rendered with: only
its texture and halo are carried (carrying the mean too made small isolated cells flicker MORE on
bacteria-phc's sparse frames, 0.016 -> 0.020, as bright halo moved into cells whose shape changed;
the brightness along a track is what track smoothing steadies). Recursive
(the previous output carries its own history), so a texture persists while the cell moves, as a
real one does; causal (frames stream out in order). A cell that is new in frame t (first frame,
a daughter under a new label) and the background farther than ``radius`` from every cell are left
as rendered. Labels must be track ids, as for :mod:`tgan_aug.render.track_smoothing`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

from tgan_aug.errors import UserError
from tgan_aug.render.track_smoothing import check_weight

__all__ = ["MAX_GAIN", "CarryState", "check_alpha", "carry_frame"]

#: largest factor the restored local contrast may apply (blending two unrelated textures of equal
#: contrast lowers it by at most 1 / sqrt(1/2) = 1.41 at alpha 0.5)
MAX_GAIN = 2.0


def check_alpha(alpha: float) -> float:
    """``alpha`` as a float in [0, 1); raises :class:`UserError` otherwise (0 turns carry-over off)."""
    return check_weight(alpha, "--carry-over")


@dataclass
class CarryState:
    """Per sequence: the previous output frame and its labels (None before the first frame)."""

    frame: np.ndarray | None = None
    labels: np.ndarray | None = None


def _centroids(labels: np.ndarray, n: int, yy: np.ndarray, xx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pixel counts, centroid y, centroid x) of labels 0..n-1; NaN centroids for absent labels.
    yy, xx: the frame's pixel coordinates (``np.indices``)."""
    lab = labels.reshape(-1).astype(np.int64)
    cnt = np.bincount(lab, minlength=n)[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        cy = np.bincount(lab, weights=yy.reshape(-1), minlength=n)[:n] / cnt
        cx = np.bincount(lab, weights=xx.reshape(-1), minlength=n)[:n] / cnt
    return cnt, cy, cx


def _local_mean(x: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def carry_frame(frame: np.ndarray, labels: np.ndarray, state: CarryState, alpha: float, *,
                radius: float = 6.0, sigma: float = 3.0) -> np.ndarray:
    """One frame of carry-over (see the module docstring); updates ``state`` in place.

    frame: (Y, X) float (any units, e.g. the generator's [-1, 1]); labels: (Y, X) int track ids
    (0 = background). radius: px around a cell that move with it (halo); sigma: px, scale of the
    local contrast restored. Returns float32 (Y, X); ``alpha`` = 0 returns the frame unchanged.
    """
    if frame.shape != labels.shape:
        raise UserError(f"carry_frame: frame {frame.shape} and labels {labels.shape} differ in shape")
    raw = np.asarray(frame, dtype=np.float32)
    out = raw.copy()
    prev, prev_labels = state.frame, state.labels
    lab = np.asarray(labels).astype(np.int64)
    if alpha > 0 and prev is not None and prev.shape == raw.shape and lab.any():
        n = int(max(lab.max(), prev_labels.max())) + 1
        gy, gx = np.indices(raw.shape, dtype=np.float32)  # pixel coordinates: centroids and the warp
        cnt, cy, cx = _centroids(lab, n, gy, gx)
        pcnt, py, px = _centroids(prev_labels, n, gy, gx)
        moved = (cnt > 0) & (pcnt > 0)
        moved[0] = False
        dy = np.where(moved, py - cy, 0.0).astype(np.float32)
        dx = np.where(moved, px - cx, 0.0).astype(np.float32)
        dist, (iy, ix) = ndi.distance_transform_edt(lab == 0, return_indices=True)
        nearest = lab[iy, ix]
        a = (alpha * np.clip(1.0 - dist / radius, 0.0, 1.0) * moved[nearest]).astype(np.float32)
        if a.any():
            warped = cv2.remap(prev, gx + dx[nearest], gy + dy[nearest], interpolation=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
            blend = raw + a * (warped - raw)
            dev_raw = raw - _local_mean(raw, sigma)
            mean_blend = _local_mean(blend, sigma)
            dev_blend = blend - mean_blend
            eps = np.float32(1e-6 * max(float(np.ptp(raw)), 1e-6) ** 2)
            gain = np.sqrt((_local_mean(dev_raw**2, sigma) + eps) / (_local_mean(dev_blend**2, sigma) + eps))
            restored = mean_blend + dev_blend * np.clip(gain, 1.0, MAX_GAIN)
            # texture only: every cell keeps its rendered mean brightness (the previous frame moved by
            # the centroid shift brings bright halo into a small cell whose shape changed; its brightness
            # along the track is track smoothing's job, :mod:`tgan_aug.render.track_smoothing`)
            flat = lab.reshape(-1)
            cnt_ = np.maximum(np.bincount(flat, minlength=n), 1)
            shift = np.bincount(flat, weights=(restored - raw).reshape(-1).astype(np.float64), minlength=n) / cnt_
            shift[0] = 0.0
            restored = restored - shift[lab].astype(np.float32)
            out = np.where(a > 0, restored, raw).astype(np.float32)
    state.frame, state.labels = out, lab
    return out
