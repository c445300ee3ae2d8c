"""FlowNet: warp convention and [-1, 1] normalisation, any input size, trainable, learns a real 3-px shift."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tgan_aug.models import FlowNet, ModelConfig, flow_self_supervised_loss, warp, warp_valid_mask

from ._realdata import trpl_frame


def test_zero_flow_is_identity_and_integer_shift_is_exact():
    img = torch.rand(2, 3, 12, 17)
    torch.testing.assert_close(warp(img, torch.zeros(2, 2, 12, 17)), img)
    flow = torch.zeros(2, 2, 12, 17)
    flow[:, 0] = 2.0  # dx = +2: out[y, x] = img[y, x + 2]
    flow[:, 1] = -1.0  # dy = -1: out[y, x] = img[y - 1, x]
    out = warp(img, flow)
    torch.testing.assert_close(out[:, :, 1:, :-2], img[:, :, :-1, 2:])


def test_half_pixel_flow_interpolates():
    img = torch.arange(10.0).view(1, 1, 1, 10).expand(1, 1, 4, 10).contiguous()
    flow = torch.zeros(1, 2, 4, 10)
    flow[:, 0] = 0.5
    torch.testing.assert_close(warp(img, flow)[..., :-1], img[..., :-1] + 0.5)


def test_valid_mask_marks_samples_outside():
    flow = torch.zeros(1, 2, 5, 6)
    flow[:, 0] = 2.0
    valid = warp_valid_mask(flow)
    assert valid[0, 0, :, :4].all() and not valid[0, 0, :, 4:].any()


@pytest.mark.parametrize("size", [(32, 32), (30, 45)])
def test_flownet_any_size(size):
    net = FlowNet(ModelConfig.preset("small"))
    a = torch.rand(2, 1, *size)
    flow = net(a, a)
    assert flow.shape == (2, 2, *size)


def test_receptive_field_reaches_large_motions():
    cfg = ModelConfig.preset("small")
    assert cfg.flow_radius * 2**cfg.flow_scales >= 20  # 20 px at the training resolution
    cfg = ModelConfig.preset("paper")
    assert cfg.flow_radius * 2**cfg.flow_scales >= 40


def test_self_supervised_loss_trains_every_parameter():
    net = FlowNet(ModelConfig.preset("tiny"))
    a = torch.rand(2, 1, 32, 32) * 2 - 1
    b = torch.roll(a, 2, dims=-1)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    for _ in range(2):  # the estimators' last layers start at zero: check on the second step
        opt.zero_grad()
        flow_self_supervised_loss(net, a, b, ssim_weight=0.5).backward()
        opt.step()
    missing = [n for n, p in net.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing, f"parameters without gradient: {missing}"


def _pair(img: torch.Tensor, y: int, x: int, dy: int, dx: int, size: int):
    """img1 = crop at (y, x); img2 = the scene moved by (dy, dx) px; true flow = (-dx, -dy)."""
    a = img[y : y + size, x : x + size]
    b = img[y - dy : y - dy + size, x - dx : x - dx + size]
    return a[None], b[None]


@pytest.mark.slow
def test_flownet_learns_a_three_pixel_translation_of_a_real_image():
    img = torch.from_numpy(trpl_frame(factor=2))  # (363, 513)
    size, batch, steps = 48, 8, 250
    net = FlowNet(ModelConfig.preset("tiny"))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    shifts = [(0, 3), (0, -3), (3, 0), (-3, 0)]
    for _ in range(steps):  # training crops come from x < 400; the test crop from x >= 440
        pairs = [_pair(img, int(rng.integers(8, img.shape[0] - size - 8)), int(rng.integers(8, 400 - size)),
                       *shifts[rng.integers(4)], size) for _ in range(batch)]
        a = torch.stack([p[0] for p in pairs])
        b = torch.stack([p[1] for p in pairs])
        loss = flow_self_supervised_loss(net, a, b)
        opt.zero_grad()
        loss.backward()
        opt.step()
    a, b = _pair(img, 150, 450, 0, 3, size)  # moved +3 px in x -> flow dx = -3
    with torch.no_grad():
        flow = net(a[None], b[None])[0, :, 8:-8, 8:-8]
    dx, dy = flow[0], flow[1]
    assert abs(dx.mean().item() + 3) < 0.5 and abs(dy.mean().item()) < 0.5
    assert abs(dx.median().item() + 3) < 0.5 and abs(dy.median().item()) < 0.5
    err = torch.sqrt((dx + 3) ** 2 + dy**2)
    assert err.median().item() < 0.5, f"median end-point error {err.median().item():.2f} px"
