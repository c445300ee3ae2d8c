"""Paired perceptual distance on VGG19 features from a local weights file (LPIPS-style, unit weights).

True LPIPS needs its learned per-channel weights (another download); this is the unweighted variant and
is reported as ``VGG19-perceptual``. The DeepSea variant is computed in :mod:`tgan_aug.metrics.deepsea_pass`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tgan_aug.metrics._checks import as_video, check_paired, check_range
from tgan_aug.metrics.deepsea_pass import lpips_style
from tgan_aug.metrics.paired import PROTOCOLS, Protocol

VGG_LPIPS_LAYERS: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4")


def _to_signed(frames: np.ndarray, data_range: tuple[float, float], protocol: str) -> torch.Tensor:
    a = frames.astype(np.float32)
    if protocol == "paper-minmax":
        lo = a.min(axis=(1, 2), keepdims=True)
        span = a.max(axis=(1, 2), keepdims=True) - lo
        a = (a - lo) / np.where(span > 0, span, 1.0)
    else:
        lo, hi = data_range
        a = (a - lo) / (hi - lo)
    return torch.from_numpy(a * 2 - 1)[:, None]


def vgg19_perceptual_frames(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    weights: str | Path,
    data_range: tuple[float, float],
    protocol: Protocol = "strict",
    device: str | torch.device = "cpu",
    batch: int = 4,
) -> np.ndarray:
    """Per-frame LPIPS-style VGG19 distance between paired videos.

    real, fake: (T, Y, X), same shape. weights: local torchvision VGG19 state-dict file.
    data_range: REAL's (lo, hi) for the strict protocol. Returns (T,) float64 >= 0 (0 = identical).
    """
    from tgan_aug.errors import UserError
    from tgan_aug.features.vgg19 import load_vgg19_features

    real = as_video(real, "real")
    fake = as_video(fake, "fake")
    check_paired(real, fake, what="the VGG19 perceptual distance")
    if protocol not in PROTOCOLS:
        raise UserError(f"protocol={protocol!r}: expected one of {PROTOCOLS}")
    data_range = check_range(data_range, "data_range")
    device = torch.device(device)
    net = load_vgg19_features(weights, layers=VGG_LPIPS_LAYERS, device=device)
    out = []
    with torch.inference_mode():
        for t0 in range(0, real.shape[0], batch):
            xr = _to_signed(np.asarray(real[t0 : t0 + batch]), data_range, protocol).to(device)
            xf = _to_signed(np.asarray(fake[t0 : t0 + batch]), data_range, protocol).to(device)
            out.append(lpips_style(net(xr), net(xf)).double().cpu().numpy())
    return np.concatenate(out)
