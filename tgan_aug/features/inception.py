"""Inception-v3 pool features (2048-d) from a LOCAL weights file, torchvision-free, for FID-Inception.

Parameter names follow torchvision's ``inception_v3`` (``Conv2d_1a_3x3.conv.weight``, ``Mixed_5b.branch1x1.bn.running_mean``,
...), so two files load as they are:

- torchvision's ImageNet weights (``inception_v3_google-0cc3c7bd.pth``; ``fc`` has 1000 outputs);
- pytorch-fid's FID weights (``pt_inception-2015-12-05-6726825d.pth``; ``fc`` has 1008 outputs), detected from
  that shape, which switch on the small differences of the original TensorFlow FID graph (average pools that
  exclude padding, a max pool in the last block).

Only the convolutional trunk is built (``AuxLogits.*`` and ``fc.*`` are ignored). Input: ``x (B, 1|3, H, W)`` in
[-1, 1]; grayscale is repeated to 3 channels and every image resized bilinearly to 299x299.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from tgan_aug.errors import UserError

__all__ = ["InceptionFeatures", "load_inception_features"]

Variant = Literal["torchvision", "fid"]


class _Conv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg(x: torch.Tensor, fid: bool) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=not fid)


class _A(nn.Module):
    def __init__(self, cin: int, pool: int, fid: bool) -> None:
        super().__init__()
        self.fid = fid
        self.branch1x1 = _Conv(cin, 64, 1)
        self.branch5x5_1, self.branch5x5_2 = _Conv(cin, 48, 1), _Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3 = _Conv(cin, 64, 1), _Conv(64, 96, 3, padding=1), _Conv(96, 96, 3, padding=1)
        self.branch_pool = _Conv(cin, pool, 1)

    def forward(self, x):
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))), self.branch_pool(_avg(x, self.fid))], 1)


class _B(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = _Conv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3 = _Conv(cin, 64, 1), _Conv(64, 96, 3, padding=1), _Conv(96, 96, 3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))), F.max_pool2d(x, 3, stride=2)], 1)


class _C(nn.Module):
    def __init__(self, cin: int, c7: int, fid: bool) -> None:
        super().__init__()
        self.fid = fid
        self.branch1x1 = _Conv(cin, 192, 1)
        self.branch7x7_1, self.branch7x7_2, self.branch7x7_3 = _Conv(cin, c7, 1), _Conv(c7, c7, (1, 7), padding=(0, 3)), _Conv(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = _Conv(cin, c7, 1)
        self.branch7x7dbl_2 = _Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = _Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = _Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = _Conv(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = _Conv(cin, 192, 1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for m in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            d = m(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg(x, self.fid))], 1)


class _D(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1, self.branch3x3_2 = _Conv(cin, 192, 1), _Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _Conv(cin, 192, 1)
        self.branch7x7x3_2 = _Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _Conv(192, 192, 3, stride=2)

    def forward(self, x):
        b = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b, F.max_pool2d(x, 3, stride=2)], 1)


class _E(nn.Module):
    def __init__(self, cin: int, pool: Literal["avg", "avg_nopad", "max"]) -> None:
        super().__init__()
        self.pool = pool
        self.branch1x1 = _Conv(cin, 320, 1)
        self.branch3x3_1 = _Conv(cin, 384, 1)
        self.branch3x3_2a, self.branch3x3_2b = _Conv(384, 384, (1, 3), padding=(0, 1)), _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1, self.branch3x3dbl_2 = _Conv(cin, 448, 1), _Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a, self.branch3x3dbl_3b = _Conv(384, 384, (1, 3), padding=(0, 1)), _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _Conv(cin, 192, 1)

    def forward(self, x):
        a = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        if self.pool == "max":
            p = F.max_pool2d(x, 3, stride=1, padding=1)
        else:
            p = _avg(x, self.pool == "avg_nopad")
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(a), self.branch3x3_2b(a), self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d), self.branch_pool(p)], 1)


class InceptionFeatures(nn.Module):
    """Inception-v3 trunk: ``forward(x (B, 1|3, H, W) in [-1, 1]) -> (B, 2048)`` average-pooled Mixed_7c features.

    variant: "torchvision" (ImageNet weights) or "fid" (pytorch-fid's TF-FID port); see the module docstring.
    """

    def __init__(self, *, variant: Variant = "torchvision") -> None:
        super().__init__()
        if variant not in ("torchvision", "fid"):
            raise UserError(f"variant={variant!r}: expected 'torchvision' or 'fid'")
        fid = variant == "fid"
        self.variant = variant
        self.Conv2d_1a_3x3 = _Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _Conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = _Conv(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = _A(192, 32, fid), _A(256, 64, fid), _A(288, 64, fid)
        self.Mixed_6a = _B(288)
        self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e = _C(768, 128, fid), _C(768, 160, fid), _C(768, 160, fid), _C(768, 192, fid)
        self.Mixed_7a = _D(768)
        self.Mixed_7b = _E(1280, "avg_nopad" if fid else "avg")
        self.Mixed_7c = _E(2048, "max" if fid else "avg")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise UserError(f"InceptionFeatures expects x of shape (B, 1 or 3, H, W); got {tuple(x.shape)}")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)
        for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"):
            x = getattr(self, name)(x)
        return x.mean((2, 3))


def load_inception_features(path: str | Path, *, device: str | torch.device = "cpu") -> InceptionFeatures:
    """Load a local Inception-v3 state dict (torchvision key names) into a frozen :class:`InceptionFeatures`.

    The variant is taken from ``fc.weight``: 1008 outputs = pytorch-fid's FID weights, else torchvision's.
    Raises UserError for a missing/unreadable file or missing/mis-shaped trunk tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"Inception weights file {path} does not exist; download inception_v3 weights once and pass their local path")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"cannot read Inception weights {path}: {exc}; expected a torch state dict") from None
    if not isinstance(state, dict):
        raise UserError(f"Inception weights {path}: expected a state dict, got {type(state).__name__}")
    fc = state.get("fc.weight")
    variant: Variant = "fid" if fc is not None and tuple(fc.shape)[0] == 1008 else "torchvision"
    model = InceptionFeatures(variant=variant)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    if missing:
        raise UserError(f"Inception weights {path} lack {missing[:3]} ({len(missing)} tensors missing); expected torchvision inception_v3 key names")
    bad = [k for k in expected if tuple(state[k].shape) != tuple(expected[k].shape)]
    if bad:
        raise UserError(f"Inception weights {path}: {bad[0]} has shape {tuple(state[bad[0]].shape)}, expected {tuple(expected[bad[0]].shape)}")
    model.load_state_dict({k: state[k] for k in expected})
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model.to(device)
