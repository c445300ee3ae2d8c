"""Losses of the paper's Equations 1-3: LSGAN adversarial, flow, L1 and perceptual.

Equation 1 (low-res G):  D_MSE + w1 * flow_loss + w2 * L1 + w3 * perceptual
Equation 2 (super-res G): D_fake_MSE + w2 * L1 + w3 * perceptual
Equation 3 (D):           0.5 * MSE(D(real), 1) + 0.5 * MSE(D(fake), 0)
The weights w1-w3 belong to the training config; this module only computes the terms.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from tgan_aug.errors import UserError

__all__ = [
    "lsgan_d_loss",
    "lsgan_g_loss",
    "l1_loss",
    "flow_loss",
    "feature_matching_loss",
    "PerceptualLoss",
]

log = logging.getLogger("tgan_aug.models")

PerceptualKind = Literal["auto", "deepsea", "vgg19", "feature_matching"]


def lsgan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Equation 3: 0.5 * MSE(real_logits, 1) + 0.5 * MSE(fake_logits, 0) (pass fake logits of detached fakes)."""
    return 0.5 * F.mse_loss(real_logits, torch.ones_like(real_logits)) + \
        0.5 * F.mse_loss(fake_logits, torch.zeros_like(fake_logits))


def lsgan_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator adversarial term of Equations 1-2: MSE(D(fake), 1)."""
    return F.mse_loss(fake_logits, torch.ones_like(fake_logits))


def l1_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean absolute error between generated and real frames (same shape)."""
    return F.l1_loss(fake, real)


def flow_loss(flownet: nn.Module, real_prev: torch.Tensor, real_cur: torch.Tensor,
              fake_cur: torch.Tensor) -> torch.Tensor:
    """Temporal term of Equation 1: L1 between flow(real_prev -> real_cur) and flow(real_prev -> fake_cur).

    The FlowNet is frozen for this term: the real flow is computed without grad, and the fake flow
    through ``torch.func.functional_call`` with detached parameters, so gradients reach ``fake_cur``
    (the generator) but never the FlowNet's parameters (they are trained separately with
    ``flow_self_supervised_loss``). The FlowNet's ``requires_grad`` flags are left untouched.

    Args:
        real_prev, real_cur, fake_cur: (B, 1, H, W) frames in [-1, 1].
    """
    net = flownet.module if hasattr(flownet, "module") and isinstance(flownet.module, nn.Module) else flownet
    with torch.no_grad():
        flow_real = net(real_prev, real_cur)
    params = {k: v.detach() for k, v in net.named_parameters()}
    buffers = dict(net.named_buffers())
    flow_fake = functional_call(net, {**params, **buffers}, (real_prev, fake_cur))
    return F.l1_loss(flow_fake, flow_real)


def feature_matching_loss(fake_feats: list[torch.Tensor], real_feats: list[torch.Tensor],
                          layer_weights: list[float] | None = None) -> torch.Tensor:
    """Sum over layers of weight * L1(fake feature, detached real feature)."""
    if len(fake_feats) != len(real_feats):
        raise ValueError(f"feature matching: {len(fake_feats)} fake vs {len(real_feats)} real feature maps")
    weights = layer_weights or [1.0] * len(fake_feats)
    return sum(wt * F.l1_loss(f, r.detach()) for wt, f, r in zip(weights, fake_feats, real_feats))


class PerceptualLoss(nn.Module):
    """Perceptual loss on frozen features; ``kind`` says which features, and ``describe()`` logs it.

    Kinds:
        ``"deepsea"``: DeepSea segmentation U-Net (weights shipped by the ``deepsea`` package), via
            ``tgan_aug.features.deepsea.DeepSeaFeatures`` (``invert=True`` for bright cells);
        ``"vgg19"``: ImageNet VGG19 from a LOCAL weights file (``vgg19_weights``), via
            ``tgan_aug.features.vgg19.load_vgg19_features``;
        ``"feature_matching"``: discriminator features passed at call time (``fake_feats``/``real_feats``);
        ``"auto"``: vgg19 if a weights path is given, else deepsea if it loads, else feature matching.
    ``extractor`` overrides the feature network (a module mapping (B, 1, H, W) to a list of
    tensors), e.g. for tests. The chosen kind is in ``self.kind`` and is logged at INFO level.

    Call: ``loss(fake, real, *, fake_feats=None, real_feats=None)`` -> scalar tensor, with fake/real
    (B, 1, H, W) in [-1, 1]; feats are needed for feature matching only.
    """

    def __init__(self, kind: PerceptualKind = "auto", *, vgg19_weights: str | Path | None = None,
                 invert: bool = False, layer_weights: list[float] | None = None,
                 extractor: nn.Module | None = None) -> None:
        super().__init__()
        if kind not in ("auto", "deepsea", "vgg19", "feature_matching"):
            raise UserError(f"perceptual loss kind {kind!r} unknown; use deepsea, vgg19, feature_matching or auto")
        self.layer_weights = layer_weights
        self.extractor: nn.Module | None = None
        self.fallback_reason = ""
        if extractor is not None:
            self.kind, self.extractor = ("custom" if kind == "auto" else kind), extractor
        elif kind == "vgg19" or (kind == "auto" and vgg19_weights is not None):
            if vgg19_weights is None:
                raise UserError("perceptual loss 'vgg19' needs a local ImageNet VGG19 weights file: "
                                "pass vgg19_weights=PATH (nothing is downloaded)")
            from tgan_aug.features.vgg19 import load_vgg19_features

            self.kind, self.extractor = "vgg19", load_vgg19_features(vgg19_weights)
        elif kind in ("deepsea", "auto"):
            try:
                from tgan_aug.features.deepsea import DeepSeaFeatures

                self.kind, self.extractor = "deepsea", DeepSeaFeatures(invert=invert)
            except (ImportError, UserError, FileNotFoundError) as exc:
                if kind == "deepsea":
                    raise UserError(f"perceptual loss 'deepsea' is unavailable: {exc}") from None
                self.kind, self.fallback_reason = "feature_matching", f"DeepSea features unavailable ({exc})"
        else:
            self.kind = "feature_matching"
        if self.extractor is not None:
            self.extractor.eval()
            for p in self.extractor.parameters():
                p.requires_grad_(False)
        log.info("perceptual loss: %s", self.describe())

    def describe(self) -> str:
        """One line saying which features the loss uses (for logs and run metadata)."""
        names = {
            "deepsea": "DeepSea segmentation features (deepsea package weights)",
            "vgg19": "VGG19 ImageNet features (local weights file)",
            "feature_matching": "discriminator feature matching",
            "custom": "custom feature extractor",
        }
        text = names.get(self.kind, self.kind)
        return f"{text} (fallback: {self.fallback_reason})" if self.fallback_reason else text

    def train(self, mode: bool = True) -> "PerceptualLoss":
        super().train(mode)
        if self.extractor is not None:
            self.extractor.eval()  # frozen features stay in eval mode
        return self

    def forward(self, fake: torch.Tensor, real: torch.Tensor, *, fake_feats: list[torch.Tensor] | None = None,
                real_feats: list[torch.Tensor] | None = None) -> torch.Tensor:
        if self.kind == "feature_matching":
            if fake_feats is None or real_feats is None:
                raise ValueError("perceptual loss uses discriminator feature matching: pass fake_feats and "
                                "real_feats (the feature lists returned by the discriminator)")
            return feature_matching_loss(fake_feats, real_feats, self.layer_weights)
        if fake.shape != real.shape:
            raise ValueError(f"perceptual loss: fake {tuple(fake.shape)} and real {tuple(real.shape)} differ")
        extractor = self.extractor
        try:
            param = next(extractor.parameters())
            if param.device != fake.device:
                extractor.to(fake.device)
        except StopIteration:
            pass
        with torch.no_grad():
            real_f = extractor(real)
        fake_f = extractor(fake)
        return feature_matching_loss(list(fake_f), list(real_f), self.layer_weights)
