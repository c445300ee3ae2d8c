"""The metric registry: every metric the suite can report, with its family, direction and meaning.

Names say what a metric is: FID on DeepSea features is ``FID-DeepSea`` (not FID), a Fréchet distance on
clip descriptors is ``FD-DeepSea-clipL`` (not FVD), and perceptual distances without LPIPS's learned
layer weights are ``*-perceptual`` (not LPIPS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Family = Literal["paired", "distribution", "temporal", "microscopy"]
#: the metric families, in the order :func:`tgan_aug.metrics.evaluate_videos` runs them
FAMILIES: tuple[str, ...] = get_args(Family)


@dataclass(frozen=True)
class MetricSpec:
    """What one reported number means. ``better``: "lower" or "higher" is better, or "match" (compare with REAL)."""

    name: str
    family: Family
    better: Literal["lower", "higher", "match"]
    unit: str
    description: str
    paired: bool = False  #: needs REAL and FAKE rendered from the same masks
    labels: bool = False  #: uses the masks


#: drift summaries (tgan_aug.metrics.stability.drift_summary): key, unit, description of the REAL row
_DRIFT: tuple[tuple[str, str, str], ...] = (
    ("contrast", "fraction", "drift over the video: max |relative change| of the cell - background contrast against its first 3 frames"),
    ("contrast-slope", "fraction/100 frames", "trend of the contrast's relative change (least-squares slope per 100 frames; < 0 = fading)"),
    ("sharpness", "fraction", "drift: max |relative change| of the mean gradient magnitude (blur or noise creeping in)"),
    ("centre-intensity", "range", "drift: max |change| of the centre-minus-border background intensity (a dark patch growing in the centre)"),
    ("centre-sharpness", "fraction", "drift: max |relative change| of the centre-over-border gradient magnitude (a blurred patch growing in the centre)"),
)


def _specs(clip_length: int) -> list[MetricSpec]:
    L = clip_length
    return [
        MetricSpec("SSIM", "paired", "higher", "", "structural similarity per frame pair (skimage, 7x7 window), mean over frames", paired=True),
        MetricSpec("PSNR", "paired", "higher", "dB", "peak signal-to-noise ratio per frame pair, mean over frames (capped at 100 dB)", paired=True),
        MetricSpec("DeepSea-perceptual", "paired", "lower", "", "LPIPS-style distance (unit weights) on DeepSea res1-res3 features, mean over frames", paired=True),
        MetricSpec("VGG19-perceptual", "paired", "lower", "", "LPIPS-style distance (unit weights) on ImageNet VGG19 relu1_2, relu2_2, relu3_4, relu4_4, relu5_4 (local weights file)", paired=True),
        MetricSpec("FID-DeepSea", "distribution", "lower", "", "Fréchet distance between per-frame DeepSea features (channel means of res1-res3, 448-d); frame order ignored"),
        MetricSpec("KID-DeepSea", "distribution", "lower", "", "kernel distance (unbiased MMD^2, cubic kernel) between per-frame DeepSea features; ~0 for same distribution"),
        MetricSpec(f"FD-DeepSea-clip{L}", "distribution", "lower", "", f"Fréchet distance between descriptors of {L}-frame clips: mean DeepSea features + mean |feature change| between frames (order-sensitive)"),
        MetricSpec(f"KID-DeepSea-clip{L}", "distribution", "lower", "", f"kernel distance between the {L}-frame clip descriptors"),
        MetricSpec("FID-Inception", "distribution", "lower", "", "Fréchet distance between per-frame Inception-v3 pool features (local weights file); frame-level, not FVD"),
        MetricSpec("warp-error-real", "temporal", "match", "range", "optical-flow warping error between consecutive REAL frames (Gaussian-smoothed), mean over pairs"),
        MetricSpec("warp-error-fake", "temporal", "match", "range", "the same for FAKE"),
        MetricSpec("warp-error-logratio", "temporal", "lower", "", "|log(warp-error-fake / warp-error-real)|: flicker (too high) or frozen video (too low)"),
        MetricSpec("flicker-real", "temporal", "match", "range", "mean |change| of each cell's mean intensity between consecutive frames along its track, REAL", labels=True),
        MetricSpec("flicker-fake", "temporal", "match", "range", "the same for FAKE", labels=True),
        MetricSpec("flicker-logratio", "temporal", "lower", "", "|log(flicker-fake / flicker-real)|", labels=True),
        MetricSpec("frame-parity-real", "temporal", "match", "range", "2-frame flicker: mean over (track, t) of |I_t - (I_t-1 + I_t+1)/2|, I = a cell's mean intensity, over the video's 1-99 % range; ~0.01 on real video", labels=True),
        MetricSpec("frame-parity-fake", "temporal", "match", "range", "the same for FAKE (its own 1-99 % range)", labels=True),
        MetricSpec("frame-parity-logratio", "temporal", "lower", "", "|log(frame-parity-fake / frame-parity-real)|: 2-frame flicker (too high) or frozen cells (too low)", labels=True),
        *(MetricSpec(f"drift-{key}-{side}", "temporal", "match", unit, (desc if side == "real" else "the same for FAKE, over its own length"), labels=True)
          for key, unit, desc in _DRIFT for side in ("real", "fake")),
        MetricSpec("histogram-W1", "microscopy", "lower", "range", "Wasserstein-1 distance between the intensity histograms"),
        MetricSpec("spectrum-L1", "microscopy", "lower", "decades", "mean |log10 difference| of the radially averaged power spectra"),
        MetricSpec("mask-stats-L1", "microscopy", "lower", "range", "mean |difference| of inside/outside-mask mean, std and gradient magnitude", labels=True),
        MetricSpec("cell-mean-error", "microscopy", "lower", "range", "|mean intensity inside cells, FAKE - REAL|", labels=True),
        MetricSpec("background-mean-error", "microscopy", "lower", "range", "|mean intensity outside cells, FAKE - REAL|", labels=True),
        MetricSpec("cell-intensity-KS", "microscopy", "lower", "", "Kolmogorov-Smirnov statistic between per-cell mean intensities (one value per cell and frame)", labels=True),
        MetricSpec("contact-contrast-real", "microscopy", "match", "fraction", "where two cells touch (one-pixel gaps and shared borders), the intensity as a fraction of the way from the cells' inside to the background around them, REAL (0 = touching cells look merged)", labels=True),
        MetricSpec("contact-contrast-fake", "microscopy", "match", "fraction", "the same for FAKE (a renderer that draws background between touching cells scores higher)", labels=True),
        MetricSpec("contact-contrast-error", "microscopy", "lower", "fraction", "|contact-contrast-fake - contact-contrast-real|", labels=True),
    ]


def metric_specs(*, clip_length: int = 8) -> dict[str, MetricSpec]:
    """All metric specs by name (clip metrics are named after ``clip_length``)."""
    return {s.name: s for s in _specs(clip_length)}


def metric_spec(name: str, *, clip_length: int = 8) -> MetricSpec:
    """The spec of metric ``name``; an unknown name raises ``KeyError`` naming it and the registered names.

    For tables and reports that pick metrics by name: a renamed metric fails here instead of
    printing an empty cell.
    """
    specs = metric_specs(clip_length=clip_length)
    if name not in specs:
        import difflib

        close = difflib.get_close_matches(name, specs, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; registered: {', '.join(specs)}"
        raise KeyError(f"metric {name!r} is not in tgan_aug.metrics.registry (clip_length={clip_length}){hint}")
    return specs[name]
