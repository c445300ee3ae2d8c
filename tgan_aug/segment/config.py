"""Settings of segmenter training and of turning network output into instance masks."""

from __future__ import annotations

from typing import Literal

from masksynth.configbase import ConfigBase, check_choice, configclass
from tgan_aug.errors import UserError

__all__ = ["Arch", "SplitMode", "SegmenterConfig", "PostprocessConfig"]

Arch = Literal["deepsea", "unet"]
SplitMode = Literal["edges", "watershed"]


def check_invert(value: object, name: str = "invert") -> None:
    """``invert`` is True, False or "auto"; UserError naming ``name`` otherwise."""
    if value not in (True, False, "auto"):
        raise UserError(f"{name} must be true, false or 'auto', got {value!r}")


@configclass
class SegmenterConfig(ConfigBase):
    """Training settings. Presets: ``tiny`` (tests: 10 steps of two 64 px crops), ``cpu``
    (200 steps of four 256 px crops, minutes on a CPU), ``gpu`` (2000 steps of sixteen 384 px crops).

    arch: ``deepsea`` = DeepSea's segmentation network starting from the weights the ``deepsea``
        package ships; ``unet`` = the same layout ``width``/64 as wide, trained from scratch.
    width: channels of the first level of ``unet`` (DeepSea's is 64).
    scale: images (and masks) are resized by this factor before the network, in training and
        prediction alike (DeepSea resized its data to 383x512; small cells want 1, big ones < 1).
    crop: training crop side, network pixels. batch_size: crops per step. max_steps: optimiser steps.
    lr, weight_decay: Adam. edge_weight: weight of the touching-edge loss (DeepSea: 5).
    edge_width: half width, network pixels, of the band between touching cells that is trained
        as "edge" and left out of the foreground (what separates touching cells).
    freeze_bn: keep BatchNorm statistics of the starting weights (fine-tuning on few images).
    augment: flips, 90-degree turns, contrast/brightness jitter, noise.
    invert: ``"auto"`` (per sequence: cells brighter than the background are inverted, since
        DeepSea's network was trained on dark phase-contrast cells), True or False.
    foreground_bias: probability that a crop is centred on a cell pixel (not anywhere).
    samples_per_epoch: frames per pass of the mixing dataset (None: all frames of the pools used).
    grad_clip: gradient-norm clip (0 = off).
    """

    preset: str = "cpu"
    arch: Arch = "deepsea"
    width: int = 16
    scale: float = 1.0
    crop: int = 256
    batch_size: int = 4
    max_steps: int = 200
    lr: float = 1e-4
    weight_decay: float = 1e-8
    edge_weight: float = 5.0
    edge_width: int = 1
    freeze_bn: bool = True
    augment: bool = True
    invert: bool | Literal["auto"] = "auto"
    foreground_bias: float = 0.8
    samples_per_epoch: int | None = None
    grad_clip: float = 1.0

    PRESETS = {
        "tiny": {"crop": 64, "batch_size": 2, "max_steps": 10},
        "cpu": {},
        "gpu": {"crop": 384, "batch_size": 16, "max_steps": 2000},
    }
    DEFAULT_PRESET = "cpu"
    WHAT = "segmenter training config"
    PRESET_WHAT = "segmenter training"

    def validate(self) -> None:
        check_choice(self.arch, Arch, "--arch")
        if not self.lr > 0:
            raise UserError(f"--lr must be > 0, got {self.lr}")
        if self.batch_size < 1 or self.max_steps < 1:
            raise UserError(f"--batch-size and --max-steps must be >= 1, got {self.batch_size} and {self.max_steps}")
        if self.crop < 16 or self.crop % 4:
            raise UserError(f"--crop must be a multiple of 4 and >= 16 pixels, got {self.crop}")
        if not 0.05 <= self.scale <= 4:
            raise UserError(f"--scale must be in [0.05, 4] (resize factor before the network), got {self.scale}")
        if self.width < 4:
            raise UserError(f"width must be >= 4 channels, got {self.width}")
        if self.edge_weight < 0 or self.edge_width < 0:
            raise UserError(f"edge_weight and edge_width must be >= 0, got {self.edge_weight} and {self.edge_width}")
        if not 0 <= self.foreground_bias <= 1:
            raise UserError(f"foreground_bias must be in [0, 1], got {self.foreground_bias}")
        if self.samples_per_epoch is not None and self.samples_per_epoch < 1:
            raise UserError(f"--samples-per-epoch must be >= 1, got {self.samples_per_epoch}")
        check_invert(self.invert, "--invert")


@configclass
class PostprocessConfig(ConfigBase):
    """From network output to instance masks (at the image's own resolution).

    threshold: foreground probability above which a pixel is cell (DeepSea: argmax = 0.5).
    split: ``edges`` = connected components of the foreground, which the network keeps apart
        at touching edges (DeepSea's rule); ``watershed`` = additionally split each component by
        a distance-transform watershed (for merged blobs; one marker per h-maximum of the distance
        transform: a maximum at least ``h`` pixels higher than the saddle to its neighbour).
    min_size: objects smaller than this many image pixels are dropped (DeepSea: 20).
    expand: grow each object by this many pixels into the edge/foreground band (gives back the
        edge pixels the network leaves out); None = the training edge width at image scale.
    h: watershed marker height, image pixels (DeepSea's post-processing uses 2).
    tile: network input tiles of this side (network pixels) for large frames; overlap: their margin.
    """

    threshold: float = 0.5
    split: SplitMode = "edges"
    min_size: int = 20
    expand: int | None = None
    h: float = 2.0
    tile: int = 512
    overlap: int = 32

    WHAT = "segmentation post-processing config"
    PRESETS = {"default": {}}
    DEFAULT_PRESET = "default"

    def validate(self) -> None:
        if not 0 < self.threshold < 1:
            raise UserError(f"--threshold must be in (0, 1), got {self.threshold}")
        check_choice(self.split, SplitMode, "--split")
        if self.min_size < 0 or not self.h > 0:
            raise UserError(f"--min-size must be >= 0 and h > 0, got {self.min_size} and {self.h}")
        if self.expand is not None and self.expand < 0:
            raise UserError(f"expand must be >= 0 pixels, got {self.expand}")
        if self.tile < 64 or self.tile % 4 or not 0 <= self.overlap < self.tile // 4:
            raise UserError(f"tile must be a multiple of 4 >= 64 and overlap in [0, tile/4), got {self.tile} and {self.overlap}")
