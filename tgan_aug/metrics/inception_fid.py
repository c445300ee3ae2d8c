"""FID-Inception: the classic frame-level FID, only when the user gives local Inception-v3 weights.

It is a per-frame image metric (not FVD). Frames are mapped from REAL's intensity range to [-1, 1],
repeated to 3 channels and resized to 299x299.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tgan_aug.metrics._checks import as_video, check_range
from tgan_aug.metrics.distribution import frechet_distance


def inception_frame_features(
    video: np.ndarray, *, model: torch.nn.Module, data_range: tuple[float, float], device: str | torch.device = "cpu", batch: int = 8
) -> np.ndarray:
    """(T, 2048) float64 Inception pool features of a (T, Y, X) video."""
    video = as_video(video, "video")
    lo, hi = check_range(data_range, "data_range")
    out = []
    with torch.inference_mode():
        for t0 in range(0, video.shape[0], batch):
            a = (np.asarray(video[t0 : t0 + batch], dtype=np.float32) - lo) * (2.0 / (hi - lo)) - 1.0
            out.append(model(torch.from_numpy(a)[:, None].to(device)).double().cpu().numpy())
    return np.concatenate(out)


def inception_fid(
    real: np.ndarray, fake: np.ndarray, *, weights: str | Path, data_range: tuple[float, float], device: str | torch.device = "cpu", batch: int = 8
) -> float:
    """Fréchet distance between the per-frame Inception-v3 features of REAL and FAKE ((T, Y, X) each, any sizes)."""
    from tgan_aug.features.inception import load_inception_features

    model = load_inception_features(weights, device=device)
    fr = inception_frame_features(real, model=model, data_range=data_range, device=device, batch=batch)
    ff = inception_frame_features(fake, model=model, data_range=data_range, device=device, batch=batch)
    return frechet_distance(fr, ff)
