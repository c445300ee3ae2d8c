"""The style/noise U-Net decoder shared by both generators, and per-sequence noise drawing.

Noise is a list of per-pixel maps (B, 1, h_i, w_i), one per styled conv, drawn once per sequence by
the caller (``make_noise``) and reused for every frame, so frames do not flicker.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tgan_aug.models.layers import StyledConv

__all__ = ["StyleDecoder", "draw_noise", "resolve_noise"]


def draw_noise(shapes: list[tuple[int, int]], batch: int, *, generator: torch.Generator | None,
               device: torch.device, dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    """Standard normal maps (batch, 1, h, w) for each (h, w) in ``shapes``, drawn from ``generator``.

    Drawn on the generator's device (CPU by default) then moved to ``device``, so a CPU
    ``torch.Generator`` gives the same noise on CPU and CUDA.
    """
    gen_device = generator.device if generator is not None else torch.device("cpu")
    return [
        torch.randn((batch, 1, h, w), generator=generator, device=gen_device).to(device=device, dtype=dtype)
        for h, w in shapes
    ]


class StyleDecoder(nn.Module):
    """U-Net decoder: a styled bottleneck conv, then per level (upsample 2x, concat skip, 2 styled convs).

    Args:
        channels: U-Net channels, finest (level 0) to coarsest (level d).
        style_dim: size of w.
        styled: modulated convs + noise (False: plain convs, w and noise ignored).
        style_init, noise_init: initial style-affine gain and noise strength (see :class:`StyledConv`).
    """

    def __init__(self, channels: list[int], style_dim: int, *, styled: bool = True,
                 style_init: float = 1.0, noise_init: float = 0.0) -> None:
        super().__init__()
        self.channels = list(channels)
        d = len(channels) - 1
        kw = dict(styled=styled, style_init=style_init, noise_init=noise_init)
        self.bottleneck = StyledConv(channels[d], channels[d], style_dim, **kw)
        blocks = []
        for i in reversed(range(d)):
            blocks.append(nn.ModuleList([
                StyledConv(channels[i + 1] + channels[i], channels[i], style_dim, **kw),
                StyledConv(channels[i], channels[i], style_dim, **kw),
            ]))
        self.blocks = nn.ModuleList(blocks)

    def noise_shapes(self, height: int, width: int) -> list[tuple[int, int]]:
        """(h, w) of each noise map for level-0 size (height, width), in the order the convs use them."""
        d = len(self.channels) - 1
        shapes = [(height >> d, width >> d)]
        for i in reversed(range(d)):
            shapes += [(height >> i, width >> i)] * 2
        return shapes

    def forward(self, feats: list[torch.Tensor], w: torch.Tensor | None,
                noise: list[torch.Tensor] | None) -> torch.Tensor:
        """feats: skips level 0..d -> (B, channels[0], H, W) decoded features at level 0."""
        if noise is None:
            noise = [None] * (2 * len(self.blocks) + 1)
        x = self.bottleneck(feats[-1], w, noise[0])
        k = 1
        for block, skip in zip(self.blocks, reversed(feats[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = torch.cat([x, skip], dim=1)
            x = block[0](x, w, noise[k])
            x = block[1](x, w, noise[k + 1])
            k += 2
        return x


def resolve_noise(noise, *, shapes: list[tuple[int, int]], batch: int, device: torch.device,
                  dtype: torch.dtype, styled: bool) -> list[torch.Tensor] | None:
    """Turn a generator's ``noise`` argument into a list of maps (or None for no noise).

    ``noise`` may be a list from ``make_noise`` (checked against ``shapes``), an int seed (noise
    drawn from ``torch.Generator().manual_seed(seed)``), or None (no noise: deterministic output).
    """
    if not styled or noise is None:
        return None
    if isinstance(noise, int) and not isinstance(noise, bool):
        return draw_noise(shapes, batch, generator=torch.Generator().manual_seed(noise), device=device, dtype=dtype)
    if not isinstance(noise, (list, tuple)) or len(noise) != len(shapes):
        got = f"a list of {len(noise)}" if isinstance(noise, (list, tuple)) else type(noise).__name__
        raise ValueError(
            f"noise: expected a list of {len(shapes)} maps from make_noise(), an int seed, or None; got {got}"
        )
    for i, (n, (h, w)) in enumerate(zip(noise, shapes)):
        if n.dim() != 4 or n.shape[1] != 1 or tuple(n.shape[-2:]) != (h, w) or n.shape[0] not in (1, batch):
            raise ValueError(
                f"noise[{i}]: expected shape ({batch}, 1, {h}, {w}), got {tuple(n.shape)}; "
                f"call make_noise(batch, size=frame size) for this frame size"
            )
    return list(noise)


class StyleGeneratorBase(nn.Module):
    """Shared by both generators: ``mapping`` (z -> w) and ``make_noise`` (per-sequence noise).

    Subclasses set ``self.cfg``, ``self.decoder`` (a :class:`StyleDecoder`), ``self.mapping_net``
    (a MappingNetwork or None) and implement ``_noise_level0_size(height, width)``.
    """

    cfg: "object"
    decoder: StyleDecoder

    def _param_device(self) -> torch.device:
        return next(self.parameters()).device

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, style_dim) standard normal -> w (B, style_dim). Identity when use_style_noise=False."""
        if z.dim() != 2 or z.shape[1] != self.cfg.style_dim:
            raise ValueError(f"mapping: expected z of shape (B, {self.cfg.style_dim}), got {tuple(z.shape)}")
        return z if self.mapping_net is None else self.mapping_net(z)

    def make_z(self, batch: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard normal z (batch, style_dim) on the model's device (draw once per sequence)."""
        gen_device = generator.device if generator is not None else torch.device("cpu")
        z = torch.randn((batch, self.cfg.style_dim), generator=generator, device=gen_device)
        return z.to(self._param_device())

    def noise_shapes(self, height: int, width: int) -> list[tuple[int, int]]:
        """(h, w) of each noise map for an output frame of (height, width)."""
        return self.decoder.noise_shapes(*self._noise_level0_size(height, width))

    def make_noise(self, batch: int, generator: torch.Generator | None = None, *,
                   size: tuple[int, int] | None = None, device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
        """Per-pixel noise maps for one sequence: list of (batch, 1, h_i, w_i), draw ONCE per sequence.

        Args:
            batch: number of sequences.
            generator: torch.Generator for reproducible noise (CPU generator works for CUDA models).
            size: output frame (H, W) of this generator; default the configured size.
            device: default the model's device.
        Returns [] when use_style_noise=False.
        """
        if not self.cfg.use_style_noise:
            return []
        h, w = size if size is not None else self._default_size()
        self._check_frame_size(h, w)
        device = torch.device(device) if device is not None else self._param_device()
        return draw_noise(self.noise_shapes(h, w), batch, generator=generator, device=device, dtype=dtype)

    def _check_w(self, w: torch.Tensor | None, batch: int) -> None:
        if not self.cfg.use_style_noise:
            return
        if w is None or w.dim() != 2 or w.shape[1] != self.cfg.style_dim or w.shape[0] not in (1, batch):
            got = None if w is None else tuple(w.shape)
            raise ValueError(
                f"w: expected shape ({batch}, {self.cfg.style_dim}) from mapping(z), got {got}"
            )
