"""Augmentation: video-level vanilla augmentation (numpy) and DiffAugment (torch).

Vanilla (paper, Figure S6A): with probability ``p_vanilla`` a clip gets a random sequence of
functions, each chosen with probability 1/2, in random order; each function draws its parameters
once and applies them to every frame of the clip, its masks and its background, so motion and
mask alignment are kept.

DiffAugment (paper, Figure S6B; Zhao et al. 2020): with probability ``p_diff`` the discriminator's
inputs get brightness, "saturation", contrast, translation and cutout, each chosen with probability
1/2, in random order. The parameters are drawn once per step (:func:`sample_diffaug`) and applied
by :func:`apply_diffaug` to the real and to the fake inputs alike. Intensity functions touch only
the image channels; translation and cutout move/cut image and mask channels together. Grayscale
images have no saturation: its equivalent here scales the local detail around a 5x5 box mean
(x -> mean + s (x - mean), s in [0, 2]), the same interpolation toward/away from a "gray" version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["VANILLA_OPS", "vanilla_augment", "DIFF_OPS", "DiffAugParams", "sample_diffaug", "apply_diffaug"]

VANILLA_OPS = ("hflip", "vflip", "rot", "crop", "brightness", "contrast", "gamma", "sharpness", "noise", "blur")
DIFF_OPS = ("brightness", "saturation", "contrast", "translation", "cutout")


def _resize_stack(x: np.ndarray, size: tuple[int, int], interp: int) -> np.ndarray:
    h, w = size
    return np.stack([cv2.resize(f, (w, h), interpolation=interp) for f in x])


def vanilla_augment(
    images: np.ndarray,
    masks: np.ndarray,
    background: np.ndarray,
    *,
    rng: np.random.Generator,
    ops: tuple[str, ...] = VANILLA_OPS,
    p_op: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One random video-level augmentation, identical on every frame, mask and the background.

    images: (L, H, W) float in [-1, 1]; masks: (L, H, W) bool or {0,1}; background: (H, W) float.
    rng: numpy Generator (all randomness comes from it).
    ops: the functions to choose from (each with probability ``p_op``, applied in random order).
    Returns (images float32 (L, H, W) clipped to [-1, 1], masks bool (L, H, W), background float32 (H, W)).
    Shapes are kept: ``rot`` turns by 90 degrees only when H == W (else 180), ``crop`` resizes back.
    """
    unknown = set(ops) - set(VANILLA_OPS)
    if unknown:
        raise ValueError(f"unknown vanilla augmentation(s) {sorted(unknown)}; known: {VANILLA_OPS}")
    x = np.asarray(images, dtype=np.float32)
    m = np.asarray(masks).astype(bool)
    b = np.asarray(background, dtype=np.float32)
    L, H, W = x.shape
    chosen = [op for op in ops if rng.random() < p_op]
    rng.shuffle(chosen)
    for op in chosen:
        if op == "hflip":
            x, m, b = x[:, :, ::-1], m[:, :, ::-1], b[:, ::-1]
        elif op == "vflip":
            x, m, b = x[:, ::-1], m[:, ::-1], b[::-1]
        elif op == "rot":
            k = int(rng.choice([1, 2, 3])) if H == W else 2
            x, m, b = np.rot90(x, k, axes=(1, 2)), np.rot90(m, k, axes=(1, 2)), np.rot90(b, k)
        elif op == "crop":
            s = float(rng.uniform(0.7, 0.95))
            ch, cw = max(2, int(round(H * s))), max(2, int(round(W * s)))
            y0, x0 = int(rng.integers(0, H - ch + 1)), int(rng.integers(0, W - cw + 1))
            xs = np.ascontiguousarray(x[:, y0 : y0 + ch, x0 : x0 + cw])
            ms = np.ascontiguousarray(m[:, y0 : y0 + ch, x0 : x0 + cw]).astype(np.float32)
            bs = np.ascontiguousarray(b[y0 : y0 + ch, x0 : x0 + cw])
            x = _resize_stack(xs, (H, W), cv2.INTER_LINEAR)
            m = _resize_stack(ms, (H, W), cv2.INTER_LINEAR) >= 0.5
            b = cv2.resize(bs, (W, H), interpolation=cv2.INTER_LINEAR)
        elif op == "brightness":
            d = float(rng.uniform(-0.2, 0.2))
            x, b = x + d, b + d
        elif op == "contrast":
            c = float(rng.uniform(0.7, 1.3))
            mean = float(x.mean())
            x, b = (x - mean) * c + mean, (b - mean) * c + mean
        elif op == "gamma":
            g = float(np.exp(rng.uniform(np.log(0.7), np.log(1.4))))
            x = ((np.clip(x, -1, 1) + 1) / 2) ** g * 2 - 1
            b = ((np.clip(b, -1, 1) + 1) / 2) ** g * 2 - 1
        elif op == "sharpness":
            a = float(rng.uniform(-0.5, 1.0))  # < 0 softens, > 0 sharpens
            xb = np.stack([cv2.GaussianBlur(np.ascontiguousarray(f), (0, 0), 1.0) for f in x])
            bb = cv2.GaussianBlur(np.ascontiguousarray(b), (0, 0), 1.0)
            x, b = x + a * (x - xb), b + a * (b - bb)
        elif op == "noise":
            sigma = float(rng.uniform(0.0, 0.06))
            x = x + rng.standard_normal(x.shape, dtype=np.float32) * np.float32(sigma)
        elif op == "blur":
            sigma = float(rng.uniform(0.4, 1.2))
            x = np.stack([cv2.GaussianBlur(np.ascontiguousarray(f), (0, 0), sigma) for f in x])
            b = cv2.GaussianBlur(np.ascontiguousarray(b), (0, 0), sigma)
    x = np.clip(np.ascontiguousarray(x, dtype=np.float32), -1.0, 1.0)
    b = np.clip(np.ascontiguousarray(b, dtype=np.float32), -1.0, 1.0)
    return x, np.ascontiguousarray(m), b


# ---------------------------------------------------------------------------- DiffAugment
@dataclass
class DiffAugParams:
    """Parameters of one DiffAugment draw (per sample, CPU tensors); ``order`` empty = identity."""

    order: list[str] = field(default_factory=list)
    brightness: torch.Tensor | None = None  # (B,) added, in [-0.5, 0.5)
    saturation: torch.Tensor | None = None  # (B,) detail factor in [0, 2)
    contrast: torch.Tensor | None = None  # (B,) factor in [0.5, 1.5)
    translation: torch.Tensor | None = None  # (B, 2) integer shift (dy, dx) in pixels
    cutout: torch.Tensor | None = None  # (B, 2) centre (cy, cx) of a half-size box, pixels


def sample_diffaug(
    batch: int, height: int, width: int, *, p: float, generator: torch.Generator, ratio: float = 0.125
) -> DiffAugParams:
    """Draw DiffAugment parameters for a batch of (height, width) inputs.

    With probability ``p`` the draw is active; then each of :data:`DIFF_OPS` is chosen with
    probability 1/2 and the chosen ones are ordered at random. ``generator`` is a CPU generator.
    ``ratio``: maximum translation as a fraction of the size.
    """
    g = generator
    params = DiffAugParams()
    if float(torch.rand((), generator=g)) >= p:
        return params
    chosen = [op for op in DIFF_OPS if float(torch.rand((), generator=g)) < 0.5]
    perm = torch.randperm(len(chosen), generator=g).tolist()
    params.order = [chosen[i] for i in perm]
    params.brightness = torch.rand(batch, generator=g) - 0.5
    params.saturation = torch.rand(batch, generator=g) * 2
    params.contrast = torch.rand(batch, generator=g) + 0.5
    sy, sx = int(height * ratio + 0.5), int(width * ratio + 0.5)
    params.translation = torch.stack(
        [torch.randint(-sy, sy + 1, (batch,), generator=g), torch.randint(-sx, sx + 1, (batch,), generator=g)], dim=1
    )
    params.cutout = torch.stack(
        [torch.randint(0, height, (batch,), generator=g), torch.randint(0, width, (batch,), generator=g)], dim=1
    )
    return params


def _shift(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Integer translation per sample with zero fill. x (B, C, H, W); shifts (B, 2) (dy, dx)."""
    B, C, H, W = x.shape
    dev = x.device
    yy = torch.arange(H, device=dev).view(1, H, 1) - shifts[:, 0].to(dev).view(B, 1, 1)
    xx = torch.arange(W, device=dev).view(1, 1, W) - shifts[:, 1].to(dev).view(B, 1, 1)
    valid = ((yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)).unsqueeze(1)
    idx = (yy.clamp(0, H - 1) * W + xx.clamp(0, W - 1)).view(B, 1, H * W).expand(B, C, H * W)
    out = torch.gather(x.reshape(B, C, H * W), 2, idx).view(B, C, H, W)
    return out * valid.to(x.dtype)


def apply_diffaug(x: torch.Tensor, params: DiffAugParams, *, image_channels: int) -> torch.Tensor:
    """Apply one DiffAugment draw to discriminator inputs (differentiable in ``x``).

    x: (B, C, H, W); the first ``image_channels`` channels are images in [-1, 1], the rest masks.
    Intensity functions change image channels only; translation/cutout move/cut all channels.
    The same ``params`` applied to real and fake inputs transform them identically.
    """
    if not params.order:
        return x
    B, C, H, W = x.shape
    dev, dt = x.device, x.dtype
    img, rest = x[:, :image_channels], x[:, image_channels:]

    def col(t: torch.Tensor) -> torch.Tensor:
        return t.to(device=dev, dtype=dt).view(B, 1, 1, 1)

    for op in params.order:
        if op == "brightness":
            img = img + col(params.brightness)
        elif op == "saturation":
            mean = F.avg_pool2d(F.pad(img, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
            img = mean + (img - mean) * col(params.saturation)
        elif op == "contrast":
            mean = img.mean(dim=(1, 2, 3), keepdim=True)
            img = (img - mean) * col(params.contrast) + mean
        elif op == "translation":
            both = _shift(torch.cat([img, rest], 1), params.translation)
            img, rest = both[:, :image_channels], both[:, image_channels:]
        elif op == "cutout":
            ch, cw = max(1, H // 2), max(1, W // 2)
            cy = params.cutout[:, 0].to(dev).view(B, 1, 1)
            cx = params.cutout[:, 1].to(dev).view(B, 1, 1)
            yy = torch.arange(H, device=dev).view(1, H, 1)
            xx = torch.arange(W, device=dev).view(1, 1, W)
            inside = ((yy - cy).abs() < ch / 2) & ((xx - cx).abs() < cw / 2)
            keep = (~inside).unsqueeze(1).to(dt)
            img, rest = img * keep, rest * keep
    return torch.cat([img, rest], 1)
