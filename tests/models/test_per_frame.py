"""The per-frame ablation (``ModelConfig.use_prev_frame=False``): no previous-frame input at all,
validated with n_masks=1, saved in checkpoints, and old checkpoints (no such key) still load."""

from __future__ import annotations

import json

import pytest
import torch

from tgan_aug.errors import UserError
from tgan_aug.models import LowResGenerator, ModelConfig


def _gen(cfg: ModelConfig, seed: int = 0):
    torch.manual_seed(seed)
    G = LowResGenerator(cfg).eval()
    h, w = cfg.lowres_size
    g = torch.Generator().manual_seed(seed)
    masks = (torch.rand(2, cfg.n_masks, h, w, generator=g) > 0.6).float()
    bg = torch.rand(2, 1, h, w, generator=g) * 2 - 1
    wv = G.mapping(G.make_z(2, generator=g))
    noise = G.make_noise(2, g)
    return G, masks, bg, wv, noise


def _perturb_all(G: LowResGenerator) -> None:
    """Random weights everywhere (zero-init gates would hide a dependence on an input)."""
    g = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.2)


def test_preset_sets_one_mask_and_round_trips():
    cfg = ModelConfig.preset("tiny", use_prev_frame=False)
    assert cfg.use_prev_frame is False and cfg.n_masks == 1
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert ModelConfig.preset("tiny").use_prev_frame is True


def test_flag_is_validated():
    with pytest.raises(UserError, match="use_prev_frame=False .*needs n_masks=1, got n_masks=2"):
        ModelConfig.preset("tiny", use_prev_frame=False, n_masks=2)
    with pytest.raises(UserError, match="use_prev_frame: expected true/false"):
        ModelConfig.preset("tiny", use_prev_frame="no")


def test_old_config_dicts_without_the_key_default_to_temporal():
    d = ModelConfig.preset("tiny").to_dict()
    del d["use_prev_frame"]
    assert ModelConfig.from_dict(d).use_prev_frame is True


@pytest.mark.parametrize("use_background", [True, False])
def test_output_ignores_the_previous_frame_when_off(use_background):
    cfg = ModelConfig.preset("tiny", use_prev_frame=False, use_background=use_background)
    G, masks, bg, w, noise = _gen(cfg)
    _perturb_all(G)
    assert G.prev_encoder is None
    feats = G.encode_background(bg)
    with torch.no_grad():
        a, weights = G(masks, torch.full_like(bg, -1.0), feats, w, noise, return_attention=True)
        b = G(masks, torch.full_like(bg, 1.0), feats, w, noise)
        c = G(masks, None, feats, w, noise)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(a, c, rtol=0, atol=0)
    assert weights[0].shape[1] == (2 if use_background else 1)
    # the per-frame output still depends on its own mask
    with torch.no_grad():
        d = G(1 - masks, None, feats, w, noise)
    assert (a - d).abs().max() > 1e-3


def test_output_depends_on_the_previous_frame_when_on():
    G, masks, bg, w, noise = _gen(ModelConfig.preset("tiny"))
    _perturb_all(G)
    feats = G.encode_background(bg)
    with torch.no_grad():
        a = G(masks, torch.full_like(bg, -1.0), feats, w, noise)
        b = G(masks, torch.full_like(bg, 1.0), feats, w, noise)
    assert (a - b).abs().max() > 1e-3
    with pytest.raises(ValueError, match="prev: expected a tensor"):
        G(masks, None, feats, w, noise)


def test_rollout_is_frame_by_frame_when_off():
    cfg = ModelConfig.preset("tiny", use_prev_frame=False)
    G, _, bg, w, noise = _gen(cfg)
    _perturb_all(G)
    g = torch.Generator().manual_seed(5)
    masks = (torch.rand(2, 4, 32, 32, generator=g) > 0.6).float()
    with torch.no_grad():
        clip = G.rollout(masks, bg, w, noise)
        # frame 2 generated alone equals frame 2 of the clip: no state carried between frames
        alone = G.rollout(masks[:, 2:3], bg, w, noise)
    torch.testing.assert_close(clip[:, 2:3], alone, rtol=0, atol=0)


def test_checkpoint_saves_the_flag_and_builds_the_per_frame_generator(tmp_path):
    from tgan_aug.training.checkpoint import build_generator_from_checkpoint, load_checkpoint, save_checkpoint
    from tgan_aug.training.config import TrainConfig

    cfg = TrainConfig.preset("tiny", stage="lowres", model={"use_prev_frame": False})
    assert cfg.model.n_masks == 1
    G = LowResGenerator(cfg.model)
    _perturb_all(G)
    ckpt = {"stage": "lowres", "config": cfg.to_dict(), "weights": {"lowres": {"G_ema": G.state_dict()}},
            "step": 0, "data": {}}
    assert ckpt["config"]["model"]["use_prev_frame"] is False
    path = save_checkpoint(tmp_path / "per-frame.pt", ckpt)
    back = build_generator_from_checkpoint(load_checkpoint(path), which="lowres")
    assert back.cfg.use_prev_frame is False and back.prev_encoder is None
    # --set model.use_prev_frame=false alone names the missing n_masks=1
    with pytest.raises(UserError, match="needs n_masks=1"):
        TrainConfig.preset("tiny").with_overrides(["model.use_prev_frame=false"])
    assert TrainConfig.preset("tiny").with_overrides(
        ["model.use_prev_frame=false", "model.n_masks=1"]).model.use_prev_frame is False


def test_shipped_checkpoint_still_loads():
    from pathlib import Path

    from tgan_aug.training.checkpoint import build_generator_from_checkpoint, load_checkpoint

    path = Path(__file__).resolve().parents[2] / "tgan_aug" / "pretrained" / "hela-small.pt"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    ckpt = load_checkpoint(path)
    G = build_generator_from_checkpoint(ckpt, which="lowres", ema=True)
    assert G.cfg.use_prev_frame is True and G.prev_encoder is not None


def test_no_background_model_never_sees_it_in_training_or_rollout():
    """use_background=False: the first frame's "previous frame" is zeros, not the background, in
    the training clip generator and in rollout alike (with a background model it matters)."""
    from tgan_aug.training.steps import generate_lowres_clip

    for use_bg in (False, True):
        G, masks, bg, w, noise = _gen(ModelConfig.preset("tiny", use_background=use_bg))
        _perturb_all(G)
        clip = torch.cat([masks[:, :1]] * 3, dim=1)  # (B, 3, h, w)
        with torch.no_grad():
            a = generate_lowres_clip(G, clip, torch.full_like(bg[:, 0], -0.8), generator=torch.Generator().manual_seed(0))
            b = generate_lowres_clip(G, clip, torch.full_like(bg[:, 0], 0.8), generator=torch.Generator().manual_seed(0))
            r1 = G.rollout(clip, torch.full_like(bg, -0.8), w, noise)
            r2 = G.rollout(clip, torch.full_like(bg, 0.8), w, noise)
        if use_bg:
            assert (a - b).abs().max() > 1e-3 and (r1 - r2).abs().max() > 1e-3
        else:
            torch.testing.assert_close(a, b, rtol=0, atol=0)
            torch.testing.assert_close(r1, r2, rtol=0, atol=0)
