"""The super-res quality check computes the frozen low-res model's rollout once, not at every check."""

from __future__ import annotations

import numpy as np
import torch

from tgan_aug.training import quality_check
from tgan_aug.training.config import TrainConfig
from tgan_aug.training.loop import build_networks
from tgan_aug.training.quality_check import HeldOut, stage_quality


def _held(T: int = 3, H: int = 32, W: int = 32) -> HeldOut:
    rng = np.random.default_rng(0)
    masks = np.zeros((T, H, W), bool)
    masks[:, 8:20, 10:22] = True
    images = np.where(masks, 0.6, -0.6).astype(np.float32) + rng.normal(0, 0.05, (T, H, W)).astype(np.float32)
    return HeldOut(["a", "b"], [images, images[::-1].copy()], [masks, masks.copy()], [np.full((H, W), -0.6, np.float32)] * 2)


def test_cached_lowres_rollout_gives_the_same_report_and_runs_once(monkeypatch):
    lo = build_networks(TrainConfig.preset("tiny", stage="lowres", perceptual="none"), torch.device("cpu"))["G_ema"]
    sr = build_networks(TrainConfig.preset("tiny", stage="superres", perceptual="none"), torch.device("cpu"))["G_ema"]
    held = _held()
    plain, plain_arrays = stage_quality("superres", sr, held, seed=3, lowres_G=lo)

    calls = []
    real_rollout = quality_check._lowres_rollout
    monkeypatch.setattr(quality_check, "_lowres_rollout", lambda *a, **k: calls.append(1) or real_rollout(*a, **k))
    cache: dict = {}
    for _ in range(3):
        report, arrays = stage_quality("superres", sr, held, seed=3, lowres_G=lo, lowres_cache=cache)
        assert report.to_dict() == plain.to_dict()  # the same noise/style draws as without the cache
        np.testing.assert_array_equal(arrays[2], plain_arrays[2])
    assert len(calls) == len(held.names)  # one rollout per held-back sequence, for all three checks
