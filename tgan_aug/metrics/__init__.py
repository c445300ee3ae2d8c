"""Realism metrics for rendered microscopy video, offline and named for what they are.

Array functions (one module per family): :mod:`.paired` (SSIM, PSNR), :mod:`.deepsea_pass` (DeepSea
features: perceptual distance and descriptors), :mod:`.distribution` (Fréchet / kernel distances, clip
descriptors), :mod:`.temporal` (warping error, track flicker), :mod:`.stability` (frame parity, drift),
:mod:`.microscopy` (histogram, power spectrum, mask statistics), :mod:`.perceptual` (VGG19 from local
weights). :mod:`.registry` lists every
metric; :func:`evaluate_videos` runs the suite on two ``TrackedVideo``; :func:`evaluate_paths` loads,
evaluates and writes the report (``tgan-aug evaluate``).
"""

from __future__ import annotations

from tgan_aug.metrics.config import EvalConfig
from tgan_aug.metrics.evaluate import EvalResult, evaluate_videos
from tgan_aug.metrics.registry import MetricSpec, metric_spec, metric_specs
from tgan_aug.metrics.run import evaluate_paths

__all__ = ["EvalConfig", "EvalResult", "MetricSpec", "evaluate_paths", "evaluate_videos", "metric_spec", "metric_specs"]
