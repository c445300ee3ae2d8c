"""Temporal metrics: optical-flow warping error and per-cell intensity flicker along tracks.

Warping error: for each consecutive pair, a classical optical flow (OpenCV DIS or Farnebäck, on 8-bit
frames) maps frame t onto frame t+1; the error is the mean absolute difference between the warped frame
t and frame t+1 in units of the intensity range (0 = perfectly explained by motion). Real video has a
nonzero floor (noise, cells changing shape); the comparison with FAKE is ``|log(WE_fake / WE_real)|``, which
flags both flickering fakes (too high) and frozen fakes (too low).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from tgan_aug.errors import UserError
from tgan_aug.metrics._checks import as_labels, as_video, check_range

FlowMethod = Literal["dis", "farneback"]


def _flow(prev8: np.ndarray, next8: np.ndarray, method: str, dis) -> np.ndarray:
    """Flow (Y, X, 2) with next(x) ~ prev(x + flow(x))."""
    import cv2

    if method == "dis":
        return dis.calc(next8, prev8, None)
    return cv2.calcOpticalFlowFarneback(next8, prev8, None, 0.5, 4, 15, 3, 5, 1.2, 0)


def warping_errors(
    video: np.ndarray,
    *,
    data_range: tuple[float, float],
    method: FlowMethod = "dis",
    smooth: float = 1.5,
    border: int = 4,
) -> np.ndarray:
    """Per-pair warping error of a (T, Y, X) video.

    data_range: (lo, hi) in image units; errors are in units of ``hi - lo``. method: "dis" (OpenCV DIS,
    medium preset) or "farneback". smooth: Gaussian sigma (pixels) applied to every frame first, so that
    uncorrelated sensor noise does not dominate the error (0 = raw frames). border: pixels ignored at the image edge and where the flow points
    outside the frame. Returns (T - 1,) float64 >= 0; 0 for a static sequence.
    """
    import cv2

    video = as_video(video, "video", min_frames=2)
    if method not in ("dis", "farneback"):
        raise UserError(f"flow method={method!r}: expected 'dis' or 'farneback'")
    lo, hi = check_range(data_range, "data_range")
    h, w = video.shape[1:]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) if method == "dis" else None
    if smooth < 0:
        raise UserError(f"smooth must be >= 0 pixels, got {smooth}")

    def frame(t: int) -> tuple[np.ndarray, np.ndarray]:
        a = (np.asarray(video[t], dtype=np.float32) - lo) / (hi - lo)
        if smooth > 0:
            a = cv2.GaussianBlur(a, (0, 0), smooth)
        return a, np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)

    prev, prev8 = frame(0)
    out = np.empty(video.shape[0] - 1)
    for t in range(1, video.shape[0]):
        cur, cur8 = frame(t)
        flow = _flow(prev8, cur8, method, dis)
        mx, my = gx + flow[..., 0], gy + flow[..., 1]
        warped = cv2.remap(prev, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        valid = (mx >= border) & (mx <= w - 1 - border) & (my >= border) & (my <= h - 1 - border)
        if border > 0 and min(h, w) > 2 * border + 2:
            valid[:border], valid[-border:], valid[:, :border], valid[:, -border:] = False, False, False, False
        out[t - 1] = float(np.abs(warped - cur)[valid].mean()) if valid.any() else float(np.abs(warped - cur).mean())
        prev, prev8 = cur, cur8
    return out


def cell_mean_intensities(video: np.ndarray, labels: np.ndarray, *, data_range: tuple[float, float]) -> np.ndarray:
    """Mean intensity of every track id in every frame, in units of the intensity range.

    video: (T, Y, X); labels: (T, Y, X) uint16 track ids (0 = background), same shape.
    Returns (T, max_id + 1) float64 with NaN where an id is absent (column 0 = background).
    """
    video = as_video(video, "video")
    labels = as_labels(labels, video)
    lo, hi = check_range(data_range, "data_range")
    n = int(labels.max()) + 1 if labels.size else 1
    out = np.full((video.shape[0], n), np.nan)
    for t in range(video.shape[0]):
        lab = np.asarray(labels[t]).ravel().astype(np.int64)
        img = (np.asarray(video[t], dtype=np.float64).ravel() - lo) / (hi - lo)
        cnt = np.bincount(lab, minlength=n)
        s = np.bincount(lab, weights=img, minlength=n)
        present = cnt > 0
        out[t, present] = s[present] / cnt[present]
    return out


def track_flicker(video: np.ndarray, labels: np.ndarray, *, data_range: tuple[float, float]) -> float:
    """Mean absolute frame-to-frame change of each cell's mean intensity along its track.

    video, labels: (T, Y, X) as in :func:`cell_mean_intensities`. Averages |m(t+1) - m(t)| over every
    (track, t) where the track exists in both frames (background excluded); units of the intensity range.
    Returns NaN when no track spans two frames.
    """
    d = _track_changes(video, labels, data_range)
    return float(np.nanmean(d)) if np.isfinite(d).any() else float("nan")


def track_flicker_sums(video: np.ndarray, labels: np.ndarray, data_range: tuple[float, float]) -> tuple[float, int]:
    """(sum of |m(t+1) - m(t)| over every (track, t) pair, number of pairs): :func:`track_flicker`
    is their ratio; the sums pool several sequences (e.g. :mod:`tgan_aug.render.temporal_fit`)."""
    d = _track_changes(video, labels, data_range)
    ok = np.isfinite(d)
    return float(d[ok].sum()), int(ok.sum())


def _track_changes(video: np.ndarray, labels: np.ndarray, data_range: tuple[float, float]) -> np.ndarray:
    """(T - 1, max_id) |change| of every track's mean intensity between consecutive frames (NaN: absent)."""
    means = cell_mean_intensities(video, labels, data_range=data_range)[:, 1:]
    return np.abs(np.diff(means, axis=0))
