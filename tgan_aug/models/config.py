"""Model configuration: one dataclass holding every size and width of the tGAN networks, with presets.

Every size used by the models comes from here (nothing is hard-coded in the networks). Presets:

- ``paper``: the paper's sizes (low-res 256x384, output 512x768, 64 base channels);
- ``small``: trains on a 2-core CPU in tens of minutes (low-res 64x96, output 128x192, 16 base channels);
- ``tiny``: unit tests (low-res 32x32, output 64x64, 8 base channels).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from masksynth.configbase import ConfigBase, configclass
from tgan_aug.errors import UserError

__all__ = ["ModelConfig", "nearest_valid_sizes"]


def _multiples_around(n: int, m: int) -> list[int]:
    """The multiples of ``m`` nearest to ``n`` (below and above, at least ``m``), nearest first."""
    lo = max(m, (n // m) * m)
    hi = max(m, -(-n // m) * m)
    out = sorted({lo, hi}, key=lambda v: (abs(v - n), v))
    return out


def nearest_valid_sizes(height: int, width: int, *, multiple: int) -> list[tuple[int, int]]:
    """Valid (H, W) sizes near ``(height, width)``: both multiples of ``multiple``, nearest first.

    Returns up to four candidates (floor/ceil in each axis) sorted by total distance in pixels.
    """
    cands = {(h, w) for h in _multiples_around(height, multiple) for w in _multiples_around(width, multiple)}
    return sorted(cands, key=lambda hw: (abs(hw[0] - height) + abs(hw[1] - width), hw))


def _as_size(value: Any, name: str) -> tuple[int, int]:
    """Coerce a (H, W) pair given as tuple/list (JSON round trips give lists) or raise UserError."""
    try:
        h, w = value
        h_i, w_i = int(h), int(w)
    except (TypeError, ValueError):
        raise UserError(f"ModelConfig.{name}: expected a pair (height, width) of ints, got {value!r}") from None
    if h_i != h or w_i != w or h_i <= 0 or w_i <= 0:
        raise UserError(f"ModelConfig.{name}: expected positive integer (height, width), got {value!r}")
    return (h_i, w_i)


@configclass
class ModelConfig(ConfigBase):
    """Sizes and widths of the low-res generator, super-res generator, discriminator and FlowNet.

    Attributes:
        preset: name of the preset this config came from ("paper" | "small" | "tiny" | "custom").
        lowres_size: (H, W) in pixels of the low-res video generator's frames; multiples of 2**depth.
        out_size: (H, W) of the super-resolution output; always 2 * lowres_size.
        base_channels: channels at the finest U-Net level; level i has min(base * 2**i, max_channels).
        max_channels: cap on U-Net channels.
        depth: number of 2x downsamplings in the U-Nets (sizes must be multiples of 2**depth).
        n_masks: consecutive mask frames fed to the low-res generator (current first, then previous).
        style_dim: size of the style latent z and of w.
        mapping_layers: fully connected layers in the mapping network z -> w.
        disc_channels: channels of the discriminator's first layer (doubling per layer, capped at 8x).
        disc_layers: stride-2 layers of the PatchGAN; logits are (H / 2**disc_layers, W / 2**disc_layers).
        disc_attention: linear attention after the discriminator's first layer.
        use_background: low-res generator has a background encoder (ablation: False = two sources).
        use_style_noise: decoders use modulated convs + noise (ablation: False = plain convs).
        use_prev_frame: low-res generator encodes its previous output (ablation: False = a per-frame
            image-to-image generator with no temporal input, the paper's vid2vid-like baseline; it
            needs n_masks=1, which ``preset(..., use_prev_frame=False)`` sets unless given).
        superres_residual: the super-res generator predicts a residual over the upsampled low-res
            frame, ``tanh(atanh(up(lowres)) + f(x))`` (False: ``tanh(f(x))``, the paper's head, which
            collapsed to all-dark frames on HeLa: with mostly dark targets the pre-tanh values ran to
            -50 and the gradient died). Checkpoints saved before this field read it as False.
        lowres_residual: the low-res generator predicts a residual over the reference background,
            ``tanh(atanh(bg) + f(x))`` (False: ``tanh(f(x))``, the paper's head). On dark,
            background-dominated fluorescence data (HeLa nuclei) the plain head collapsed to an
            all-black frame within 400 steps (tanh saturated at -1, no gradient left) and the
            quality check reported "no cells"; with the residual head every frame starts as the
            background it was given. Only with ``use_background``. Checkpoints saved before this
            field read it as False.
        style_init: initial gain of the style affines of the modulated convs. 0 (default): every
            style starts as the identity modulation (s = 1) and training grows its influence;
            1: StyleGAN2's init (s = 1 + N(0, ~1) per channel), under which a conditional generator
            spends its first thousands of steps undoing random per-sequence channel gains (CPU runs
            at 400-1000 steps: strict SSIM 0.64-0.68 +- 0.10-0.12 vs 0.95 without style/noise).
            Checkpoints saved before this field read it as 1.
        noise_init: initial per-channel strength of the noise injection (StyleGAN2: 0, the default;
            checkpoints saved before this field read it as 0.1, the value they were built with).
        flow_scales: pyramid levels of the FlowNet (coarsest stride 2**flow_scales).
        flow_channels: channels of the FlowNet's finest pyramid level (doubling per level, capped at 4x).
        flow_radius: search radius (in feature pixels) of the FlowNet's local correlation at every level.
    """

    preset: str = "custom"
    lowres_size: tuple[int, int] = (64, 96)
    out_size: tuple[int, int] = (128, 192)
    base_channels: int = 16
    max_channels: int = 128
    depth: int = 3
    n_masks: int = 2
    style_dim: int = 64
    mapping_layers: int = 2
    disc_channels: int = 32
    disc_layers: int = 3
    disc_attention: bool = True
    use_background: bool = True
    use_style_noise: bool = True
    use_prev_frame: bool = True
    superres_residual: bool = True
    lowres_residual: bool = True
    style_init: float = 0.0
    noise_init: float = 0.0
    flow_scales: int = 3
    flow_channels: int = 16
    flow_radius: int = 3

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": dict(
            lowres_size=(256, 384), out_size=(512, 768), base_channels=64, max_channels=512, depth=4,
            style_dim=256, mapping_layers=4, disc_channels=64, disc_layers=3,
            flow_scales=4, flow_channels=32, flow_radius=3,
        ),
        "small": dict(
            lowres_size=(64, 96), out_size=(128, 192), base_channels=16, max_channels=128, depth=3,
            style_dim=64, mapping_layers=2, disc_channels=32, disc_layers=3,
            flow_scales=3, flow_channels=16, flow_radius=3,
        ),
        "tiny": dict(
            lowres_size=(32, 32), out_size=(64, 64), base_channels=8, max_channels=32, depth=2,
            style_dim=16, mapping_layers=2, disc_channels=8, disc_layers=2,
            flow_scales=2, flow_channels=8, flow_radius=3,
        ),
    }
    DEFAULT_PRESET: ClassVar[str | None] = "small"
    WHAT: ClassVar[str] = "ModelConfig"
    PRESET_WHAT: ClassVar[str] = "model"

    def validate(self) -> None:
        """Check and normalise every field (sizes to int tuples); raises :class:`UserError` naming it."""
        self.lowres_size = _as_size(self.lowres_size, "lowres_size")
        self.out_size = _as_size(self.out_size, "out_size")
        for name in ("base_channels", "max_channels", "depth", "n_masks", "style_dim", "mapping_layers",
                     "disc_channels", "disc_layers", "flow_scales", "flow_channels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"ModelConfig.{name}: expected a positive int, got {value!r}")
        for name in ("style_init", "noise_init"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10:
                raise UserError(f"ModelConfig.{name}: expected a number in [0, 10], got {value!r}")
            setattr(self, name, float(value))
        if isinstance(self.flow_radius, bool) or not isinstance(self.flow_radius, int) or self.flow_radius < 0:
            raise UserError(f"ModelConfig.flow_radius: expected an int >= 0, got {self.flow_radius!r}")
        for name in ("disc_attention", "use_background", "use_style_noise", "use_prev_frame",
                     "superres_residual", "lowres_residual"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(f"ModelConfig.{name}: expected true/false, got {getattr(self, name)!r}")
        if not self.use_prev_frame and self.n_masks != 1:
            raise UserError(
                f"ModelConfig.use_prev_frame=False (per-frame generator, no temporal input) needs n_masks=1, "
                f"got n_masks={self.n_masks}; set n_masks=1 or use_prev_frame=True"
            )
        if self.max_channels < self.base_channels:
            raise UserError(
                f"ModelConfig.max_channels ({self.max_channels}) must be >= base_channels ({self.base_channels})"
            )
        self.check_size(*self.lowres_size, what="lowres_size")
        expected = (2 * self.lowres_size[0], 2 * self.lowres_size[1])
        if self.out_size != expected:
            raise UserError(
                f"ModelConfig.out_size must be 2 x lowres_size = {expected}, got {self.out_size}; "
                f"set out_size={expected} or change lowres_size"
            )

    # ------------------------------------------------------------------ construction
    @classmethod
    def _preset_values(cls, name: str, overrides: dict[str, Any]) -> dict[str, Any]:
        """Preset sizes with overrides. Overriding ``lowres_size`` alone also sets ``out_size`` to
        twice it; ``use_prev_frame=False`` without ``n_masks`` also sets ``n_masks=1`` (a per-frame
        generator sees only the current mask). Presets: "paper" | "small" | "tiny".
        """
        if "lowres_size" in overrides and "out_size" not in overrides:
            h, w = _as_size(overrides["lowres_size"], "lowres_size")
            overrides = {**overrides, "out_size": (2 * h, 2 * w)}
        if overrides.get("use_prev_frame") is False and "n_masks" not in overrides:
            overrides = {**overrides, "n_masks": 1}
        return {**cls.PRESETS[name], **overrides}

    # ------------------------------------------------------------------ sizes
    @property
    def size_multiple(self) -> int:
        """Low-res height and width must be multiples of this (2**depth)."""
        return 2**self.depth

    def channels(self) -> list[int]:
        """U-Net channels per level, finest (level 0) to coarsest (level ``depth``)."""
        return [min(self.base_channels * 2**i, self.max_channels) for i in range(self.depth + 1)]

    def check_size(self, height: int, width: int, *, what: str = "lowres_size", multiple: int | None = None,
                   exc: type[Exception] = UserError) -> None:
        """Raise ``exc`` unless (height, width) are positive multiples of ``multiple``.

        ``multiple`` defaults to 2**depth (low-res frames). The message names the nearest valid sizes.
        ``exc``: :class:`UserError` for sizes the user chose (the config, data at the library's
        boundary); the networks pass ``ValueError``: a tensor of the wrong size is a programming error.
        """
        m = self.size_multiple if multiple is None else multiple
        if height >= m and width >= m and height % m == 0 and width % m == 0:
            return
        near = nearest_valid_sizes(height, width, multiple=m)
        shown = " or ".join(f"{h}x{w}" for h, w in near[:3])
        why = f"2**depth, depth={self.depth}" if multiple is None else f"2**{int(math.log2(m))}"
        raise exc(
            f"{what} {height}x{width} is not valid: height and width must be multiples of {m} "
            f"({why}); nearest valid sizes: {shown}; crop/resize the data or change the config"
        )

