"""The training quality check: do rendered frames show cells where the masks say, with the real intensities?

Array in, report out; no networks here (rendering held-back frames is :mod:`quality_check`).
Inputs are lists of videos, one per held-back sequence: rendered and real frames (T, Y, X) float in
[-1, 1] (the generator's range, as :class:`~tgan_aug.training.data.ImageStats` maps the data) and
masks (T, Y, X) bool. Every figure is pooled over all frames of all sequences.

Measures (intensities in [0, 1]: -1 -> 0, +1 -> 1):

- ``dice``: foreground Dice between the masks and a classical segmentation of the rendered frames:
  the sequence's reference background (the one the generator was given) subtracted, so uneven
  illumination does not decide the threshold, a Gaussian blur (sigma 0.5 px), one Otsu threshold
  per video, cells on the side of it that the real data's polarity says; ``dice_real``: the same
  segmentation of the real held-back frames, the reference; ``dice_ratio`` = dice / dice_real.
  (On PhC-C2DL-PSC held-back frames at the small preset's scale the real Dice is 0.81 this way,
  0.10 without the background subtraction.)
- ``contrast``: mean(cells) - mean(background); ``contrast_ratio`` = rendered / real contrast
  (signed: negative means cells drawn with the wrong polarity, about 0 means no cells drawn).
- ``cell_mean``, ``background_mean`` and their differences to real's; ``w1``: Wasserstein-1
  distance of the intensity histograms.

The pass rule is :class:`QualityThresholds`; :func:`assess` returns a :class:`QualityReport` with a
plain verdict and, when it fails, what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from masksynth.configbase import ConfigBase, configclass

__all__ = ["QualityThresholds", "QualityReport", "polarity", "otsu_segment", "measure", "assess"]


@configclass
class QualityThresholds(ConfigBase):
    """When a model passes (documented defaults; all intensities in [0, 1] units).

    min_dice_ratio: rendered Dice >= this x the real frames' Dice (cells where the masks say).
    contrast_range: rendered/real cell-background contrast ratio within [low, high].
    max_w1: intensity-histogram Wasserstein-1 distance at most this.
    max_mean_shift: |cell mean - real's| and |background mean - real's| at most this.
    no_cells_contrast: |contrast ratio| below this means the model drew no cells.
    no_cells_dice_ratio: Dice ratio below this also means no cells (none where the masks are), unless the
        contrast ratio is below -no_cells_contrast: then cells are drawn, with the wrong polarity.
    """

    min_dice_ratio: float = 0.7
    contrast_range: tuple[float, float] = (0.5, 2.0)
    max_w1: float = 0.1
    max_mean_shift: float = 0.15
    no_cells_contrast: float = 0.2
    no_cells_dice_ratio: float = 0.1


@dataclass
class QualityReport:
    """Result of :func:`assess`. ``values``: the measures; ``failed``: (check, text) of failed checks."""

    values: dict[str, float]
    passed: bool
    no_cells: bool
    failed: list[tuple[str, str]] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    thresholds: QualityThresholds = field(default_factory=QualityThresholds)

    def headline(self) -> str:
        """One short line for logs and PNG titles."""
        v = self.values
        state = "PASSED" if self.passed else ("NO CELLS" if self.no_cells else "NOT PASSED")
        return (f"{state}: Dice {v['dice']:.2f} (real {v['dice_real']:.2f}), contrast x{v['contrast_ratio']:.2f}, "
                f"W1 {v['w1']:.3f}")

    def verdict(self) -> str:
        """The plain verdict: 'PASSED: ...' or 'NOT PASSED: <failed checks>; what to do: ...'."""
        if self.passed:
            return "PASSED: " + self.headline().split(": ", 1)[1]
        head = "NOT PASSED (the model draws no cells)" if self.no_cells else "NOT PASSED"
        return f"{head}: {'; '.join(text for _, text in self.failed)}. What to do: {' '.join(self.advice)}"

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "no_cells": self.no_cells, "verdict": self.verdict(),
                "values": {k: float(v) for k, v in self.values.items()},
                "failed": [name for name, _ in self.failed], "advice": list(self.advice),
                "thresholds": self.thresholds.to_dict()}


def _as_list(x: Any) -> list[np.ndarray]:
    return [np.asarray(v) for v in x] if isinstance(x, (list, tuple)) else [np.asarray(x)]


def polarity(images: Any, masks: Any) -> int:
    """+1 when cells are brighter than the background on average, -1 when darker.

    images: (T, Y, X) any real dtype (or a list of such); masks: matching (T, Y, X), nonzero = cell.
    Frames with no cell or no background pixel are skipped; with none left, +1.
    """
    cell_sum = cell_n = bg_sum = bg_n = 0.0
    for img, m in zip(_as_list(images), _as_list(masks)):
        fg = m != 0
        x = img.astype(np.float64)
        cell_sum, cell_n = cell_sum + x[fg].sum(), cell_n + fg.sum()
        bg_sum, bg_n = bg_sum + x[~fg].sum(), bg_n + (~fg).sum()
    if cell_n == 0 or bg_n == 0:
        return 1
    return 1 if cell_sum / cell_n >= bg_sum / bg_n else -1


def otsu_segment(video: np.ndarray, sign: int, *, background: np.ndarray | None = None, sigma: float = 0.5) -> np.ndarray:
    """Cells of a (T, Y, X) video by one Otsu threshold after a Gaussian blur (``sigma`` px, per frame).

    sign: +1 = cells are above the threshold (bright), -1 = below (dark). A constant video has no cells.
    background: (Y, X) subtracted from every frame first (same units), or None.
    Returns (T, Y, X) bool.
    """
    from skimage.filters import threshold_otsu

    v = np.asarray(video, dtype=np.float32)
    if background is not None:
        v = v - np.asarray(background, dtype=np.float32)[None]
    v = ndi.gaussian_filter(v, sigma=(0, sigma, sigma)) if sigma > 0 else v
    if float(v.max() - v.min()) < 1e-6:
        return np.zeros(v.shape, dtype=bool)
    t = threshold_otsu(v)
    return v > t if sign > 0 else v <= t


def _pooled_dice(videos: list[np.ndarray], masks: list[np.ndarray], backgrounds: list[np.ndarray | None], sign: int) -> float:
    inter = total = 0
    for v, m, bg in zip(videos, masks, backgrounds):
        seg = otsu_segment(v, sign, background=bg)
        inter += int((seg & m).sum())
        total += int(seg.sum()) + int(m.sum())
    return 1.0 if total == 0 else 2.0 * inter / total


def _region_means(videos: list[np.ndarray], masks: list[np.ndarray]) -> tuple[float, float]:
    cells = np.concatenate([v[m] for v, m in zip(videos, masks)])
    bg = np.concatenate([v[~m] for v, m in zip(videos, masks)])
    return (float(cells.mean()) if cells.size else float("nan"), float(bg.mean()) if bg.size else float("nan"))


def _w1(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    from tgan_aug.metrics.microscopy import histogram_distance

    def flat(videos: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([v.ravel() for v in videos])[None, None]  # (1, 1, N): one pooled "video"

    return histogram_distance(flat(b), flat(a), data_range=(0.0, 1.0))


def measure(rendered: Any, real: Any, masks: Any, backgrounds: Any = None) -> dict[str, float]:
    """The quality measures (see the module docstring) of rendered vs real held-back frames.

    rendered, real: (T, Y, X) float in [-1, 1], or lists of such (one per sequence; rendered[i] and
    real[i] have the shape of masks[i]); masks: (T, Y, X) bool (nonzero = cell).
    backgrounds: the reference backgrounds (Y, X) float in [-1, 1], one per sequence, subtracted
    before segmenting; None segments the frames as they are.
    """
    fake = [(np.asarray(v, np.float32) + 1.0) * 0.5 for v in _as_list(rendered)]
    ref = [(np.asarray(v, np.float32) + 1.0) * 0.5 for v in _as_list(real)]
    ms = [np.asarray(m) != 0 for m in _as_list(masks)]
    if not (len(fake) == len(ref) == len(ms)) or any(f.shape != r.shape or f.shape != m.shape for f, r, m in zip(fake, ref, ms)):
        raise ValueError("measure: rendered, real and masks must be matching (T, Y, X) arrays (or lists of them)")
    bgs = [None] * len(ms) if backgrounds is None else [(np.asarray(b, np.float32) + 1.0) * 0.5 for b in _as_list(backgrounds)]
    if len(bgs) != len(ms) or any(b is not None and b.shape != m.shape[1:] for b, m in zip(bgs, ms)):
        raise ValueError("measure: backgrounds must be one (Y, X) array per sequence, matching the masks' frames")
    sign = polarity(ref, ms)
    d_fake, d_real = _pooled_dice(fake, ms, bgs, sign), _pooled_dice(ref, ms, bgs, sign)
    cell_f, bg_f = _region_means(fake, ms)
    cell_r, bg_r = _region_means(ref, ms)
    con_f, con_r = cell_f - bg_f, cell_r - bg_r
    return {
        "dice": d_fake, "dice_real": d_real, "dice_ratio": d_fake / max(d_real, 1e-6),
        "contrast": con_f, "contrast_real": con_r, "contrast_ratio": con_f / con_r if abs(con_r) > 1e-6 else float("nan"),
        "cell_mean": cell_f, "cell_mean_real": cell_r, "background_mean": bg_f, "background_mean_real": bg_r,
        "w1": _w1(fake, ref), "polarity": float(sign),
    }


def assess(values: dict[str, float], thresholds: QualityThresholds | None = None) -> QualityReport:
    """Apply the pass rule to :func:`measure`'s values; say what failed and what to do."""
    th = thresholds or QualityThresholds()
    v = values
    failed: list[tuple[str, str]] = []
    advice: list[str] = []
    ratio = v["contrast_ratio"]
    cells = "brighter" if v["polarity"] > 0 else "darker"
    inverted = bool(np.isfinite(ratio) and ratio <= -th.no_cells_contrast)
    no_cells = not inverted and (bool(np.isfinite(ratio) and abs(ratio) < th.no_cells_contrast)
                                 or v["dice_ratio"] < th.no_cells_dice_ratio)
    if no_cells:
        failed.append(("no_cells", f"cells are not drawn (contrast x{ratio:.2f} of real's, Dice {v['dice']:.2f} vs real "
                                   f"{v['dice_real']:.2f})"))
        advice.append("Train longer (--minutes, or more --lo-steps/--sr-steps) and look at the sample PNGs;"
                      " check that the masks belong to the images (same frames, same size).")
    elif inverted:
        failed.append(("polarity", f"cells drawn with the wrong polarity (contrast x{ratio:.2f}; real cells are {cells} "
                                   "than the background)"))
        advice.append(f"Check the data's polarity: real cells are {cells} than the background; the DeepSea perceptual loss"
                      f" needs --set deepsea_invert={'true' if v['polarity'] > 0 else 'false'} for such data.")
    else:
        lo, hi = th.contrast_range
        if np.isfinite(ratio) and not lo <= ratio <= hi:
            failed.append(("contrast", f"cell contrast x{ratio:.2f} of real's, outside [{lo:g}, {hi:g}]"))
        if v["dice_ratio"] < th.min_dice_ratio:
            failed.append(("dice", f"Dice {v['dice']:.2f} < {th.min_dice_ratio:g} x real's {v['dice_real']:.2f}"))
        if failed:
            advice.append("Train longer (--minutes); if cells stay misplaced, check that masks and images are aligned.")
    shifts = {"cell_mean": v["cell_mean"] - v["cell_mean_real"], "background_mean": v["background_mean"] - v["background_mean_real"]}
    intensity_failed = False
    for name, d in shifts.items():
        if abs(d) > th.max_mean_shift:
            failed.append((name, f"{name.replace('_', ' ')} {d:+.2f} off real's (limit {th.max_mean_shift:g})"))
            intensity_failed = True
    if v["w1"] > th.max_w1:
        failed.append(("w1", f"intensity histogram W1 {v['w1']:.3f} > {th.max_w1:g}"))
        intensity_failed = True
    if intensity_failed and not no_cells:
        advice.append("Intensities differ from the real data: train longer; check the intensity mapping"
                      " (--set percentiles=[0.5,99.5]) and that the held-back frames look like the rest.")
    return QualityReport(values=dict(v), passed=not failed, no_cells=no_cells, failed=failed, advice=advice, thresholds=th)
