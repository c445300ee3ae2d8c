"""Microscopy image statistics, FAKE vs REAL: intensity histogram, radially averaged power spectrum,
inside/outside-mask intensity and texture. All in units of REAL's intensity range; order-free (frame
shuffling does not change the histogram or the spectrum, it does change the mask statistics)."""

from __future__ import annotations

import numpy as np

from tgan_aug.errors import UserError
from tgan_aug.metrics._checks import as_labels, as_video, check_range, to_unit


def intensity_quantiles(video: np.ndarray, *, data_range: tuple[float, float], n: int = 256, max_pixels: int = 4_000_000) -> np.ndarray:
    """``n`` evenly spaced quantiles (0..1) of the intensities of a (T, Y, X) video, in range units: (n,)."""
    video = as_video(video, "video")
    lo, hi = check_range(data_range, "data_range")
    flat = np.asarray(video).reshape(-1)
    step = max(1, flat.size // max_pixels)
    vals = (flat[::step].astype(np.float64) - lo) / (hi - lo)
    return np.quantile(vals, np.linspace(0, 1, n))


def histogram_distance(real: np.ndarray, fake: np.ndarray, *, data_range: tuple[float, float]) -> float:
    """Wasserstein-1 (earth mover's) distance between the intensity distributions of two videos.

    real, fake: (T, Y, X) (any sizes). Approximated as the mean |difference| of 256 quantiles; in units of
    REAL's intensity range (0 = same histogram, 1 = everything shifted by the full range).
    """
    qr = intensity_quantiles(real, data_range=data_range)
    qf = intensity_quantiles(fake, data_range=data_range)
    return float(np.abs(qr - qf).mean())


def radial_power_spectrum(video: np.ndarray, *, data_range: tuple[float, float], bins: int = 48, max_frames: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of a (T, Y, X) video (mean over up to ``max_frames`` evenly spaced frames).

    Each frame is scaled to range units, its mean removed and a Hann window applied. Returns
    (frequencies (bins,) in cycles/pixel from 0 to 0.5, power (bins,) per pixel, range units squared).
    """
    video = as_video(video, "video")
    lo, hi = check_range(data_range, "data_range")
    t_idx = np.unique(np.linspace(0, video.shape[0] - 1, min(max_frames, video.shape[0])).round().astype(int))
    h, w = video.shape[1:]
    win = np.outer(np.hanning(h), np.hanning(w)) if min(h, w) > 2 else np.ones((h, w))
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    r = np.sqrt(fy**2 + fx**2)
    edges = np.linspace(0, 0.5, bins + 1)
    which = np.clip(np.digitize(r, edges) - 1, 0, bins - 1).ravel()
    keep = (r <= 0.5).ravel()
    counts = np.bincount(which[keep], minlength=bins)
    acc = np.zeros(bins)
    for t in t_idx:
        a = to_unit(np.asarray(video[t : t + 1]), (lo, hi))[0].astype(np.float64)
        a = (a - a.mean()) * win
        p = (np.abs(np.fft.rfft2(a)) ** 2 / (h * w)).ravel()
        acc += np.bincount(which[keep], weights=p[keep], minlength=bins)
    power = acc / np.maximum(counts, 1) / len(t_idx)
    return (edges[:-1] + edges[1:]) / 2, power


def spectrum_distance(real: np.ndarray, fake: np.ndarray, *, data_range: tuple[float, float], bins: int = 48) -> float:
    """Mean absolute difference of log10 radially averaged power spectra (in decades), frequencies > 0.

    real, fake: (T, Y, X) with the same frame size (the spectra are compared bin by bin). A floor of
    1e-12 range-units^2 keeps constant images finite (and far away).
    """
    real = as_video(real, "real")
    fake = as_video(fake, "fake")
    if real.shape[1:] != fake.shape[1:]:
        raise UserError(f"spectrum distance needs frames of the same size: REAL {real.shape[1:]}, FAKE {fake.shape[1:]}")
    _, pr = radial_power_spectrum(real, data_range=data_range, bins=bins)
    _, pf = radial_power_spectrum(fake, data_range=data_range, bins=bins)
    lr, lf = np.log10(pr[1:] + 1e-12), np.log10(pf[1:] + 1e-12)
    return float(np.abs(lr - lf).mean())


#: the statistics of :func:`mask_stats`, in order
MASK_STATS: tuple[str, ...] = ("inside_mean", "inside_std", "inside_gradient", "outside_mean", "outside_std", "outside_gradient")


def mask_stats(video: np.ndarray, labels: np.ndarray, *, data_range: tuple[float, float], max_frames: int = 100) -> dict[str, float]:
    """Intensity and texture inside cells (labels > 0) and in the background, in range units.

    video, labels: (T, Y, X), same shape. Texture = mean Sobel gradient magnitude. Uses up to ``max_frames``
    evenly spaced frames. Returns a dict with the keys of :data:`MASK_STATS` (NaN where a region is empty).
    """
    import cv2

    video = as_video(video, "video")
    labels = as_labels(labels, video)
    lo, hi = check_range(data_range, "data_range")
    t_idx = np.unique(np.linspace(0, video.shape[0] - 1, min(max_frames, video.shape[0])).round().astype(int))
    sums = {k: 0.0 for k in ("in_n", "in_s", "in_s2", "in_g", "out_n", "out_s", "out_s2", "out_g")}
    for t in t_idx:
        a = to_unit(np.asarray(video[t : t + 1]), (lo, hi))[0].astype(np.float32)
        g = np.hypot(cv2.Sobel(a, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(a, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
        fg = np.asarray(labels[t]) > 0
        for key, sel in (("in", fg), ("out", ~fg)):
            v = a[sel].astype(np.float64)
            sums[f"{key}_n"] += v.size
            sums[f"{key}_s"] += v.sum()
            sums[f"{key}_s2"] += (v**2).sum()
            sums[f"{key}_g"] += g[sel].astype(np.float64).sum()
    out: dict[str, float] = {}
    for key, name in (("in", "inside"), ("out", "outside")):
        n = sums[f"{key}_n"]
        if n == 0:
            out.update({f"{name}_mean": float("nan"), f"{name}_std": float("nan"), f"{name}_gradient": float("nan")})
            continue
        mean = sums[f"{key}_s"] / n
        out[f"{name}_mean"] = float(mean)
        out[f"{name}_std"] = float(np.sqrt(max(sums[f"{key}_s2"] / n - mean**2, 0.0)))
        out[f"{name}_gradient"] = float(sums[f"{key}_g"] / n)
    return {k: out[k] for k in MASK_STATS}


def mask_stats_distance(real_stats: dict[str, float], fake_stats: dict[str, float]) -> float:
    """Mean |difference| over the :data:`MASK_STATS` present in both (range units)."""
    diffs = [abs(real_stats[k] - fake_stats[k]) for k in MASK_STATS if np.isfinite(real_stats[k]) and np.isfinite(fake_stats[k])]
    return float(np.mean(diffs)) if diffs else float("nan")


def cell_mean_intensities(video: np.ndarray, labels: np.ndarray, *, data_range: tuple[float, float],
                          max_frames: int = 100) -> np.ndarray:
    """Mean intensity of every cell in every frame, in range units: a 1-D float64 array.

    video, labels: (T, Y, X), same shape; labels > 0 are cell (track) ids. Uses up to ``max_frames``
    evenly spaced frames. One value per (frame, cell), so a rendering whose cells are all equally
    bright has a narrow distribution even when its mean is right. The per-frame means are those of
    :func:`tgan_aug.metrics.temporal.cell_mean_intensities`.
    """
    from tgan_aug.metrics.temporal import cell_mean_intensities as per_track

    video = as_video(video, "video")
    labels = as_labels(labels, video)
    t_idx = np.unique(np.linspace(0, video.shape[0] - 1, min(max_frames, video.shape[0])).round().astype(int))
    means = per_track(video[t_idx], labels[t_idx], data_range=data_range)[:, 1:]  # (frames, ids), NaN = absent
    return means[np.isfinite(means)]


def cell_intensity_ks(real: np.ndarray, fake: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic between per-cell mean intensities (0 = same
    distribution, 1 = disjoint); NaN when either side has no cells."""
    from scipy.stats import ks_2samp

    if real.size == 0 or fake.size == 0:
        return float("nan")
    return float(ks_2samp(real, fake).statistic)


def contact_contrast(video: np.ndarray, labels: np.ndarray, *, data_range: tuple[float, float],
                     lineage: np.ndarray | None = None, pairs: str = "all", ring: int = 3,
                     max_frames: int = 100) -> float:
    """Where two cells touch, how far the image goes from cell towards background: 0 = as inside
    the cells, 1 = as the background around them (a dimensionless float; NaN without contacts).

    video, labels: (T, Y, X), same shape; labels > 0 are cell ids. Contact pixels are those of
    :func:`tgan_aug.contacts.contact_pixels` (cell pixels next to another cell and one-pixel gaps
    between two cells); ``pairs`` "sisters" / "others" (with the CTC ``lineage``) keeps the contacts
    between daughters of one division / between other cells. "Inside" is the cell pixels with only
    their own cell within 2 px; "around" is the background within ``ring`` px of a cell (the halo in
    phase contrast). The three means are pooled over up to ``max_frames`` evenly spaced frames, in
    range units. Real bacteria (bacteria-phc, frames 20-52): sisters 0.23 (a dark junction), others
    0.74 (a bright halo line between them), all 0.37.
    """
    from scipy import ndimage as ndi

    from tgan_aug.contacts import contact_pixels

    video = as_video(video, "video")
    labels = as_labels(labels, video)
    lo, hi = check_range(data_range, "data_range")
    t_idx = np.unique(np.linspace(0, video.shape[0] - 1, min(max_frames, video.shape[0])).round().astype(int))
    sums = np.zeros((3, 2))  # rows: contact, inside, around; columns: pixel count, intensity sum
    for t in t_idx:
        lab = np.asarray(labels[t])
        contact = contact_pixels(lab, lineage, pairs=pairs)
        if not contact.any():
            continue
        a = to_unit(np.asarray(video[t : t + 1]), (lo, hi))[0].astype(np.float64)
        own = (ndi.maximum_filter(lab, size=5) == lab) & (ndi.minimum_filter(lab, size=5) == lab) & (lab != 0)
        around = ndi.binary_dilation(lab != 0, iterations=int(ring)) & (lab == 0)
        for row, sel in enumerate((contact, own, around)):
            sums[row] += (sel.sum(), a[sel].sum())
    if np.any(sums[:, 0] == 0):
        return float("nan")
    contact_mean, inside, outside = sums[:, 1] / sums[:, 0]
    if abs(outside - inside) < 1e-9:
        return float("nan")
    return float((contact_mean - inside) / (outside - inside))
