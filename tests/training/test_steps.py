"""Low-res clip generation with rollout burn-in: the trained frames are those of a longer rollout."""

from __future__ import annotations

import pytest
import torch

from tgan_aug.models import LowResGenerator, ModelConfig
from tgan_aug.training.steps import generate_lowres_clip


def test_burn_in_returns_the_tail_of_the_full_rollout_and_only_it_has_a_graph():
    torch.manual_seed(0)
    G = LowResGenerator(ModelConfig.preset("tiny", style_init=1.0, noise_init=0.1))
    masks = (torch.rand(2, 5, 32, 32) > 0.6).float()
    bg = torch.rand(2, 32, 32) * 2 - 1
    full = generate_lowres_clip(G, masks, bg, generator=torch.Generator().manual_seed(4))
    tail = generate_lowres_clip(G, masks, bg, generator=torch.Generator().manual_seed(4), burn_in=3)
    assert tail.shape == (2, 2, 32, 32)
    # the burn-in runs without autograd (in-place inference ops): equal up to float rounding
    torch.testing.assert_close(tail, full[:, 3:], rtol=0, atol=1e-5)
    assert tail.requires_grad
    # the burn-in frames are not part of the graph: only the two returned frames' passes are
    tail.sum().backward()
    assert G.background_encoder.blocks[0].net[0].weight.grad is not None
    with pytest.raises(ValueError, match="burn_in=5"):
        generate_lowres_clip(G, masks, bg, generator=torch.Generator().manual_seed(4), burn_in=5)
