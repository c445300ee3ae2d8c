"""merge_stages: a low-res run and a super-res run in one renderable checkpoint dict."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tgan_aug.errors import UserError
from tgan_aug.models import LowResGenerator, ModelConfig, SuperResGenerator
from tgan_aug.training.checkpoint import FORMAT_VERSION, merge_stages, model_config_from_checkpoint


def _stage(stage: str, cfg: ModelConfig, *, step: int, seed: int) -> dict:
    torch.manual_seed(seed)
    net = LowResGenerator(cfg) if stage == "lowres" else SuperResGenerator(cfg)
    return {"format_version": FORMAT_VERSION, "kind": "tgan-aug-checkpoint", "stage": stage,
            "config": {"model": dataclasses.asdict(cfg), "seed": seed}, "weights": {stage: {"G_ema": net.state_dict(), "G": {}}},
            "optimizers": {"G": {}}, "step": step, "data": {"source": stage}, "created": f"t{seed}"}


def test_merge_keeps_the_lowres_config_and_both_ema_generators():
    lo_cfg = ModelConfig.preset("tiny", use_background=False)  # a field only the low-res generator uses
    sr_cfg = ModelConfig.preset("tiny")
    lo, sr = _stage("lowres", lo_cfg, step=7, seed=1), _stage("superres", sr_cfg, step=3, seed=2)
    merged = merge_stages(lo, sr)
    assert merged["stage"] == "merged" and merged["optimizers"] == {}
    assert (merged["step"], merged["step_superres"]) == (7, 3)
    assert merged["data"] == {"source": "lowres"} and merged["config"]["seed"] == 1 and merged["config_superres"]["seed"] == 2
    cfg = model_config_from_checkpoint(merged)
    assert cfg.use_background is False and cfg.superres_residual == sr_cfg.superres_residual
    assert merged["weights"]["lowres"]["G_ema"] is lo["weights"]["lowres"]["G_ema"]
    assert merged["weights"]["superres"]["G_ema"] is sr["weights"]["superres"]["G_ema"]
    SuperResGenerator(cfg).load_state_dict(merged["weights"]["superres"]["G_ema"])


def test_merge_refuses_wrong_stages_and_superres_weights_of_another_network():
    tiny = ModelConfig.preset("tiny")
    lo = _stage("lowres", tiny, step=1, seed=0)
    with pytest.raises(UserError, match="merge needs a lowres then a superres checkpoint, got lowres and lowres"):
        merge_stages(lo, lo)
    wider = ModelConfig.preset("tiny", base_channels=2 * tiny.base_channels)
    with pytest.raises(UserError, match="super-res weights do not fit the low-res run's model config"):
        merge_stages(lo, _stage("superres", wider, step=1, seed=0))


def test_merging_leaves_the_global_random_stream_alone():
    tiny = ModelConfig.preset("tiny")
    lo, sr = _stage("lowres", tiny, step=1, seed=0), _stage("superres", tiny, step=1, seed=1)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    merge_stages(lo, sr)
    assert torch.equal(torch.rand(3), expected)  # callers that draw next (a detector's init) see the same numbers
