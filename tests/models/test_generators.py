"""Generators: shapes for every preset, size errors, attention over three sources at every level,
background encoder really used, style and noise drawn once per sequence, ablation flags."""

from __future__ import annotations

import pytest
import torch

from tgan_aug.errors import UserError
from tgan_aug.models import LowResGenerator, ModelConfig, SuperResGenerator
from tgan_aug.models.lowres import BackgroundEncoding


def _inputs(G: LowResGenerator, b: int = 2, seed: int = 0):
    cfg = G.cfg
    h, w = cfg.lowres_size
    g = torch.Generator().manual_seed(seed)
    masks = (torch.rand(b, cfg.n_masks, h, w, generator=g) > 0.7).float()
    prev = torch.rand(b, 1, h, w, generator=g) * 2 - 1
    bg = torch.rand(b, 1, h, w, generator=g) * 2 - 1
    z = G.make_z(b, generator=g)
    noise = G.make_noise(b, g)
    return masks, prev, bg, z, noise


# paper channels at a reduced size: a full 256x384 forward is too slow for the default CPU suite
PRESET_CASES = [("tiny", {}), ("small", {}), ("paper", {"lowres_size": (32, 48)})]


@pytest.mark.parametrize("name,overrides", PRESET_CASES)
def test_lowres_and_superres_shapes(name, overrides):
    cfg = ModelConfig.preset(name, **overrides)
    G = LowResGenerator(cfg)
    masks, prev, bg, z, noise = _inputs(G, b=1)
    with torch.no_grad():
        out = G(masks, prev, G.encode_background(bg), G.mapping(z), noise)
    h, w = cfg.lowres_size
    assert out.shape == (1, 1, h, w)
    assert out.abs().max() <= 1.0
    S = SuperResGenerator(cfg)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        hi = S(out, torch.zeros(1, 1, 2 * h, 2 * w), S.mapping(S.make_z(1, generator=g)), S.make_noise(1, g))
    assert hi.shape == (1, 1, 2 * h, 2 * w)
    assert hi.abs().max() <= 1.0


def test_paper_preset_channels():
    cfg = ModelConfig.preset("paper")
    assert cfg.channels() == [64, 128, 256, 512, 512]
    G = LowResGenerator(cfg)
    assert len(G.make_noise(1)) == 1 + 2 * cfg.depth
    assert G.make_noise(1)[-1].shape == (1, 1, 256, 384)


def test_generator_runs_on_other_valid_sizes():
    G = LowResGenerator(ModelConfig.preset("tiny"))
    b, h, w = 1, 20, 44
    masks = torch.zeros(b, 2, h, w)
    prev = torch.zeros(b, 1, h, w)
    g = torch.Generator().manual_seed(0)
    out = G(masks, prev, G.encode_background(prev), G.mapping(G.make_z(b, generator=g)),
            G.make_noise(b, g, size=(h, w)))
    assert out.shape == (b, 1, h, w)


def test_bad_sizes_raise_with_nearest_valid_sizes():
    G = LowResGenerator(ModelConfig.preset("tiny"))  # multiples of 4
    x = torch.zeros(1, 1, 30, 33)
    with pytest.raises(ValueError, match=r"30x33 .*nearest valid sizes: 28x32 or 32x32"):
        G.encode_background(x)
    with pytest.raises(ValueError, match=r"30x33 .*nearest valid sizes"):
        G(torch.zeros(1, 2, 30, 33), x, None, None)
    S = SuperResGenerator(ModelConfig.preset("tiny"))
    with pytest.raises(ValueError, match=r"mask: expected \(1, 1, 64, 64\)"):
        S(torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 32), S.mapping(torch.zeros(1, 16)))


def test_wrong_inputs_are_named():
    G = LowResGenerator(ModelConfig.preset("tiny"))
    masks, prev, bg, z, noise = _inputs(G)
    feats = G.encode_background(bg)
    with pytest.raises(ValueError, match="masks: expected a tensor \\(B, 2, H, W\\)"):
        G(masks[:, :1], prev, feats, G.mapping(z), noise)
    with pytest.raises(ValueError, match="w: expected shape"):
        G(masks, prev, feats, None, noise)
    with pytest.raises(ValueError, match="noise: expected a list of 5"):
        G(masks, prev, feats, G.mapping(z), noise[:2])
    with pytest.raises(ValueError, match="bg_feats: expected the list"):
        G(masks, prev, None, G.mapping(z), noise)


def test_attention_weights_sum_to_one_over_three_sources_at_every_level():
    G = LowResGenerator(ModelConfig.preset("tiny"))
    masks, prev, bg, z, noise = _inputs(G)
    _, weights = G(masks, prev, G.encode_background(bg), G.mapping(z), noise, return_attention=True)
    assert len(weights) == G.cfg.depth + 1
    h, w = G.cfg.lowres_size
    for level, a in enumerate(weights):
        assert a.shape == (2, 3, h >> level, w >> level)
        torch.testing.assert_close(a.sum(dim=1), torch.ones_like(a[:, 0]))
        assert (a > 0.01).all(), f"a source is ignored at level {level}"


def test_finest_level_uses_the_background_and_its_encoder_learns():
    G = LowResGenerator(ModelConfig.preset("tiny"))
    masks, prev, bg, z, noise = _inputs(G)
    bg_feats = BackgroundEncoding([f.detach().requires_grad_(True) for f in G.encode_background(bg)], bg)
    out = G(masks, prev, bg_feats, G.mapping(z), noise)
    out.square().mean().backward()
    finest = bg_feats[0].grad
    assert finest is not None and finest.abs().sum() > 0, "finest decoder level ignores the background"
    for f in bg_feats:
        assert f.grad.abs().sum() > 0
    # the background encoder (its own weights) receives gradients through encode_background
    G.zero_grad()
    bg = bg.clone().requires_grad_(True)
    out = G(masks, prev, G.encode_background(bg), G.mapping(z), noise)
    out.square().mean().backward()
    enc_grads = [p.grad for p in G.background_encoder.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in enc_grads)
    assert bg.grad.abs().sum() > 0
    # and it is not the previous-frame encoder applied to the background (the authors' bug)
    assert G.background_encoder is not G.prev_encoder
    diff = [(a - b).abs().sum() for a, b in zip(G.background_encoder.parameters(), G.prev_encoder.parameters())]
    assert all(d > 0 for d in diff)


def test_background_changes_the_output():
    G = LowResGenerator(ModelConfig.preset("tiny"))
    masks, prev, bg, z, noise = _inputs(G)
    w = G.mapping(z)
    with torch.no_grad():
        a = G(masks, prev, G.encode_background(bg), w, noise)
        b = G(masks, prev, G.encode_background(-bg), w, noise)
    assert (a - b).abs().max() > 1e-4


# StyleGAN2's initialisation (style affines at gain 1, noise strength 0.1), under which style and
# noise act from the first step: the tests of their wiring use it
STYLEGAN_INIT = {"style_init": 1.0, "noise_init": 0.1}


def test_same_style_and_noise_give_identical_frames_other_noise_differs():
    G = LowResGenerator(ModelConfig.preset("tiny", **STYLEGAN_INIT))
    masks, prev, bg, z, noise = _inputs(G)
    feats = G.encode_background(bg)
    w = G.mapping(z)
    with torch.no_grad():
        a = G(masks, prev, feats, w, noise)
        b = G(masks, prev, feats, w, [n.clone() for n in noise])
        c = G(masks, prev, feats, w, G.make_noise(2, torch.Generator().manual_seed(99)))
        d = G(masks, prev, feats, G.mapping(G.make_z(2, generator=torch.Generator().manual_seed(5))), noise)
        e = G(masks, prev, feats, w, 7)
        f = G(masks, prev, feats, w, 7)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - c).abs().max() > 1e-4, "noise has no effect"
    assert (a - d).abs().max() > 1e-4, "style has no effect"
    torch.testing.assert_close(e, f, rtol=0, atol=0)


def test_make_noise_reproducible_with_generator():
    G = LowResGenerator(ModelConfig.preset("tiny"))
    n1 = G.make_noise(2, torch.Generator().manual_seed(3))
    n2 = G.make_noise(2, torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(n1, n2))
    assert [tuple(n.shape[-2:]) for n in n1] == [(8, 8), (16, 16), (16, 16), (32, 32), (32, 32)]


def test_rollout_uses_one_style_and_noise_for_the_whole_clip():
    G = LowResGenerator(ModelConfig.preset("tiny"))
    masks = (torch.rand(1, 5, 32, 32) > 0.7).float()
    bg = torch.rand(1, 1, 32, 32) * 2 - 1
    w = G.mapping(G.make_z(1, generator=torch.Generator().manual_seed(0)))
    noise = G.make_noise(1, torch.Generator().manual_seed(0))
    with torch.no_grad():
        clip = G.rollout(masks, bg, w, noise)
        # frame 1 by hand from frame 0
        f0 = G(masks[:, [0, 0]], bg, G.encode_background(bg), w, noise)
        f1 = G(masks[:, [1, 0]], f0, G.encode_background(bg), w, noise)
    assert clip.shape == (1, 5, 32, 32)
    torch.testing.assert_close(clip[:, 1:2], f1)


@pytest.mark.parametrize("flags", [{"use_background": False}, {"use_style_noise": False},
                                   {"use_background": False, "use_style_noise": False}])
def test_ablation_flags(flags):
    cfg = ModelConfig.preset("tiny", **flags)
    G = LowResGenerator(cfg)
    masks, prev, bg, z, noise = _inputs(G)
    feats = G.encode_background(bg)
    out, weights = G(masks, prev, feats, G.mapping(z), noise, return_attention=True)
    assert out.shape == (2, 1, 32, 32)
    assert weights[0].shape[1] == (3 if cfg.use_background else 2)
    if not cfg.use_background:
        assert feats == [] and G.background_encoder is None
    if not cfg.use_style_noise:
        assert noise == []
        torch.testing.assert_close(G(masks, prev, feats, None, None), out)
    S = SuperResGenerator(cfg)
    assert S(out, torch.zeros(2, 1, 64, 64), S.mapping(z), S.make_noise(2)).shape == (2, 1, 64, 64)


def test_superres_style_and_noise_change_output():
    cfg = ModelConfig.preset("tiny", **STYLEGAN_INIT)
    S = SuperResGenerator(cfg)
    lo = torch.rand(1, 1, 32, 32) * 2 - 1
    mask = (torch.rand(1, 1, 64, 64) > 0.5).float()
    w = S.mapping(S.make_z(1, generator=torch.Generator().manual_seed(0)))
    n = S.make_noise(1, torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = S(lo, mask, w, n)
        b = S(lo, mask, w, [x.clone() for x in n])
        c = S(lo, mask, w, S.make_noise(1, torch.Generator().manual_seed(1)))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - c).abs().max() > 1e-4
    assert [tuple(x.shape[-2:]) for x in n][-2:] == [(64, 64), (64, 64)]


def test_superres_residual_head_starts_from_the_upsampled_input():
    """A dark-dominated target must not push the head into tanh saturation: with the residual head
    an all-zero detail branch returns the (clamped) upsampled low-res frame."""
    import torch.nn.functional as F

    from tgan_aug.models import ModelConfig, SuperResGenerator

    torch.manual_seed(0)
    cfg = ModelConfig.preset("tiny")
    h, w = cfg.lowres_size
    lowres = torch.rand(2, 1, h, w) * 1.6 - 0.8
    mask = torch.zeros(2, 1, 2 * h, 2 * w)
    for residual, expect_up in ((True, True), (False, False)):
        G = SuperResGenerator(ModelConfig.preset("tiny", superres_residual=residual))
        with torch.no_grad():
            for p in G.to_image.parameters():
                p.zero_()
        out = G(lowres, mask, G.mapping(G.make_z(2)), None)
        up = F.interpolate(lowres, scale_factor=2, mode="bilinear", align_corners=False)
        if expect_up:
            torch.testing.assert_close(out, up, rtol=1e-4, atol=1e-4)
        else:
            assert out.abs().max() < 1e-6  # tanh(0): the plain head ignores the input here


def test_checkpoints_without_the_residual_field_keep_the_plain_head():
    from tgan_aug.training.checkpoint import model_config_from_checkpoint

    cfg = model_config_from_checkpoint({"config": {"model": {"preset": "tiny", **ModelConfig.PRESETS["tiny"]}}})
    assert cfg.superres_residual is False
    assert ModelConfig.preset("tiny").superres_residual is True


@pytest.mark.parametrize("make", [LowResGenerator, SuperResGenerator])
def test_style_and_noise_start_as_identity_and_training_can_grow_them(make):
    """Default init: every style and every noise map gives the same output at step 0 (the conditional
    generator does not first have to undo random per-sequence channel gains), yet the style affines
    and noise strengths receive gradients, so training can give them influence."""
    cfg = ModelConfig.preset("tiny")
    assert (cfg.style_init, cfg.noise_init) == (0.0, 0.0)
    G = make(cfg)
    h, w = cfg.lowres_size
    g = torch.Generator().manual_seed(0)
    z1, z2 = G.make_z(2, generator=g), G.make_z(2, generator=g)
    if make is LowResGenerator:
        masks, prev, bg, _, _ = _inputs(G)
        run = lambda z, n: G(masks, prev, G.encode_background(bg), G.mapping(z), n)  # noqa: E731
    else:
        lo, mask = torch.rand(2, 1, h, w, generator=g) * 2 - 1, (torch.rand(2, 1, 2 * h, 2 * w, generator=g) > 0.5).float()
        run = lambda z, n: G(lo, mask, G.mapping(z), n)  # noqa: E731
    a = run(z1, G.make_noise(2, torch.Generator().manual_seed(1)))
    b = run(z2, G.make_noise(2, torch.Generator().manual_seed(2)))
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    (a - torch.rand_like(a)).pow(2).mean().backward()
    affine_grads = [m.affine.weight.grad for m in G.modules() if hasattr(m, "affine")]
    noise_grads = [m.strength.grad for m in G.modules() if hasattr(m, "strength")]
    assert affine_grads and all(gr is not None and gr.abs().sum() > 0 for gr in affine_grads)
    assert noise_grads and all(gr is not None and gr.abs().sum() > 0 for gr in noise_grads)
    # StyleGAN2's init: the style changes the output from the start
    G1 = make(ModelConfig.preset("tiny", **STYLEGAN_INIT))
    if make is LowResGenerator:
        c = G1(masks, prev, G1.encode_background(bg), G1.mapping(z1), None)
        d = G1(masks, prev, G1.encode_background(bg), G1.mapping(z2), None)
    else:
        c, d = G1(lo, mask, G1.mapping(z1), None), G1(lo, mask, G1.mapping(z2), None)
    assert (c - d).abs().max() > 1e-3


def test_checkpoints_without_the_init_fields_read_the_init_they_were_built_with():
    from tgan_aug.training.checkpoint import model_config_from_checkpoint

    cfg = model_config_from_checkpoint({"config": {"model": {"preset": "tiny", **ModelConfig.PRESETS["tiny"]}}})
    assert (cfg.style_init, cfg.noise_init) == (1.0, 0.1)
    with pytest.raises(UserError, match="style_init"):
        ModelConfig.preset("tiny", style_init=-1)


def test_lowres_residual_head_starts_from_the_background():
    """Default head: frame = tanh(atanh(bg) + f(x)), so with a zero detail branch a frame IS the
    (clamped) background, and a dark background cannot drive the head into tanh saturation as the
    plain head did on HeLa. A plain list of features (no background image) is refused."""
    cfg = ModelConfig.preset("tiny")
    assert cfg.lowres_residual is True
    G = LowResGenerator(cfg)
    masks, prev, bg, z, noise = _inputs(G)
    with torch.no_grad():
        for p in G.to_image.parameters():
            p.zero_()
        out = G(masks, prev, G.encode_background(bg), G.mapping(z), noise)
    torch.testing.assert_close(out, bg.clamp(-0.995, 0.995), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="encode_background"):
        G(masks, prev, list(G.encode_background(bg)), G.mapping(z), noise)
    plain = LowResGenerator(ModelConfig.preset("tiny", lowres_residual=False))
    with torch.no_grad():
        for p in plain.to_image.parameters():
            p.zero_()
        assert plain(masks, prev, list(plain.encode_background(bg)), plain.mapping(z), noise).abs().max() < 1e-6
    from tgan_aug.training.checkpoint import model_config_from_checkpoint

    old = model_config_from_checkpoint({"config": {"model": {"preset": "tiny", **ModelConfig.PRESETS["tiny"]}}})
    assert old.lowres_residual is False


def test_network_shape_errors_are_programming_errors_not_user_errors():
    """Networks raise ValueError for wrong tensors; UserError (one line, exit code 2) belongs to the boundary."""
    G = LowResGenerator(ModelConfig.preset("tiny"))
    masks, prev, bg, z, noise = _inputs(G)
    with pytest.raises(ValueError) as exc:
        G(masks[:, :1], prev, G.encode_background(bg), G.mapping(z), noise)
    assert not isinstance(exc.value, UserError)
    with pytest.raises(ValueError) as exc:
        G.encode_background(torch.zeros(1, 1, 30, 33))
    assert not isinstance(exc.value, UserError)
