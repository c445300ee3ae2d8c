"""VGG19 convolutional features from a LOCAL ImageNet weights file (no torchvision, no download).

The module layout equals torchvision's ``vgg19().features`` (a ``Sequential`` of conv/ReLU/max-pool),
so a state dict saved from torchvision (``features.N.weight`` / ``features.N.bias``, ``classifier.*``
ignored) or one holding only the features (``N.weight``) loads as is. Typical file: torchvision's
``vgg19-dcbb9e9d.pth``, which the user downloads once and points to.

Input convention: ``x (B, 1 or 3, H, W)`` in [-1, 1]; grayscale is repeated to 3 channels, mapped to
[0, 1] and normalised with the ImageNet mean/std the weights were trained with.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from tgan_aug.errors import UserError

__all__ = ["VGG19Features", "load_vgg19_features", "VGG19_LAYERS", "VGG19_CFG"]

#: torchvision's configuration "E": channels of each conv, "M" = 2x2 max-pool
VGG19_CFG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")


def _layer_names() -> dict[str, int]:
    """'relu{block}_{k}' / 'conv{block}_{k}' / 'pool{block}' -> index in ``features``."""
    names: dict[str, int] = {}
    idx, block, k = 0, 1, 0
    for v in VGG19_CFG:
        if v == "M":
            names[f"pool{block}"] = idx
            idx, block, k = idx + 1, block + 1, 0
        else:
            k += 1
            names[f"conv{block}_{k}"] = idx
            names[f"relu{block}_{k}"] = idx + 1
            idx += 2
    return names


#: layer name -> index into ``features`` (e.g. relu1_1 -> 1, relu5_1 -> 29, pool5 -> 36)
VGG19_LAYERS: dict[str, int] = _layer_names()
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG19Features(nn.Module):
    """VGG19 ``features`` returning the maps after the named layers.

    ``forward(x (B, 1|3, H, W) in [-1, 1]) -> list[Tensor]`` in the order of ``layers``
    (default relu1_1, relu2_1, relu3_1, relu4_1, relu5_1, as in pix2pixHD's VGG loss).
    Parameters are frozen and the module stays in eval mode once weights are loaded.
    """

    def __init__(self, *, layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")) -> None:
        super().__init__()
        layers = tuple(layers)
        bad = [n for n in layers if n not in VGG19_LAYERS]
        if not layers or bad:
            raise UserError(f"layers={layers!r}: unknown VGG19 layer names {bad}; expected names like relu1_1 .. relu5_4, pool1 .. pool5")
        self.layers = layers
        self._indices = [VGG19_LAYERS[n] for n in layers]
        mods: list[nn.Module] = []
        c_in = 3
        for v in VGG19_CFG:
            if v == "M":
                mods.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                mods += [nn.Conv2d(c_in, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
                c_in = int(v)
        last = max(self._indices)
        self.features = nn.Sequential(*mods[: last + 1])
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise UserError(f"VGG19Features expects x of shape (B, 1 or 3, H, W); got {tuple(x.shape)}")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        h = ((x + 1) * 0.5 - self.mean) / self.std
        wanted = set(self._indices)
        out: dict[int, torch.Tensor] = {}
        for i, mod in enumerate(self.features):
            h = mod(h)
            if i in wanted:
                out[i] = h
        return [out[i] for i in self._indices]


def _features_state(state: dict, path: Path) -> dict[str, torch.Tensor]:
    if not isinstance(state, dict):
        raise UserError(f"VGG19 weights {path}: expected a state dict (mapping of tensors), got {type(state).__name__}")
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if any(k.startswith("features.") for k in state):
        return {k: v for k, v in state.items() if k.startswith("features.")}
    return {f"features.{k}": v for k, v in state.items() if k.split(".")[0].isdigit()}


def load_vgg19_features(
    path: str | Path,
    *,
    layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
    device: str | torch.device = "cpu",
) -> VGG19Features:
    """Build :class:`VGG19Features` and load a local VGG19 state dict (torchvision key names).

    path: ``.pth`` file holding torchvision's ``vgg19`` state dict or only its ``features`` part.
    Raises UserError when the file is missing, unreadable, or lacks a conv layer the requested ``layers`` need.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"VGG19 weights file {path} does not exist; download torchvision's vgg19 weights once "
            f"(vgg19-dcbb9e9d.pth) and pass their local path (nothing is downloaded at run time)"
        )
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"cannot read VGG19 weights {path}: {exc}; expected a torch state dict saved with torch.save") from None
    model = VGG19Features(layers=layers)
    state = _features_state(raw, path)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    if missing:
        raise UserError(f"VGG19 weights {path} lack {missing[:4]} (found {len(state)} feature tensors); expected torchvision vgg19 key names like features.0.weight")
    bad_shape = [k for k in expected if tuple(state[k].shape) != tuple(expected[k].shape)]
    if bad_shape:
        k = bad_shape[0]
        raise UserError(f"VGG19 weights {path}: {k} has shape {tuple(state[k].shape)}, expected {tuple(expected[k].shape)}; is this a VGG19 (not VGG16) file?")
    model.load_state_dict({k: state[k] for k in expected})
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model.to(device)
