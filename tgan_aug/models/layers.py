"""Building blocks: mapping network, StyleGAN2 modulated convolution, noise injection, attentions.

All modules are device-agnostic (they follow the device of their inputs/parameters; no ``.cuda()``).
Feature maps are (B, C, H, W) float tensors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "EqualLinear",
    "MappingNetwork",
    "ModulatedConv2d",
    "NoiseInjection",
    "StyledConv",
    "ToImage",
    "ConvBlock",
    "Encoder",
    "SourceAttention",
    "LinearAttention",
]

_LRELU_GAIN = math.sqrt(2.0)


class EqualLinear(nn.Module):
    """Linear layer with equalized learning rate (weights ~ N(0, 1) scaled at run time), StyleGAN style.

    Args:
        in_features, out_features: sizes.
        bias_init: initial bias value (1.0 for style affines, so styles start at identity).
        lr_mul: learning-rate multiplier (0.01 in the mapping network).
        activation: apply leaky ReLU (slope 0.2) times sqrt(2).
        init_gain: initial weights are ``init_gain * N(0, 1)`` (1 = StyleGAN2; 0 = the layer starts
            as the constant ``bias_init``).
    """

    def __init__(self, in_features: int, out_features: int, *, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activation: bool = False, init_gain: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) * (float(init_gain) / lr_mul))
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        if self.activation:
            out = F.leaky_relu(out, 0.2) * _LRELU_GAIN
        return out


class MappingNetwork(nn.Module):
    """z (B, style_dim) -> w (B, style_dim): pixel-norm then ``n_layers`` leaky-ReLU MLP layers (lr_mul 0.01)."""

    def __init__(self, style_dim: int, n_layers: int, *, lr_mul: float = 0.01) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            *[EqualLinear(style_dim, style_dim, lr_mul=lr_mul, activation=True) for _ in range(n_layers)]
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
        return self.layers(z)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated convolution with optional weight demodulation.

    The style w (B, style_dim) is mapped by an affine layer to per-input-channel scales s (B, C_in);
    the effective weight for sample b is W * s_b, divided (demodulation) by its L2 norm per output
    channel. Implemented without grouped convs: x * s -> conv -> * demod (same result, faster).

    ``style_init`` scales the affine's initial weights: 1 is StyleGAN2 (s = 1 + N(0, ~1) per channel:
    each sequence's style rescales every input channel at random from the first step, which a
    *conditional* generator must first learn to undo); 0 starts with s = 1 for every style, the
    identity, and lets training grow the style's influence.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
                 *, demodulate: bool = True, style_init: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.affine = EqualLinear(style_dim, in_channels, bias_init=1.0, init_gain=style_init)
        self.demodulate = demodulate
        self.padding = kernel_size // 2

    #: with one style for the whole batch (w of shape (1, style_dim), as when rendering the frames
    #: of one sequence), fold modulation and demodulation into the weight: a plain conv, one full
    #: pass over the activations fewer, the same result up to float rounding.
    fold_single_style: bool = True

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.affine(w)  # (B, C_in)
        weight = self.weight * self.scale
        if s.shape[0] == 1 and self.fold_single_style:
            folded = weight * s[0][None, :, None, None]  # (C_out, C_in, k, k)
            if self.demodulate:
                folded = folded * torch.rsqrt(folded.pow(2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
            return F.conv2d(x, folded.to(x.dtype), padding=self.padding)
        x = x * s[:, :, None, None].to(x.dtype)
        out = F.conv2d(x, weight.to(x.dtype), padding=self.padding)
        if self.demodulate:
            # ||W * s||^2 per (b, out) = sum_in s^2 * sum_k W^2
            wsq = weight.pow(2).sum(dim=(2, 3))  # (C_out, C_in)
            demod = torch.rsqrt(s.pow(2) @ wsq.t() + 1e-8)  # (B, C_out)
            out = out * demod[:, :, None, None].to(out.dtype)
        return out


class NoiseInjection(nn.Module):
    """x + strength * noise, noise (B, 1, H, W) per pixel, learned per-channel strength.

    ``init``: initial strength (StyleGAN2 and the default here: 0, so training starts without noise).
    """

    def __init__(self, channels: int, *, init: float = 0.0) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.full((1, channels, 1, 1), float(init)))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if noise is None:
            return x
        if not torch.is_grad_enabled():  # inference: in place, no temporary of x's size
            return x.addcmul_(self.strength.to(x.dtype), noise.to(x.dtype))
        return x + self.strength.to(x.dtype) * noise.to(x.dtype)


class StyledConv(nn.Module):
    """3x3 conv + bias + leaky ReLU; with ``styled`` it is modulated by w and receives per-pixel noise.

    With ``styled=False`` (ablation ``use_style_noise=False``) it is a plain conv; w and noise are ignored.
    ``style_init`` / ``noise_init``: see :class:`ModulatedConv2d` and :class:`NoiseInjection`.
    """

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, *, styled: bool = True,
                 style_init: float = 1.0, noise_init: float = 0.0) -> None:
        super().__init__()
        self.styled = styled
        if styled:
            self.conv = ModulatedConv2d(in_channels, out_channels, 3, style_dim, style_init=style_init)
            self.noise = NoiseInjection(out_channels, init=noise_init)
        else:
            self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
            self.noise = None
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor | None, noise: torch.Tensor | None) -> torch.Tensor:
        if self.styled:
            x = self.conv(x, w)
            x = self.noise(x, noise)
        else:
            x = self.conv(x)
        if not torch.is_grad_enabled():  # inference: x is this layer's own fresh tensor, update in place
            return F.leaky_relu_(x.add_(self.bias.to(x.dtype)), 0.2)
        return F.leaky_relu(x + self.bias.to(x.dtype), 0.2)


class ToImage(nn.Module):
    """1x1 conv to one channel (modulated without demodulation when styled), before the tanh."""

    def __init__(self, in_channels: int, style_dim: int, *, styled: bool = True, style_init: float = 1.0) -> None:
        super().__init__()
        self.styled = styled
        if styled:
            self.conv = ModulatedConv2d(in_channels, 1, 1, style_dim, demodulate=False, style_init=style_init)
        else:
            self.conv = nn.Conv2d(in_channels, 1, 1, bias=False)
        self.bias = nn.Parameter(torch.zeros(1, 1, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        x = self.conv(x, w) if self.styled else self.conv(x)
        return x + self.bias.to(x.dtype)


class ConvBlock(nn.Module):
    """Two 3x3 conv + leaky ReLU layers (encoder block)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(0.2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Encoder(nn.Module):
    """U-Net encoder: a block at full resolution, then ``len(channels) - 1`` (avg-pool 2x, block) stages.

    forward(x (B, C_in, H, W)) -> list of features, level i is (B, channels[i], H / 2**i, W / 2**i).
    """

    def __init__(self, in_channels: int, channels: list[int]) -> None:
        super().__init__()
        blocks = [ConvBlock(in_channels, channels[0])]
        blocks += [ConvBlock(channels[i - 1], channels[i]) for i in range(1, len(channels))]
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i, block in enumerate(self.blocks):
            if i > 0:
                x = F.avg_pool2d(x, 2)
            x = block(x)
            feats.append(x)
        return feats


class SourceAttention(nn.Module):
    """Learned per-pixel softmax attention over ``n_sources`` feature maps of equal shape.

    Scores (B, n_sources, H, W) come from a small conv over the concatenated sources; weights =
    softmax over the source axis (they sum to 1 at every pixel); fused = sum_s weight_s * feature_s.
    """

    def __init__(self, channels: int, n_sources: int) -> None:
        super().__init__()
        self.n_sources = n_sources
        hidden = max(8, channels // 2)
        self.score = nn.Sequential(
            nn.Conv2d(channels * n_sources, hidden, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(hidden, n_sources, 1),
        )

    def forward(self, feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """feats: list of n_sources tensors (B, C, H, W) -> (fused (B, C, H, W), weights (B, n_sources, H, W))."""
        weights = torch.softmax(self.score(torch.cat(feats, dim=1)), dim=1)
        fused = sum(weights[:, i : i + 1] * f for i, f in enumerate(feats))
        return fused, weights


class LinearAttention(nn.Module):
    """Linear (efficient) self-attention over all pixels, O(H*W) memory, with a zero-init residual gate.

    q is softmax-normalised over channels, k over pixels; context = k v^T per head; out = x + gamma * proj(q^T context).
    """

    def __init__(self, channels: int, *, heads: int = 4, dim_head: int | None = None) -> None:
        super().__init__()
        dim_head = dim_head or max(8, channels // heads)
        self.heads, self.dim_head = heads, dim_head
        inner = heads * dim_head
        self.to_qkv = nn.Conv2d(channels, inner * 3, 1, bias=False)
        self.proj = nn.Conv2d(inner, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = self.to_qkv(x).reshape(b, 3, self.heads, self.dim_head, h * w).unbind(dim=1)
        q = q.softmax(dim=2) * (self.dim_head**-0.5)
        k = k.softmax(dim=3)
        context = torch.einsum("bhdn,bhen->bhde", k, v)
        out = torch.einsum("bhde,bhdn->bhen", context, q).reshape(b, self.heads * self.dim_head, h, w)
        return x + self.gamma * self.proj(out)
