"""Evaluation options as a dataclass with presets; ``from_dict`` rejects unknown keys."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from tgan_aug.errors import UserError, reject_unknown_keys
from tgan_aug.metrics.registry import FAMILIES


@dataclass(frozen=True)
class EvalConfig:
    """Options of :func:`tgan_aug.metrics.evaluate_videos`.

    protocol: "strict" (recorded intensity range; default) or "paper-minmax" (per-frame min-max, as the
        tGAN paper's script; SSIM, PSNR and VGG19-perceptual only).
    paired: "auto" (paired metrics when REAL and FAKE have the same (T, Y, X) and the same labels),
        "yes" (require it; error otherwise) or "no" (distribution/temporal/microscopy metrics only).
    families: which metric families to compute (subset of paired, distribution, temporal, microscopy).
    feature_scale: resize factor before DeepSea (0.5 = half size, what DeepSea saw in training).
    invert: "auto" (invert when REAL's cells are brighter than its background), "yes" or "no".
    clip_length: frames per clip for the clip-level FD/KID; clips start every clip_length // 2 frames.
    curve_points: number of video lengths on the metric-versus-length curve (0 = no curve).
    flow: "dis" or "farneback" optical flow for the warping error; flow_smooth: Gaussian sigma (px) first.
    kid_subsets, kid_subset_size: KID subsampling. vgg19_weights / inception_weights: local weight files
        enabling VGG19-perceptual and FID-Inception (None = skipped, and the report says so).
    batch: frames per forward pass. device: torch device name. seed: for KID subsets.
    """

    protocol: Literal["strict", "paper-minmax"] = "strict"
    paired: Literal["auto", "yes", "no"] = "auto"
    families: tuple[str, ...] = FAMILIES
    feature_scale: float = 0.5
    invert: Literal["auto", "yes", "no"] = "auto"
    clip_length: int = 8
    curve_points: int = 5
    flow: Literal["dis", "farneback"] = "dis"
    flow_smooth: float = 1.5
    kid_subsets: int = 50
    kid_subset_size: int = 1000
    vgg19_weights: str | None = None
    inception_weights: str | None = None
    batch: int = 4
    device: str = "cpu"
    seed: int = 0

    def __post_init__(self) -> None:
        choices = {"protocol": ("strict", "paper-minmax"), "paired": ("auto", "yes", "no"), "invert": ("auto", "yes", "no"), "flow": ("dis", "farneback")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise UserError(f"{name}={getattr(self, name)!r}: expected one of {allowed}")
        fams = tuple(self.families)
        bad = [f for f in fams if f not in FAMILIES]
        if bad or not fams:
            raise UserError(f"families={fams!r}: unknown {bad}; expected a non-empty subset of {FAMILIES}")
        object.__setattr__(self, "families", fams)
        if not (0 < self.feature_scale <= 4):
            raise UserError(f"feature_scale={self.feature_scale}: expected a factor in (0, 4], e.g. 0.5")
        for name, lo in (("clip_length", 2), ("curve_points", 0), ("kid_subsets", 1), ("kid_subset_size", 2), ("batch", 1)):
            if int(getattr(self, name)) < lo:
                raise UserError(f"{name}={getattr(self, name)}: expected an integer >= {lo}")
        if self.flow_smooth < 0:
            raise UserError(f"flow_smooth={self.flow_smooth}: expected a sigma >= 0 pixels")

    @classmethod
    def preset(cls, name: str = "default", **overrides: Any) -> "EvalConfig":
        """'default' (everything), 'fast' (quarter-size features, no length curve, 10 KID subsets)."""
        presets = {"default": {}, "fast": {"feature_scale": 0.25, "curve_points": 0, "kid_subsets": 10}}
        if name not in presets:
            raise UserError(f"evaluation preset {name!r} is unknown; choose one of {sorted(presets)}")
        return cls.from_dict({**presets[name], **overrides})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EvalConfig":
        reject_unknown_keys(cls, data, what="evaluation option")
        data = dict(data)
        if "families" in data:
            data["families"] = tuple(data["families"])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["families"] = list(self.families)
        return d

    def replace(self, **changes: Any) -> "EvalConfig":
        return replace(self, **changes)
