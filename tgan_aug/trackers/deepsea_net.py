"""DeepSea's tracking network, re-implemented so that the weights the ``deepsea`` pip package ships load.

DeepSea (Zargari et al., Cell Reports Methods 2023, MIT) tracks a cell from frame t-1 to frame t
with a small two-stream U-Net: one residual block encodes a crop of the previous frame that shows
only that cell, another encodes the same crop of the current frame (all cells, background zeroed);
the two 64-channel maps are concatenated and go through a U-Net (128 -> 256 at 1/4 resolution,
bilinear up, skips) to two-class logits: class 1 = "this is where the cell (or its daughters) is
now". The package ships the trained state dict as ``deepsea/trained_models/tracker.pth``; this
module rebuilds the architecture with the same parameter names (nothing of the package is
imported or executed) and loads it with ``torch.load(weights_only=True)``.

Fine-tuned models are folders (:func:`save_tracker_folder`): ``model.pt`` (the state dict) and
``config.json`` (format name and version, the tracking settings, training record), loaded by
:func:`load_deepsea_tracker`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tgan_aug.errors import MissingDependencyError, UserError

# DeepSea's residual block and up+concat step, shared with its segmentation network
from tgan_aug.features.deepsea import _ResBlock, _up_cat

__all__ = [
    "DeepSeaTrackerNet",
    "deepsea_tracker_weights_path",
    "load_deepsea_tracker",
    "save_tracker_folder",
    "read_tracker_config",
    "FOLDER_FORMAT",
    "FOLDER_VERSION",
]

#: ``config.json`` "format" of a tgan-aug DeepSea tracker folder, and the versions this code reads.
FOLDER_FORMAT = "tgan-aug-deepsea-tracker"
FOLDER_VERSION = 1
SUPPORTED_VERSIONS = (1,)
#: How to install the optional ``deepsea`` package (part of the ``trackers`` extra).
INSTALL_HINT = "install it with: pip install -c constraints.txt -e '.[trackers]' (in the tgan-aug checkout; or: pip install deepsea)"


class DeepSeaTrackerNet(nn.Module):
    """DeepSea's tracker: ``forward(prev (B,1,S,S), curr (B,1,S,S)) -> logits (B,2,S,S)``.

    prev: crop of frame t-1 around one cell, only that cell's pixels kept (others 0), scaled
    to [0, 1] then normalised ``(x - 0.5) / 0.5`` (so background = -1). curr: the same crop of
    frame t with every segmented cell kept. S: any size divisible by 4 (DeepSea uses 128).
    Class 1 of the logits marks the tracked cell (both daughters after a division) in frame t.
    Parameter names match ``deepsea/trained_models/tracker.pth`` exactly.
    """

    def __init__(self, n_channels: int = 1, n_classes: int = 2) -> None:
        super().__init__()
        block = _ResBlock
        self.n_channels = n_channels
        self.n_classes = n_classes
        self.res1 = block(n_channels, 64)  # previous-frame stream
        self.res2 = block(n_channels, 64)  # current-frame stream
        self.res3 = block(128, 128)
        self.res4 = block(128, 256)
        self.res5 = block(384, 128)
        self.res6 = block(256, 64)
        self.conv3 = nn.Conv2d(64, n_classes, kernel_size=1)

    def forward(self, prev: torch.Tensor, curr: torch.Tensor) -> torch.Tensor:
        up_cat = _up_cat
        x1 = torch.cat([self.res1(prev), self.res2(curr)], dim=1)  # (B,128,S,S)
        x2 = self.res3(nn.functional.max_pool2d(x1, 2))  # (B,128,S/2,S/2)
        x3 = self.res4(nn.functional.max_pool2d(x2, 2))  # (B,256,S/4,S/4)
        x4 = self.res5(up_cat(x3, x2))  # (B,128,S/2,S/2)
        x5 = self.res6(up_cat(x4, x1))  # (B,64,S,S)
        return self.conv3(x5)


def deepsea_tracker_weights_path() -> Path:
    """Path of ``tracker.pth`` inside the installed ``deepsea`` package (never downloaded).

    Raises :class:`MissingDependencyError` (a UserError, one line) saying how to install when
    the package or the file is absent.
    """
    import importlib.util

    try:
        spec = importlib.util.find_spec("deepsea")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "the DeepSea tracker needs the 'deepsea' package (it ships trained_models/tracker.pth), "
            f"which is not installed; {INSTALL_HINT}"
        )
    for loc in spec.submodule_search_locations:
        path = Path(loc) / "trained_models" / "tracker.pth"
        if path.is_file():
            return path
    raise MissingDependencyError(
        f"the 'deepsea' package at {list(spec.submodule_search_locations)} has no trained_models/tracker.pth; "
        "reinstall it: pip install --force-reinstall deepsea"
    )


def _read_state(path: Path, what: str) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip/pickle errors of a wrong or truncated file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot read {what} {path} ({first}); expected a torch state dict of the DeepSea tracker") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{what} {path} is not a state dict (a mapping of tensors); expected model.pt from tgan-aug train-tracker --tracker deepsea")
    return state


def _load_state(net: DeepSeaTrackerNet, state: dict[str, torch.Tensor], path: Path, what: str) -> None:
    try:
        result = net.load_state_dict(state, strict=False)
    except RuntimeError:  # same names, other shapes
        shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        bad = [k for k, v in state.items() if k in shapes and tuple(v.shape) != shapes[k]]
        raise UserError(
            f"{what} {path} does not fit the DeepSea tracker network (other tensor shapes, e.g. {bad[:2]}); "
            "it is from another model or format"
        ) from None
    if result.missing_keys or result.unexpected_keys:
        raise UserError(
            f"{what} {path} does not fit the DeepSea tracker network (missing {result.missing_keys[:3]}, "
            f"unexpected {result.unexpected_keys[:3]}); it is from another model or format"
        )


def read_tracker_config(folder: str | Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a DeepSea tracker folder, format and version checked."""
    folder = Path(folder)
    cfg_path = folder / "config.json"
    if not folder.is_dir() or not cfg_path.is_file() or not (folder / "model.pt").is_file():
        raise UserError(
            f"--model {folder} is not a DeepSea tracker folder (expected config.json + model.pt; "
            "make one with tgan-aug train-tracker --tracker deepsea, or omit --model for the shipped weights)"
        )
    try:
        meta = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{cfg_path} is not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc}); re-train or restore the folder") from None
    fmt = meta.get("format") if isinstance(meta, dict) else None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if fmt != FOLDER_FORMAT:
        raise UserError(f"{cfg_path} has format {fmt!r}, not {FOLDER_FORMAT!r}; this folder holds another kind of model")
    if version not in SUPPORTED_VERSIONS:
        raise UserError(f"{cfg_path} has format_version {version!r}; this tgan-aug reads versions {list(SUPPORTED_VERSIONS)}")
    return meta


def load_deepsea_tracker(model: str | Path | None = None, *, device: str | torch.device = "cpu") -> tuple[DeepSeaTrackerNet, dict[str, Any]]:
    """The DeepSea tracker network in eval mode and the settings stored with it.

    model: None = the weights the ``deepsea`` package ships (``trained_models/tracker.pth``,
        loaded strictly: no missing or unexpected keys); a folder = a fine-tuned model written
        by :func:`save_tracker_folder` (``config.json`` + ``model.pt``).
    Returns ``(net, meta)``; ``meta["track"]`` holds the tracking settings saved with a folder
    (empty for the shipped weights).
    Raises MissingDependencyError when ``deepsea`` is needed and absent, UserError (one line,
    naming the file) for a folder or file of another format or version.
    """
    net = DeepSeaTrackerNet(1, 2)
    if model is None:
        path = deepsea_tracker_weights_path()
        _load_state(net, _read_state(path, "DeepSea weights"), path, "DeepSea weights")
        meta: dict[str, Any] = {"source": str(path), "track": {}}
    else:
        folder = Path(model)
        meta = read_tracker_config(folder)
        path = folder / "model.pt"
        _load_state(net, _read_state(path, "DeepSea tracker weights"), path, "DeepSea tracker weights")
        meta = {**meta, "source": str(folder)}
        meta.setdefault("track", {})
    return net.eval().to(device), meta


def save_tracker_folder(net: nn.Module, out_dir: str | Path, *, track: Any = None, extra: dict[str, Any] | None = None) -> Path:
    """Write a DeepSea tracker folder: ``model.pt`` (``torch.save`` of the state dict, CPU
    tensors) and ``config.json`` (format, version, tracking settings ``track`` (a dataclass or
    dict), and ``extra``: training config, data, loss history). Returns the folder."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    torch.save(state, out_dir / "model.pt")
    track_dict = dataclasses.asdict(track) if dataclasses.is_dataclass(track) else dict(track or {})
    meta = {"format": FOLDER_FORMAT, "format_version": FOLDER_VERSION, "track": track_dict, **(extra or {})}
    (out_dir / "config.json").write_text(json.dumps(meta, indent=2, default=str))
    return out_dir
