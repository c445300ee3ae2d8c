"""The inference fast paths of the styled layers give the training-path result."""

import torch

from tgan_aug.models import ModelConfig, SuperResGenerator
from tgan_aug.models.layers import ModulatedConv2d, StyledConv


def _modconv_both(demodulate: bool):
    torch.manual_seed(0)
    conv = ModulatedConv2d(6, 5, 3, 8, demodulate=demodulate)
    x, w = torch.randn(4, 6, 9, 11), torch.randn(1, 8)
    ModulatedConv2d.fold_single_style = True
    try:
        folded = conv(x, w)
        ModulatedConv2d.fold_single_style = False
        plain = conv(x, w)
        per_sample = conv(x, w.repeat(4, 1))  # 4 identical styles: the batched path
    finally:
        ModulatedConv2d.fold_single_style = True
    return folded, plain, per_sample


def test_folded_modulation_equals_the_batched_path():
    for demod in (True, False):
        folded, plain, per_sample = _modconv_both(demod)
        torch.testing.assert_close(folded, plain, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(folded, per_sample, rtol=1e-5, atol=1e-5)
        assert folded.abs().mean() > 0.1  # not a trivially zero output


def test_in_place_inference_equals_autograd_path():
    torch.manual_seed(1)
    layer = StyledConv(4, 6, 8)
    with torch.no_grad():
        layer.bias.normal_()
    x, w, noise = torch.randn(2, 4, 8, 8), torch.randn(2, 8), torch.randn(2, 1, 8, 8)
    train_out = layer(x, w, noise)
    with torch.inference_mode():
        inf_out = layer(x, w, noise)
    torch.testing.assert_close(inf_out, train_out.detach())
    assert (train_out < 0).any() and (train_out > 0).any()  # leaky ReLU's both sides exercised


def test_generator_output_unchanged_by_fast_paths():
    torch.manual_seed(2)
    cfg = ModelConfig.preset("tiny")
    S = SuperResGenerator(cfg).eval()
    H, W = cfg.out_size
    lr, fg = torch.randn(3, 1, H // 2, W // 2), (torch.rand(3, 1, H, W) > 0.5).float()
    z = S.make_z(1, generator=torch.Generator().manual_seed(0))
    noise = S.make_noise(1, torch.Generator().manual_seed(1), size=(H, W))
    w = S.mapping(z)
    ref = S(lr, fg, w.repeat(3, 1), [n.repeat(3, 1, 1, 1) for n in noise])  # grad mode, per-sample styles
    with torch.inference_mode():
        fast = S(lr, fg, w, noise)  # one style, folded, in place
    torch.testing.assert_close(fast, ref.detach(), rtol=1e-4, atol=1e-4)
