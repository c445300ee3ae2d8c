"""Super-resolution image-to-image generator (paper Figure S3): low-res frame -> frame at 2x.

Input: the low-res frame upsampled (bilinear) to the output size, concatenated with the mask at
output size. A stem at output resolution feeds a stride-2 U-Net (depth ``cfg.depth``) with the
same style/noise decoder as the low-res generator; an extra x2 decoder stage returns to the output
resolution, joined to the stem features by a skip connection; tanh output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tgan_aug.models.config import ModelConfig
from tgan_aug.models.decoder import StyleDecoder, StyleGeneratorBase, resolve_noise
from tgan_aug.models.layers import ConvBlock, Encoder, MappingNetwork, StyledConv, ToImage
from tgan_aug.models.lowres import _check_image

__all__ = ["SuperResGenerator"]


# |up| is clamped below 1 before atanh: atanh(0.995) = 3.0, where tanh still passes gradient
_RESIDUAL_CLAMP = 0.995


class SuperResGenerator(StyleGeneratorBase):
    """U-Net img2img with style/noise decoder and an extra x2 stage: (B,1,h,w) -> (B,1,2h,2w) in [-1, 1].

    Noise (``make_noise``) covers the U-Net decoder levels plus the two convs of the extra stage;
    draw it once per sequence like the low-res generator's.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        chans = cfg.channels()
        self.stem_channels = max(4, cfg.base_channels // 2)
        styled = cfg.use_style_noise
        self.stem = ConvBlock(2, self.stem_channels)
        self.encoder = Encoder(self.stem_channels, chans)  # runs on the stem downsampled to h x w
        self.mapping_net = MappingNetwork(cfg.style_dim, cfg.mapping_layers) if styled else None
        init = dict(style_init=cfg.style_init, noise_init=cfg.noise_init)
        self.decoder = StyleDecoder(chans, cfg.style_dim, styled=styled, **init)
        self.up_convs = torch.nn.ModuleList([
            StyledConv(chans[0] + self.stem_channels, self.stem_channels, cfg.style_dim, styled=styled, **init),
            StyledConv(self.stem_channels, self.stem_channels, cfg.style_dim, styled=styled, **init),
        ])
        self.to_image = ToImage(self.stem_channels, cfg.style_dim, styled=styled, style_init=cfg.style_init)

    def _default_size(self) -> tuple[int, int]:
        return self.cfg.out_size

    def _noise_level0_size(self, height: int, width: int) -> tuple[int, int]:
        return height // 2, width // 2

    def _check_frame_size(self, height: int, width: int) -> None:
        self.cfg.check_size(height, width, what="super-res output size", multiple=2 * self.cfg.size_multiple, exc=ValueError)

    def noise_shapes(self, height: int, width: int) -> list[tuple[int, int]]:
        """(h, w) of each noise map for an output frame (height, width): U-Net levels, then 2 at full size."""
        return self.decoder.noise_shapes(height // 2, width // 2) + [(height, width)] * 2

    def forward(self, lowres: torch.Tensor, mask: torch.Tensor, w: torch.Tensor | None,
                noise: list[torch.Tensor] | int | None = None) -> torch.Tensor:
        """Upscale one frame.

        Args:
            lowres: (B, 1, h, w) low-res frame in [-1, 1].
            mask: (B, 1, 2h, 2w) binary mask in {0, 1} at output size.
            w: (B, style_dim) from ``mapping`` (ignored when use_style_noise=False).
            noise: list from ``make_noise`` (once per sequence), an int seed, or None (no noise).
        Returns:
            (B, 1, 2h, 2w) in [-1, 1].
        """
        _check_image(lowres, "lowres", 1)
        b, _, h, w_px = lowres.shape
        self.cfg.check_size(h, w_px, what="super-res input (low-res) size", exc=ValueError)
        if not isinstance(mask, torch.Tensor) or mask.dim() != 4 or mask.shape[1] != 1 \
                or tuple(mask.shape[-2:]) != (2 * h, 2 * w_px) or mask.shape[0] != b:
            got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise ValueError(f"mask: expected ({b}, 1, {2 * h}, {2 * w_px}) (2x the low-res frame), got {got}")
        self._check_w(w, b)
        maps = resolve_noise(noise, shapes=self.noise_shapes(2 * h, 2 * w_px), batch=b, device=lowres.device,
                             dtype=lowres.dtype, styled=self.cfg.use_style_noise)
        up = F.interpolate(lowres, scale_factor=2, mode="bilinear", align_corners=False)
        stem = self.stem(torch.cat([up, mask.to(up.dtype)], dim=1))
        feats = self.encoder(F.avg_pool2d(stem, 2))
        n_dec = len(self.decoder.noise_shapes(h, w_px))
        x = self.decoder(feats, w, None if maps is None else maps[:n_dec])
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = torch.cat([x, stem], dim=1)
        x = self.up_convs[0](x, w, None if maps is None else maps[n_dec])
        x = self.up_convs[1](x, w, None if maps is None else maps[n_dec + 1])
        out = self.to_image(x, w)
        if self.cfg.superres_residual:  # start from the upsampled low-res frame, learn the detail
            out = out + torch.atanh(up.clamp(-_RESIDUAL_CLAMP, _RESIDUAL_CLAMP))
        return torch.tanh(out)
