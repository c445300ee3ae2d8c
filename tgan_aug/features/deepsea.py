"""DeepSea's segmentation U-Net, re-implemented, loading the weights that the ``deepsea`` pip package ships.

DeepSea (Zargari et al. 2023, MIT) ships ``deepsea/trained_models/segmentation.pth``, the state dict of
``DeepSeaSegmentation(n_channels=1, n_classes=2)`` trained on phase-contrast cells. The package itself
is a bundle of scripts (not importable as a library), so this module re-implements the architecture with
identical parameter names and loads that file with ``torch.load(weights_only=True)``. Nothing is
downloaded.

Input convention (DeepSea's own): a single-channel image min-max scaled to [0, 1], then normalised with
mean 0.5 and std 0.5, i.e. values in [-1, 1]. The network was trained on cells that look dark on a
brighter background (phase contrast); for bright cells (e.g. PhC-C2DL-PSC) invert the intensities
(``invert=True``): measured foreground IoU 0.54 inverted vs 0.02 not inverted.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tgan_aug.errors import MissingDependencyError, UserError

__all__ = [
    "DeepSeaSegmentation",
    "DeepSeaFeatures",
    "deepsea_weights_path",
    "load_deepsea_segmentation",
    "DEEPSEA_LEVELS",
]

#: names of the feature levels that :class:`DeepSeaFeatures` can return, with (channels, stride)
DEEPSEA_LEVELS: dict[str, tuple[int, int]] = {
    "res1": (64, 1),
    "res2": (128, 2),
    "res3": (256, 4),
    "res4": (128, 2),
    "res5": (64, 1),
}


class _ResBlock(nn.Module):
    """conv3x3-BN-ReLU-Dropout-conv3x3 plus a 1x1 shortcut, then BN-ReLU (DeepSea's ``ResBlock``)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Dropout(0.2),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1),
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv1d = nn.Conv2d(in_channels, out_channels, kernel_size=1, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.double_conv(x) + self.conv1d(x)))


def _up_cat(x_low: torch.Tensor, x_skip: torch.Tensor) -> torch.Tensor:
    """Bilinear 2x upsampling (align_corners=True), pad to the skip's size, concat [skip, up]."""
    x1 = F.interpolate(x_low, scale_factor=2, mode="bilinear", align_corners=True)
    dy = x_skip.shape[2] - x1.shape[2]
    dx = x_skip.shape[3] - x1.shape[3]
    x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
    return torch.cat([x_skip, x1], dim=1)


class DeepSeaSegmentation(nn.Module):
    """DeepSea's segmentation network: residual blocks 64-128-256, two max-poolings, bilinear up, two 1x1 heads.

    ``forward(x (B, n_channels, H, W) in [-1, 1]) -> (logits (B, n_classes, H, W), edges (B, n_classes, H, W))``;
    class 1 of ``logits`` is the cell foreground. Any H, W works (odd sizes are padded on the way up).
    ``forward_features`` returns the intermediate maps by level name (see :data:`DEEPSEA_LEVELS`).
    width: channels of the first level (DeepSea's: 64; the shipped weights need it); levels have
    width, 2 width, 4 width channels (a narrower copy trains from scratch on a CPU).
    """

    def __init__(self, n_channels: int = 1, n_classes: int = 2, *, width: int = 64) -> None:
        super().__init__()
        w = int(width)
        self.n_channels = n_channels
        self.n_classes = n_classes
        self.width = w
        self.res1 = _ResBlock(n_channels, w)
        self.res2 = _ResBlock(w, 2 * w)
        self.res3 = _ResBlock(2 * w, 4 * w)
        self.res4 = _ResBlock(6 * w, 2 * w)
        self.res5 = _ResBlock(3 * w, w)
        self.conv3 = nn.Conv2d(w, n_classes, kernel_size=1)
        self.conv4 = nn.Conv2d(w, n_classes, kernel_size=1)

    def forward_features(self, x: torch.Tensor, *, upto: str = "res5") -> dict[str, torch.Tensor]:
        """Feature maps ``{"res1": (B,64,H,W), "res2": (B,128,H/2,W/2), ...}`` computed up to level ``upto``."""
        if upto not in DEEPSEA_LEVELS:
            raise UserError(f"upto={upto!r} is not a DeepSea level; expected one of {sorted(DEEPSEA_LEVELS)}")
        out: dict[str, torch.Tensor] = {}
        x1 = out["res1"] = self.res1(x)
        if upto == "res1":
            return out
        x2 = out["res2"] = self.res2(F.max_pool2d(x1, 2))
        if upto == "res2":
            return out
        x3 = out["res3"] = self.res3(F.max_pool2d(x2, 2))
        if upto == "res3":
            return out
        x4 = out["res4"] = self.res4(_up_cat(x3, x2))
        if upto == "res4":
            return out
        out["res5"] = self.res5(_up_cat(x4, x1))
        return out

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x6 = self.forward_features(x)["res5"]
        return self.conv3(x6), self.conv4(x6)


def deepsea_weights_path() -> Path:
    """Path of ``segmentation.pth`` inside the installed ``deepsea`` package (never downloaded).

    Raises MissingDependencyError (a UserError) when the package or the file is absent.
    """
    import importlib.util

    hint = "install it with: pip install 'tgan-aug[trackers]' (or: pip install deepsea)"
    try:
        spec = importlib.util.find_spec("deepsea")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(f"the 'deepsea' package (it ships the DeepSea segmentation weights) is not installed; {hint}")
    for loc in spec.submodule_search_locations:
        path = Path(loc) / "trained_models" / "segmentation.pth"
        if path.is_file():
            return path
    raise MissingDependencyError(
        f"the 'deepsea' package at {list(spec.submodule_search_locations)} has no trained_models/segmentation.pth; "
        f"reinstall it: pip install --force-reinstall deepsea"
    )


def _freeze(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def load_deepsea_segmentation(device: str | torch.device = "cpu", *, weights: str | Path | None = None) -> DeepSeaSegmentation:
    """DeepSea's segmentation network with the shipped weights, in eval mode, parameters frozen.

    weights: a state-dict file to load instead of the package's (same keys); default the package file.
    Raises MissingDependencyError when ``deepsea`` is absent, UserError when the file's keys do not match.
    """
    path = Path(weights) if weights is not None else deepsea_weights_path()
    if not path.is_file():
        raise UserError(f"DeepSea weights file {path} does not exist; pass an existing state-dict file or omit it to use the deepsea package's")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors from a wrong file
        raise UserError(f"cannot read DeepSea weights {path}: {exc}; expected a torch state dict (segmentation.pth)") from None
    model = DeepSeaSegmentation(1, 2)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise UserError(
            f"DeepSea weights {path} do not match DeepSeaSegmentation(1, 2): missing {result.missing_keys[:5]}, "
            f"unexpected {result.unexpected_keys[:5]}; use deepsea/trained_models/segmentation.pth"
        )
    return _freeze(model).to(device)


class DeepSeaFeatures(nn.Module):
    """Frozen multi-level DeepSea features for perceptual losses and metrics.

    ``forward(x (B, 1, H, W) float in [-1, 1]) -> list[Tensor]``, one map per name in ``levels``
    (default ``("res1", "res2", "res3")``: (B,64,H,W), (B,128,H/2,W/2), (B,256,H/4,W/4)).
    Gradients flow to ``x`` (for losses); the network's parameters are frozen and stay in eval mode
    (``train()`` does not switch BatchNorm/Dropout back on).

    invert: feed ``-x`` (for cells brighter than their background, e.g. PhC-C2DL-PSC); DeepSea was
    trained on dark phase-contrast cells.
    model: an already loaded :class:`DeepSeaSegmentation` to share; default loads the package weights.
    """

    def __init__(
        self,
        *,
        levels: tuple[str, ...] = ("res1", "res2", "res3"),
        invert: bool = False,
        device: str | torch.device = "cpu",
        model: DeepSeaSegmentation | None = None,
    ) -> None:
        super().__init__()
        levels = tuple(levels)
        bad = [lv for lv in levels if lv not in DEEPSEA_LEVELS]
        if not levels or bad:
            raise UserError(f"levels={levels!r}: expected a non-empty subset of {list(DEEPSEA_LEVELS)}; unknown {bad}")
        order = list(DEEPSEA_LEVELS)
        self.levels = levels
        self.upto = max(levels, key=order.index)
        self.invert = bool(invert)
        self.net = _freeze(model if model is not None else load_deepsea_segmentation(device))

    @property
    def channels(self) -> list[int]:
        """Channels of each returned level, in order."""
        return [DEEPSEA_LEVELS[lv][0] for lv in self.levels]

    def train(self, mode: bool = True) -> "DeepSeaFeatures":  # keep the frozen net in eval mode
        super().train(mode)
        self.net.eval()
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 1:
            raise UserError(f"DeepSeaFeatures expects x of shape (B, 1, H, W); got {tuple(x.shape)}")
        if self.invert:
            x = -x
        feats = self.net.forward_features(x, upto=self.upto)
        return [feats[lv] for lv in self.levels]
