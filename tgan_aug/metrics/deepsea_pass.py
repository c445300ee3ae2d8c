"""One streaming pass of DeepSea features over REAL and FAKE, feeding several metrics at once.

Per frame it keeps only small vectors: the channel means of each feature level (a pooled descriptor for
FID/KID-DeepSea), the channel means of the absolute change of each level's maps from the previous frame
(for clip descriptors), and for paired videos an LPIPS-style distance between REAL's and FAKE's maps.
Both videos are fed to the network through the SAME affine intensity mapping (``input_range`` -> [-1, 1]),
so brightness differences between REAL and FAKE stay visible to the features.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from tgan_aug.errors import UserError
from tgan_aug.metrics._checks import as_video, check_paired, check_range


@dataclass
class DeepSeaPass:
    """Results of :func:`deepsea_pass`. D = sum of the channels of the levels used (448 for res1-res3)."""

    real_frames: np.ndarray  #: (T_real, D) float64 pooled per-frame features
    fake_frames: np.ndarray  #: (T_fake, D)
    real_change: np.ndarray  #: (T_real - 1, D) pooled |F(t+1) - F(t)|
    fake_change: np.ndarray  #: (T_fake - 1, D)
    perceptual: np.ndarray | None  #: (T,) LPIPS-style distance per frame pair, None when unpaired


def input_range_from(video: np.ndarray, *, percentiles: tuple[float, float] = (0.5, 99.5), max_pixels: int = 2_000_000) -> tuple[float, float]:
    """Robust (lo, hi) of a (T, Y, X) video from sampled pixels, used to map both videos to [-1, 1] for DeepSea."""
    flat = np.asarray(video).reshape(-1)
    step = max(1, flat.size // max_pixels)
    lo, hi = np.percentile(flat[::step].astype(np.float64), percentiles)
    if not hi > lo:
        lo, hi = float(flat.min()), float(flat.max())
    if not hi > lo:
        hi = lo + 1.0
    return float(lo), float(hi)


def lpips_style(feats_a: list[torch.Tensor], feats_b: list[torch.Tensor]) -> torch.Tensor:
    """LPIPS-style distance with unit weights: per level, channel-normalise each pixel's feature vector, take the
    squared difference summed over channels, average over pixels; then average over levels. Returns (B,)."""
    total = 0.0
    for fa, fb in zip(feats_a, feats_b):
        na = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        nb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        total = total + (na - nb).pow(2).sum(1).mean((1, 2))
    return total / len(feats_a)


def _prepare_batch(frames: np.ndarray, input_range: tuple[float, float], scale: float, device: torch.device) -> torch.Tensor:
    import cv2

    lo, hi = input_range
    out = []
    for fr in frames:
        a = (fr.astype(np.float32) - lo) * (2.0 / (hi - lo)) - 1.0
        if scale != 1.0:
            h, w = a.shape
            a = cv2.resize(a, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        out.append(a)
    return torch.from_numpy(np.stack(out))[:, None].to(device)


def _iter_maps(video, features, input_range, scale, batch, device) -> Iterator[list[torch.Tensor]]:
    for t0 in range(0, video.shape[0], batch):
        x = _prepare_batch(np.asarray(video[t0 : t0 + batch]), input_range, scale, device)
        yield features(x)


class _Accumulator:
    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.change: list[np.ndarray] = []
        self.prev: list[torch.Tensor] | None = None

    def add(self, maps: list[torch.Tensor]) -> None:
        self.frames.append(torch.cat([m.mean((2, 3)) for m in maps], 1).double().cpu().numpy())
        if self.prev is not None:
            maps_full = [torch.cat([p, m], 0) for p, m in zip(self.prev, maps)]
        else:
            maps_full = maps
        if maps_full[0].shape[0] > 1:
            self.change.append(torch.cat([(m[1:] - m[:-1]).abs().mean((2, 3)) for m in maps_full], 1).double().cpu().numpy())
        self.prev = [m[-1:] for m in maps]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        frames = np.concatenate(self.frames, 0)
        change = np.concatenate(self.change, 0) if self.change else np.zeros((0, frames.shape[1]))
        return frames, change


def deepsea_pass(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    input_range: tuple[float, float],
    paired: bool,
    invert: bool = False,
    scale: float = 0.5,
    batch: int = 4,
    device: str | torch.device = "cpu",
    features: torch.nn.Module | None = None,
    progress=None,
) -> DeepSeaPass:
    """DeepSea features of REAL and FAKE in one pass.

    real, fake: (T, Y, X) videos (any real dtype; zarr arrays work, frames are read batch by batch).
    input_range: (lo, hi) in image units mapped to [-1, 1] for both videos (see :func:`input_range_from`).
    paired: also compute the per-frame LPIPS-style distance (needs equal T, Y, X).
    invert: feed inverted intensities (cells brighter than background). scale: resize factor before the
    network (0.5 = half size, as DeepSea's training data). features: a ``DeepSeaFeatures`` to reuse.
    progress: optional callable(n_frames_done) for progress bars.
    """
    from tgan_aug.features.deepsea import DeepSeaFeatures

    real = as_video(real, "real", min_frames=2)
    fake = as_video(fake, "fake", min_frames=2)
    if paired:
        check_paired(real, fake, what="the DeepSea perceptual distance")
    input_range = check_range(input_range, "input_range")
    if not (0 < scale <= 4):
        raise UserError(f"feature scale must be in (0, 4], got {scale}")
    device = torch.device(device)
    if features is None:
        features = DeepSeaFeatures(invert=invert, device=device)
    acc_r, acc_f = _Accumulator(), _Accumulator()
    dists: list[np.ndarray] = []
    with torch.inference_mode():
        if paired:
            for mr, mf in zip(
                _iter_maps(real, features, input_range, scale, batch, device),
                _iter_maps(fake, features, input_range, scale, batch, device),
            ):
                acc_r.add(mr)
                acc_f.add(mf)
                dists.append(lpips_style(mr, mf).double().cpu().numpy())
                if progress:
                    progress(mr[0].shape[0])
        else:
            for acc, video in ((acc_r, real), (acc_f, fake)):
                for maps in _iter_maps(video, features, input_range, scale, batch, device):
                    acc.add(maps)
                    if progress:
                        progress(maps[0].shape[0] / 2)
    rf, rc = acc_r.result()
    ff, fc = acc_f.result()
    return DeepSeaPass(rf, ff, rc, fc, np.concatenate(dists) if paired else None)
