"""Evaluation options as a dataclass with presets; ``from_dict`` rejects unknown keys."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from masksynth.configbase import ConfigBase, check_choice, configclass
from tgan_aug.errors import UserError
from tgan_aug.metrics.registry import FAMILIES


Protocol = Literal["strict", "paper-minmax"]
AutoYesNo = Literal["auto", "yes", "no"]
Flow = Literal["dis", "farneback"]


@configclass(frozen=True)
class EvalConfig(ConfigBase):
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

    protocol: Protocol = "strict"
    paired: AutoYesNo = "auto"
    families: tuple[str, ...] = FAMILIES
    feature_scale: float = 0.5
    invert: AutoYesNo = "auto"
    clip_length: int = 8
    curve_points: int = 5
    flow: Flow = "dis"
    flow_smooth: float = 1.5
    kid_subsets: int = 50
    kid_subset_size: int = 1000
    vgg19_weights: str | None = None
    inception_weights: str | None = None
    batch: int = 4
    device: str = "cpu"
    seed: int = 0

    #: default: everything; fast: quarter-size features, no length curve, 10 KID subsets
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "default": {}, "fast": {"feature_scale": 0.25, "curve_points": 0, "kid_subsets": 10},
    }
    DEFAULT_PRESET: ClassVar[str | None] = "default"
    WHAT: ClassVar[str] = "evaluation option"
    PRESET_WHAT: ClassVar[str] = "evaluation"

    def validate(self) -> None:
        """Check choices and ranges; raises :class:`UserError` naming the option."""
        for name, allowed in (("protocol", Protocol), ("paired", AutoYesNo), ("invert", AutoYesNo), ("flow", Flow)):
            check_choice(getattr(self, name), allowed, name)
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
    def _coerce(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "families" in data:
            data["families"] = tuple(data["families"])
        return data
