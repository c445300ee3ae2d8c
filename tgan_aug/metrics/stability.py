"""Temporal stability of a rendered video: frame-parity flicker and drift over a long render.

Frame-parity index (a 2-frame flicker detector): for every track and every frame t where the track is
present at t-1, t and t+1, with I_t the mean intensity of the track's pixels in frame t,
``|I_t - (I_{t-1} + I_{t+1}) / 2|``, divided by the video's own 1-99 % intensity range (percentiles over
all frames) and averaged over (track, t). A brightness that alternates frame by frame (+-x) scores its
peak-to-peak swing over the range (2x / range); motion, growth and slow brightness changes are nearly
linear over three frames and score ~0: real phase-contrast video with its ground-truth tracks scores
0.009 (PhC-C2DL-PSC) to 0.012 (bacteria-phc). Invariant to any affine intensity change ``a * I + b``.

Drift: per-frame statistics of one video, in units of the given intensity range: mean intensity inside
cells and in the background, their contrast (cell - background), sharpness (mean Sobel gradient
magnitude over the frame), and the central box (half the height and width) against the rest of the
frame: background intensity (centre minus border) and sharpness (centre over border). Summaries compare
each frame with the video's start (mean of its first three frames): how far the contrast, sharpness and
centre-over-border sharpness wander (max |relative change|), how fast the contrast trends
(least-squares slope of its relative change, per 100 frames), and how far the centre-minus-border
intensity moves (max |change|, range units). A dark, blurred patch that grows in the centre shows up
as centre-intensity and centre-sharpness drift; cells fading or darkening as contrast drift; blur or
noise over the whole frame as sharpness drift. Real videos drift too (colonies grow, illumination
changes), so read FAKE against REAL.
"""

from __future__ import annotations

import numpy as np

from tgan_aug.metrics._checks import as_labels, as_video, check_range, to_unit
from tgan_aug.metrics.temporal import cell_mean_intensities

#: per-frame drift series returned by :func:`drift_series`, in order
DRIFT_SERIES: tuple[str, ...] = ("cell", "background", "contrast", "sharpness", "centre_intensity", "centre_sharpness")
#: summaries returned by :func:`drift_summary`
DRIFT_SUMMARY: tuple[str, ...] = ("contrast", "contrast-slope", "sharpness", "centre-intensity", "centre-sharpness")


def robust_range(video: np.ndarray, *, q: tuple[float, float] = (1.0, 99.0), max_pixels: int = 4_000_000) -> tuple[float, float]:
    """(lo, hi) = the ``q`` percentiles of all intensities of a (T, Y, X) video (evenly subsampled to at
    most ``max_pixels`` values). Falls back to (min, max) when the percentiles coincide; a constant video
    gives (v, v)."""
    flat = np.asarray(video).reshape(-1)
    vals = flat[:: max(1, flat.size // max_pixels)].astype(np.float64)
    lo, hi = np.percentile(vals, q)
    if hi <= lo:
        lo, hi = float(flat.min()), float(flat.max())
    return float(lo), float(hi)


def _parity_terms(video: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    """(T - 2, N) float64: ``|I_t - (I_{t-1} + I_{t+1}) / 2|`` for t = 1 .. T-2 and every track id, in
    units of the video's 1-99 % range; NaN unless the track is present at t-1, t and t+1."""
    video = as_video(video, "video")
    if labels is None:
        labels = np.ones(video.shape, np.uint8)
    labels = as_labels(labels, video)
    if video.shape[0] < 3:
        return np.full((0, 1), np.nan)
    lo, hi = robust_range(video)
    if hi <= lo:  # constant video: no flicker
        hi = lo + 1.0
    m = cell_mean_intensities(video, labels, data_range=(lo, hi))[:, 1:]  # (T, ids) in range units
    return np.abs(m[1:-1] - (m[:-2] + m[2:]) / 2)


def _nanmean(x: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    ok = np.isfinite(x)
    n = ok.sum(axis=axis)
    s = np.where(ok, x, 0.0).sum(axis=axis)
    return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def frame_parity(video: np.ndarray, labels: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Frame-parity index of a (T, Y, X) video and its per-frame values.

    video: (T, Y, X) integer or float intensities. labels: (T, Y, X) integer track ids (0 = background),
    same shape; None = the whole frame is one track (videos without masks).
    Returns (index, per_frame). index: the mean of ``|I_t - (I_{t-1} + I_{t+1}) / 2|`` over every (track, t)
    with the track present at t-1, t and t+1, in units of the video's 1-99 % intensity range: a float
    >= 0, ~0.01 on real microscopy video, 2x / range for a brightness alternating by +-x, 0 for a
    constant video, NaN when no track spans three consecutive frames. per_frame: (T,) float64, the mean
    over the tracks at each t (NaN at t = 0, T - 1 and where no track spans t-1..t+1).
    """
    d = _parity_terms(video, labels)
    per_frame = np.full(d.shape[0] + 2, np.nan)
    per_frame[1:-1] = _nanmean(d, axis=1)
    return float(_nanmean(d)), per_frame


def frame_parity_index(video: np.ndarray, labels: np.ndarray | None = None) -> float:
    """The index of :func:`frame_parity` alone (float, range units of the video's 1-99 % range)."""
    return frame_parity(video, labels)[0]


def drift_series(video: np.ndarray, labels: np.ndarray, *, data_range: tuple[float, float]) -> dict[str, np.ndarray]:
    """Per-frame statistics of a (T, Y, X) video with (T, Y, X) labels (0 = background), in units of
    ``data_range`` (lo, hi): the keys of :data:`DRIFT_SERIES`, each (T,) float64.

    cell / background: mean intensity inside labels > 0 / outside (NaN when empty); contrast = cell -
    background; sharpness: mean Sobel gradient magnitude over the frame (per pixel, range units);
    centre_intensity: mean background intensity in the central box (rows H/4..3H/4, columns W/4..3W/4)
    minus the mean background intensity outside it (NaN when either part has no background);
    centre_sharpness: mean gradient magnitude in the central box over that outside it (a ratio).
    """
    import cv2

    video = as_video(video, "video")
    labels = as_labels(labels, video)
    lo, hi = check_range(data_range, "data_range")
    t_n, h, w = video.shape
    centre = np.zeros((h, w), bool)
    centre[h // 4 : h - h // 4, w // 4 : w - w // 4] = True
    out = {k: np.full(t_n, np.nan) for k in DRIFT_SERIES}

    def mean(a: np.ndarray, sel: np.ndarray) -> float:
        return float(a[sel].mean(dtype=np.float64)) if sel.any() else float("nan")

    for t in range(t_n):
        a = to_unit(np.asarray(video[t : t + 1]), (lo, hi))[0]
        fg = np.asarray(labels[t]) > 0
        out["cell"][t], out["background"][t] = mean(a, fg), mean(a, ~fg)
        g = np.hypot(cv2.Sobel(a, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(a, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
        out["sharpness"][t] = float(g.mean(dtype=np.float64))
        out["centre_intensity"][t] = mean(a, ~fg & centre) - mean(a, ~fg & ~centre)
        g_out = mean(g, ~centre)
        out["centre_sharpness"][t] = mean(g, centre) / g_out if g_out > 0 else float("nan")
    out["contrast"] = out["cell"] - out["background"]
    return out


def _start(x: np.ndarray, n: int = 3) -> float:
    head = x[:n][np.isfinite(x[:n])]
    return float(head.mean()) if head.size else float("nan")


def relative_change(x: np.ndarray) -> np.ndarray:
    """(x - x_start) / x_start, x_start = mean of the finite values among the first three frames:
    (T,) float64 (< 0: nearer 0 than at the start, e.g. a fading contrast of either sign); all NaN when
    x_start is NaN or 0."""
    s = _start(np.asarray(x, np.float64))
    if not np.isfinite(s) or s == 0:
        return np.full(len(x), np.nan)
    return (np.asarray(x, np.float64) - s) / s


def change_from_start(x: np.ndarray) -> np.ndarray:
    """x - x_start (x_start as in :func:`relative_change`): (T,) float64, all NaN when x_start is NaN."""
    x = np.asarray(x, np.float64)
    return x - _start(x)


def _max_abs(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.abs(x).max()) if x.size else float("nan")


def drift_summary(series: dict[str, np.ndarray]) -> dict[str, float]:
    """Numbers from :func:`drift_series` (keys of :data:`DRIFT_SUMMARY`):

    contrast: max |relative change of the contrast| over the video (0.2 = 20 % weaker or stronger than
    at the start); contrast-slope: least-squares slope of that relative change, per 100 frames (signed:
    negative = contrast fading, whether cells are darker or brighter than the background);
    sharpness: max |relative change of the sharpness|; centre-intensity: max |change of the
    centre-minus-border background intensity| (range units); centre-sharpness: max |relative change of
    the centre-over-border sharpness ratio|. NaN where not computable.
    """
    rc = relative_change(series["contrast"])
    t = np.arange(len(rc), dtype=np.float64)
    ok = np.isfinite(rc)
    slope = float(np.polyfit(t[ok], rc[ok], 1)[0] * 100.0) if ok.sum() >= 2 else float("nan")
    return {
        "contrast": _max_abs(rc),
        "contrast-slope": slope,
        "sharpness": _max_abs(relative_change(series["sharpness"])),
        "centre-intensity": _max_abs(change_from_start(series["centre_intensity"])),
        "centre-sharpness": _max_abs(relative_change(series["centre_sharpness"])),
    }
