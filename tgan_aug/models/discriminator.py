"""PatchGAN discriminator with a linear-attention layer early on (paper Figure S4).

Logits are (B, 1, H / 2**disc_layers, W / 2**disc_layers): the output size follows the input size
(no hard-coded target size such as the authors' 30x46).
"""

from __future__ import annotations

import torch
from torch import nn

from tgan_aug.models.config import ModelConfig
from tgan_aug.models.layers import LinearAttention

__all__ = ["PatchDiscriminator"]


class PatchDiscriminator(nn.Module):
    """PatchGAN: ``disc_layers`` stride-2 4x4 convs (channels doubling, capped at 8x), 3x3 head.

    Args:
        in_channels: channels of the input, e.g. n frames + n masks for the low-res stage.
        cfg: uses disc_channels, disc_layers, disc_attention.
    """

    def __init__(self, in_channels: int, cfg: ModelConfig) -> None:
        super().__init__()
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f"PatchDiscriminator: in_channels must be a positive int, got {in_channels!r}")
        self.cfg = cfg
        self.in_channels = in_channels
        c = cfg.disc_channels
        blocks: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_channels, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2))]
        self.attention = LinearAttention(c) if cfg.disc_attention else None
        for i in range(1, cfg.disc_layers):
            c_in, c_out = c * min(2 ** (i - 1), 8), c * min(2**i, 8)
            blocks.append(nn.Sequential(
                nn.Conv2d(c_in, c_out, 4, stride=2, padding=1),
                nn.GroupNorm(min(8, c_out // 2) if c_out >= 2 else 1, c_out),
                nn.LeakyReLU(0.2),
            ))
        c_last = c * min(2 ** (cfg.disc_layers - 1), 8)
        blocks.append(nn.Sequential(
            nn.Conv2d(c_last, c_last, 3, padding=1),
            nn.GroupNorm(min(8, c_last // 2) if c_last >= 2 else 1, c_last),
            nn.LeakyReLU(0.2),
        ))
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(c_last, 1, 3, padding=1)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Size (h', w') of the logits for an input of (height, width)."""
        m = 2**self.cfg.disc_layers
        return height // m, width // m

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x (B, in_channels, H, W) -> (logits (B, 1, H/2**L, W/2**L), features of each block).

        H and W must be multiples of 2**disc_layers. Features are for feature-matching losses.
        """
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != self.in_channels:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"discriminator input: expected (B, {self.in_channels}, H, W), got {got}")
        self.cfg.check_size(x.shape[-2], x.shape[-1], what="discriminator input size",
                            multiple=2**self.cfg.disc_layers, exc=ValueError)
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == 0 and self.attention is not None:
                x = self.attention(x)
            feats.append(x)
        return self.head(x), feats
