"""Low-res frames as ``tgan-aug render`` makes them: per-frame (each frame from its own mask) or
autoregressive; the training quality check uses the rendering default."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tgan_aug.models import LowResGenerator, ModelConfig
from tgan_aug.training import quality_check
from tgan_aug.training.steps import generate_lowres_frames


def _generator() -> LowResGenerator:
    torch.manual_seed(0)
    return LowResGenerator(ModelConfig.preset("tiny", style_init=1.0, noise_init=0.1)).eval()


def _masks(T: int = 5) -> torch.Tensor:
    return (torch.rand(1, T, 32, 32, generator=torch.Generator().manual_seed(1)) > 0.6).float()


def test_per_frame_frames_depend_on_their_own_mask_only_autoregressive_ones_do_not():
    G, masks = _generator(), _masks()
    other = masks.clone()
    other[:, :2] = 1 - other[:, :2]  # frames 0-1 changed, frames 2-4 the same
    bg = torch.full((1, 32, 32), -0.5)

    def run(m, temporal):
        return generate_lowres_frames(G, m, bg, generator=torch.Generator().manual_seed(4), temporal=temporal)

    a, b = run(masks, "per-frame"), run(other, "per-frame")
    assert a.shape == (1, 5, 32, 32)
    torch.testing.assert_close(a[:, 2:], b[:, 2:], rtol=0, atol=0)
    assert (a[:, :2] - b[:, :2]).abs().max() > 1e-3
    # the paper's loop carries frames 0-1 into frame 2 (masks t-1, t-2 and the fed-back frame)
    a, b = run(masks, "autoregressive"), run(other, "autoregressive")
    assert (a[:, 2] - b[:, 2]).abs().max() > 1e-3
    with pytest.raises(ValueError, match="temporal='loop'"):
        run(masks, "loop")


def test_quality_check_lowres_stage_renders_per_frame():
    G, masks = _generator(), _masks()
    bg = np.full((32, 32), -0.5, np.float32)
    got = quality_check._lowres_rollout(G, masks[0].numpy(), bg, torch.Generator().manual_seed(4))
    want = generate_lowres_frames(G, masks, torch.from_numpy(bg)[None], generator=torch.Generator().manual_seed(4))
    np.testing.assert_array_equal(got, want[0].numpy())
