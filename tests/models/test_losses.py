"""Losses: LSGAN per Equation 3, flow loss frozen for the FlowNet, perceptual loss kinds and fallback."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from tgan_aug.errors import UserError
from tgan_aug.models import (
    FlowNet,
    ModelConfig,
    PatchDiscriminator,
    PerceptualLoss,
    flow_loss,
    lsgan_d_loss,
    lsgan_g_loss,
)


def test_lsgan_equation_3_values():
    real = torch.full((2, 1, 4, 4), 0.5)
    fake = torch.full((2, 1, 4, 4), 0.25)
    # 0.5 * (0.5 - 1)^2 + 0.5 * 0.25^2
    assert lsgan_d_loss(real, fake).item() == pytest.approx(0.5 * 0.25 + 0.5 * 0.0625)
    assert lsgan_g_loss(fake).item() == pytest.approx(0.75**2)
    assert lsgan_d_loss(torch.ones(3), torch.zeros(3)).item() == 0.0


def test_flow_loss_trains_the_generator_not_the_flownet():
    net = FlowNet(ModelConfig.preset("tiny"))
    with torch.no_grad():  # make the flow depend on its input (last layers start at zero)
        for est in net.estimators:
            est[-1].weight.normal_(0, 0.1)
    prev = torch.rand(1, 1, 32, 32) * 2 - 1
    cur = torch.roll(prev, 2, dims=-1)
    fake = (torch.rand(1, 1, 32, 32) * 2 - 1).requires_grad_(True)
    loss = flow_loss(net, prev, cur, fake)
    assert loss.item() > 0
    loss.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())
    assert all(p.requires_grad for p in net.parameters())  # flags untouched
    assert flow_loss(net, prev, cur, cur.clone()).item() == pytest.approx(0.0, abs=1e-6)


class _FakeFeatures(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, x):
        a = torch.relu(self.conv(x))
        return [a, nn.functional.avg_pool2d(a, 2)]


def test_perceptual_custom_extractor_is_frozen_and_gives_grads():
    loss_fn = PerceptualLoss(extractor=_FakeFeatures())
    assert loss_fn.kind == "custom"
    fake = torch.rand(1, 1, 16, 16, requires_grad=True)
    real = torch.rand(1, 1, 16, 16)
    loss = loss_fn(fake, real)
    loss.backward()
    assert loss.item() > 0 and fake.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in loss_fn.extractor.parameters())
    assert loss_fn(real, real).item() == 0.0


def test_perceptual_feature_matching_uses_discriminator_features(caplog):
    with caplog.at_level(logging.INFO, logger="tgan_aug.models"):
        loss_fn = PerceptualLoss("feature_matching")
    assert "discriminator feature matching" in caplog.text
    D = PatchDiscriminator(1, ModelConfig.preset("tiny"))
    fake = torch.rand(1, 1, 16, 16, requires_grad=True)
    real = torch.rand(1, 1, 16, 16)
    _, ff = D(fake)
    _, fr = D(real)
    loss = loss_fn(fake, real, fake_feats=ff, real_feats=fr)
    loss.backward()
    assert loss.item() > 0 and fake.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="pass fake_feats and real_feats"):
        loss_fn(fake, real)


def test_perceptual_vgg19_needs_a_local_file(tmp_path):
    with pytest.raises(UserError, match="vgg19_weights=PATH"):
        PerceptualLoss("vgg19")
    with pytest.raises(UserError, match="does not exist"):
        PerceptualLoss("vgg19", vgg19_weights=tmp_path / "missing.pth")


def test_perceptual_unknown_kind():
    with pytest.raises(UserError, match="kind 'lpips' unknown"):
        PerceptualLoss("lpips")


def test_perceptual_deepsea_or_auto_fallback(caplog):
    """DeepSea features when the package weights load; 'auto' falls back to feature matching and says so."""
    with caplog.at_level(logging.INFO, logger="tgan_aug.models"):
        auto = PerceptualLoss("auto")
    assert auto.kind in ("deepsea", "feature_matching")
    assert "perceptual loss:" in caplog.text
    if auto.kind == "feature_matching":
        assert "fallback" in auto.describe()
        pytest.skip(f"DeepSea features unavailable here: {auto.describe()}")
    fake = torch.rand(1, 1, 16, 16, requires_grad=True) * 2 - 1
    real = torch.rand(1, 1, 16, 16) * 2 - 1
    loss = auto(fake, real)
    loss.backward()
    assert loss.item() > 0
    assert auto(real, real).item() == 0.0
