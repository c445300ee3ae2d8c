"""PatchDiscriminator: logits size follows the input size; features for matching; attention flag; errors."""

from __future__ import annotations

import pytest
import torch

from tgan_aug.models import ModelConfig, PatchDiscriminator
from tgan_aug.models.layers import LinearAttention


@pytest.mark.parametrize("size", [(32, 32), (64, 96), (40, 24)])
def test_output_size_follows_input(size):
    cfg = ModelConfig.preset("small")  # disc_layers 3 -> /8
    D = PatchDiscriminator(4, cfg)
    logits, feats = D(torch.randn(2, 4, *size))
    assert logits.shape == (2, 1, size[0] // 8, size[1] // 8)
    assert D.output_size(*size) == tuple(logits.shape[-2:])
    assert len(feats) == cfg.disc_layers + 1
    assert feats[0].shape[-2:] == (size[0] // 2, size[1] // 2)


def test_attention_flag():
    with_att = PatchDiscriminator(2, ModelConfig.preset("tiny"))
    without = PatchDiscriminator(2, ModelConfig.preset("tiny", disc_attention=False))
    assert isinstance(with_att.attention, LinearAttention)
    assert without.attention is None
    assert without(torch.randn(1, 2, 16, 16))[0].shape == (1, 1, 4, 4)


def test_linear_attention_mixes_all_pixels():
    att = LinearAttention(8)
    with torch.no_grad():
        att.gamma.fill_(1.0)
    x = torch.randn(1, 8, 6, 6, requires_grad=True)
    att(x)[0, :, 0, 0].sum().backward()
    assert (x.grad[0, :, 5, 5].abs().sum() > 0), "output at one pixel should depend on a far pixel"


def test_bad_input_errors():
    D = PatchDiscriminator(4, ModelConfig.preset("small"))
    with pytest.raises(ValueError, match=r"expected \(B, 4, H, W\)"):
        D(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r"30x32 .*multiples of 8.*nearest valid sizes: 32x32"):
        D(torch.randn(1, 4, 30, 32))
    with pytest.raises(ValueError, match="in_channels"):
        PatchDiscriminator(0, ModelConfig.preset("small"))
