"""Segmentation networks and the model folders that hold them.

Both architectures are :class:`tgan_aug.features.deepsea.DeepSeaSegmentation`: ``forward(x (B, 1,
H, W) in [-1, 1]) -> (foreground logits (B, 2, H, W), edge logits (B, 2, H, W))``. ``deepsea``
starts from the state dict that the ``deepsea`` package ships (``trained_models/segmentation.pth``);
``unet`` is the same layout narrower (``width`` channels at the first level), randomly initialised.

A model folder (:func:`save_segmenter_folder`) holds ``model.pt`` (the state dict, CPU tensors,
read back with ``torch.load(weights_only=True)``) and ``config.json`` (format name and version,
the training config, the post-processing settings, the polarity it was trained on, training record).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tgan_aug.errors import UserError
from tgan_aug.features.deepsea import DeepSeaSegmentation, deepsea_weights_path
from tgan_aug.segment.config import PostprocessConfig, SegmenterConfig

__all__ = ["FOLDER_FORMAT", "FOLDER_VERSION", "build_network", "save_segmenter_folder", "load_segmenter_folder"]

#: ``config.json`` "format" of a tgan-aug segmenter folder, and the versions this code reads.
FOLDER_FORMAT = "tgan-aug-segmenter"
FOLDER_VERSION = 1
SUPPORTED_VERSIONS = (1,)


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip/pickle errors of a wrong or truncated file
        raise UserError(f"cannot read segmenter weights {path} ({type(exc).__name__}); expected a torch state dict") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path} is not a state dict (a mapping of tensors); expected model.pt from tgan-aug train-segmenter")
    return state


def _load_state(net: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    try:
        result = net.load_state_dict(state, strict=False)
    except RuntimeError:  # same names, other shapes
        raise UserError(f"weights {path} do not fit the network in its config.json (other tensor shapes); the folder is inconsistent") from None
    if result.missing_keys or result.unexpected_keys:
        raise UserError(
            f"weights {path} do not fit the segmentation network (missing {result.missing_keys[:3]}, "
            f"unexpected {result.unexpected_keys[:3]}); it is from another model"
        )


def build_network(config: SegmenterConfig) -> DeepSeaSegmentation:
    """The network ``config.arch`` asks for: DeepSea with its shipped weights, or a fresh narrower U-Net.

    Raises MissingDependencyError (``deepsea``) when the shipped weights are needed and absent.
    """
    if config.arch == "deepsea":
        net = DeepSeaSegmentation(1, 2)
        path = deepsea_weights_path()
        _load_state(net, _read_state(path), path)
        return net
    return DeepSeaSegmentation(1, 2, width=config.width)


def save_segmenter_folder(
    net: nn.Module,
    out_dir: str | Path,
    *,
    config: SegmenterConfig,
    postprocess: PostprocessConfig,
    invert: bool,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model.pt`` (state dict) and ``config.json``; ``invert``: whether the training
    images had to be inverted (cells were bright), the default for data the model segments."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, out_dir / "model.pt")
    meta = {"format": FOLDER_FORMAT, "format_version": FOLDER_VERSION, "config": config.to_dict(),
            "postprocess": postprocess.to_dict(), "invert": bool(invert), **(extra or {})}
    (out_dir / "config.json").write_text(json.dumps(meta, indent=2, default=str))
    return out_dir


def load_segmenter_folder(folder: str | Path) -> tuple[DeepSeaSegmentation, dict[str, Any]]:
    """The network (eval mode, CPU) and the parsed ``config.json`` of a segmenter folder.

    Raises UserError (one line naming the folder) for a missing file, another format or version.
    """
    folder = Path(folder)
    cfg_path = folder / "config.json"
    if not folder.is_dir() or not cfg_path.is_file() or not (folder / "model.pt").is_file():
        raise UserError(
            f"--model {folder} is not a segmenter folder (expected config.json + model.pt; make one with "
            "tgan-aug train-segmenter, or omit --model for DeepSea's shipped weights)"
        )
    try:
        meta = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{cfg_path} is not valid JSON; re-train or restore the folder") from None
    fmt = meta.get("format") if isinstance(meta, dict) else None
    if fmt != FOLDER_FORMAT:
        raise UserError(f"{cfg_path} has format {fmt!r}, not {FOLDER_FORMAT!r}; this folder holds another kind of model")
    if meta.get("format_version") not in SUPPORTED_VERSIONS:
        raise UserError(f"{cfg_path} has format_version {meta.get('format_version')!r}; this tgan-aug reads versions {list(SUPPORTED_VERSIONS)}")
    config = SegmenterConfig.from_dict(meta["config"])
    net = DeepSeaSegmentation(1, 2, width=64 if config.arch == "deepsea" else config.width)
    _load_state(net, _read_state(folder / "model.pt"), folder / "model.pt")
    return net.eval(), meta
