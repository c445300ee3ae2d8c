"""Low-resolution video-to-video generator (paper Figure S2), with the authors' code defects fixed.

Three encoders — masks (n consecutive frames), the previously generated frame, the reference
background — are fused by a learned per-pixel softmax attention over the sources at EVERY U-Net
level, the finest included. The background encoder has its own weights and is applied to the
background (``encode_background``, once per sequence). The decoder uses modulated convs, a
mapping network and per-pixel noise; style w and noise are drawn once per sequence by the caller.

Ablation ``cfg.use_prev_frame=False`` (with ``n_masks=1``): no previous-frame encoder, so each frame
depends only on its own mask, the background, style and noise (a per-frame image-to-image
generator, the role vid2vid plays in the paper's Table 1); ``prev`` is accepted and ignored.
"""

from __future__ import annotations

import torch
from torch import nn

from tgan_aug.models.config import ModelConfig
from tgan_aug.models.decoder import StyleDecoder, StyleGeneratorBase, resolve_noise
from tgan_aug.models.layers import Encoder, MappingNetwork, SourceAttention, ToImage

__all__ = ["LowResGenerator", "BackgroundEncoding"]

#: |bg| is clamped to this before atanh in the residual head (atanh(+-1) is infinite)
_RESIDUAL_CLAMP = 0.995


class BackgroundEncoding(list):
    """What :meth:`LowResGenerator.encode_background` returns: the background features per level
    (a list, as before) plus ``image``, the background (B, 1, h, w) in [-1, 1] that the residual
    head (``ModelConfig.lowres_residual``) starts every frame from."""

    def __init__(self, feats: list[torch.Tensor], image: torch.Tensor) -> None:
        super().__init__(feats)
        self.image = image
        self._base: torch.Tensor | None = None

    @property
    def base(self) -> torch.Tensor:
        """atanh of the clamped background (B, 1, h, w): the residual head's pre-tanh start,
        computed once per sequence (every frame of it reuses this)."""
        if self._base is None:
            self._base = torch.atanh(self.image.clamp(-_RESIDUAL_CLAMP, _RESIDUAL_CLAMP))
        return self._base


def _check_image(x: torch.Tensor, name: str, channels: int, size: tuple[int, int] | None = None,
                 batch: int | None = None) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != channels:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name}: expected a tensor (B, {channels}, H, W), got {got}")
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        raise ValueError(f"{name}: expected spatial size {tuple(size)}, got {tuple(x.shape[-2:])}")
    if batch is not None and x.shape[0] != batch:
        raise ValueError(f"{name}: expected batch {batch}, got {x.shape[0]}")


class LowResGenerator(StyleGeneratorBase):
    """U-Net generator of one low-res frame from masks, previous frame, background, style and noise.

    Usage per sequence::

        bg_feats = G.encode_background(bg)            # bg (B, 1, h, w) in [-1, 1], once
        w = G.mapping(G.make_z(B, generator=g))        # once
        noise = G.make_noise(B, generator=g)           # once
        for t: frame_t = G(masks_t, prev, bg_feats, w, noise)   # prev = frame_{t-1}

    Sizes: any (h, w) that are multiples of 2**cfg.depth (others raise ValueError).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        chans = cfg.channels()
        self.mask_encoder = Encoder(cfg.n_masks, chans)
        self.prev_encoder = Encoder(1, chans) if cfg.use_prev_frame else None
        self.background_encoder = Encoder(1, chans) if cfg.use_background else None
        self.n_sources = 1 + int(cfg.use_prev_frame) + int(cfg.use_background)
        self.fusion = nn.ModuleList([SourceAttention(c, self.n_sources) for c in chans])
        styled = cfg.use_style_noise
        self.mapping_net = MappingNetwork(cfg.style_dim, cfg.mapping_layers) if styled else None
        self.decoder = StyleDecoder(chans, cfg.style_dim, styled=styled, style_init=cfg.style_init,
                                    noise_init=cfg.noise_init)
        self.to_image = ToImage(chans[0], cfg.style_dim, styled=styled, style_init=cfg.style_init)

    # ------------------------------------------------------------------ helpers for the base class
    def _default_size(self) -> tuple[int, int]:
        return self.cfg.lowres_size

    def _noise_level0_size(self, height: int, width: int) -> tuple[int, int]:
        return height, width

    def _check_frame_size(self, height: int, width: int) -> None:
        self.cfg.check_size(height, width, what="low-res frame size", exc=ValueError)

    # ------------------------------------------------------------------ API
    def encode_background(self, bg: torch.Tensor) -> list[torch.Tensor]:
        """Background features per level: bg (B, 1, h, w) in [-1, 1] -> list of (B, C_i, h/2**i, w/2**i).

        Call once per sequence and pass the list to every ``forward``. Returns [] when
        use_background=False.
        """
        if self.background_encoder is None:
            return []
        _check_image(bg, "bg", 1)
        self._check_frame_size(*bg.shape[-2:])
        return BackgroundEncoding(self.background_encoder(bg), bg)

    def forward(self, masks: torch.Tensor, prev: torch.Tensor, bg_feats: list[torch.Tensor] | None,
                w: torch.Tensor | None, noise: list[torch.Tensor] | int | None = None, *,
                return_attention: bool = False):
        """Generate one frame.

        Args:
            masks: (B, n_masks, h, w) float in {0, 1}: current mask first, then previous ones.
            prev: (B, 1, h, w) previously generated frame in [-1, 1] (ignored, may be None, when
                use_prev_frame=False).
            bg_feats: output of ``encode_background`` (ignored / may be None when use_background=False);
                with ``lowres_residual`` it must be that output (it carries the background image).
            w: (B, style_dim) from ``mapping`` (ignored when use_style_noise=False).
            noise: list from ``make_noise`` (same for every frame of a sequence), an int seed, or
                None (no noise, deterministic).
            return_attention: also return the attention weights per level, each
                (B, n_sources, h/2**i, w/2**i), sources ordered (masks, prev, background), the
                disabled ones left out.
        Returns:
            (B, 1, h, w) in [-1, 1] (tanh); with return_attention, (frame, weights list).
        """
        _check_image(masks, "masks", self.cfg.n_masks)
        b, _, h, w_px = masks.shape
        self._check_frame_size(h, w_px)
        if self.prev_encoder is not None:
            _check_image(prev, "prev", 1, size=(h, w_px), batch=b)
        self._check_w(w, b)
        noise_maps = resolve_noise(noise, shapes=self.noise_shapes(h, w_px), batch=b, device=masks.device,
                                   dtype=masks.dtype, styled=self.cfg.use_style_noise)
        sources = [self.mask_encoder(masks)]
        if self.prev_encoder is not None:
            sources.append(self.prev_encoder(prev))
        if self.background_encoder is not None:
            sources.append(self._check_bg_feats(bg_feats, b, h, w_px))
        base = self._residual_base(bg_feats, b) if self.residual else None
        fused, weights = [], []
        for level, fuse in enumerate(self.fusion):
            f, a = fuse([src[level] for src in sources])
            fused.append(f)
            weights.append(a)
        x = self.to_image(self.decoder(fused, w, noise_maps), w)
        out = torch.tanh(x if base is None else x + base)  # residual: start from the background
        return (out, weights) if return_attention else out

    @property
    def residual(self) -> bool:
        """Whether frames are a residual over the reference background (``cfg.lowres_residual``
        with a background input)."""
        return bool(self.cfg.lowres_residual and self.background_encoder is not None)

    def _residual_base(self, bg_feats, batch: int) -> torch.Tensor:
        """The residual head's pre-tanh start (B, 1, h, w), from :attr:`BackgroundEncoding.base`."""
        if not isinstance(bg_feats, BackgroundEncoding):
            raise ValueError("bg_feats: this model adds its output to the background; pass what "
                            "encode_background(bg) returns (it carries the background image)")
        base = bg_feats.base
        return base.expand(batch, -1, -1, -1) if base.shape[0] == 1 and batch > 1 else base

    def _check_bg_feats(self, bg_feats, batch: int, h: int, w: int) -> list[torch.Tensor]:
        chans = self.cfg.channels()
        if not isinstance(bg_feats, (list, tuple)) or len(bg_feats) != len(chans):
            raise ValueError(
                f"bg_feats: expected the list of {len(chans)} tensors returned by encode_background(bg), "
                f"got {type(bg_feats).__name__}"
            )
        for i, f in enumerate(bg_feats):
            expected = (chans[i], h >> i, w >> i)
            if tuple(f.shape[1:]) != expected or f.shape[0] not in (1, batch):
                raise ValueError(
                    f"bg_feats[{i}]: expected shape ({batch}, {expected[0]}, {expected[1]}, {expected[2]}), "
                    f"got {tuple(f.shape)}; encode a background of the same size as the masks"
                )
        if bg_feats[0].shape[0] == 1 and batch > 1:
            return [f.expand(batch, -1, -1, -1) for f in bg_feats]
        return list(bg_feats)

    def first_prev(self, bg: torch.Tensor | None, masks: torch.Tensor) -> torch.Tensor:
        """The "previous frame" fed at t = 0: the reference background, or zeros for a model
        without a background input (``use_background=False`` must not see the background at all).

        bg: (B, 1, h, w) in [-1, 1] or None; masks: (B, T, h, w), gives batch, size, dtype, device.
        Returns (B, 1, h, w). Training, rendering and :meth:`rollout` all start from this.
        """
        if bg is not None and self.cfg.use_background:
            return bg
        b, _, h, w = masks.shape
        return masks.new_zeros((b, 1, h, w))

    def rollout(self, masks: torch.Tensor, bg: torch.Tensor | None, w: torch.Tensor | None,
                noise: list[torch.Tensor] | int | None = None, *,
                prev0: torch.Tensor | None = None) -> torch.Tensor:
        """Generate a whole clip autoregressively with one background encoding, one w and one noise.

        Args:
            masks: (B, T, h, w) binary masks in {0, 1}. Frame t uses masks t, t-1, ... (clamped at 0).
            bg: (B, 1, h, w) reference background in [-1, 1] (None when use_background=False).
            prev0: "previous frame" for t = 0; default the background (zeros without one).
        Returns:
            (B, T, h, w) frames in [-1, 1].
        """
        if masks.dim() != 4:
            raise ValueError(f"masks: expected (B, T, h, w), got {tuple(masks.shape)}")
        b, t_len, h, w_px = masks.shape
        bg_feats = self.encode_background(bg) if self.cfg.use_background else []
        if isinstance(noise, int) and not isinstance(noise, bool):
            noise = self.make_noise(b, torch.Generator().manual_seed(noise), size=(h, w_px),
                                    device=masks.device, dtype=masks.dtype)
        if prev0 is None:
            prev0 = self.first_prev(bg, masks)
        prev, frames = prev0, []
        for t in range(t_len):
            idx = [max(t - k, 0) for k in range(self.cfg.n_masks)]
            prev = self(masks[:, idx], prev, bg_feats, w, noise)
            frames.append(prev)
        return torch.cat(frames, dim=1)
