"""Checkpoints: round trip, exact resume, version and file errors, generators for rendering."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tgan_aug.errors import UserError
from tgan_aug.training import TrainConfig, build_generator_from_checkpoint, load_checkpoint
from tgan_aug.training.checkpoint import image_stats_from_checkpoint, merge_checkpoints, save_checkpoint
from tgan_aug.training.loop import train


def _cfg(**over):
    # feature matching keeps these tests fast; the DeepSea path runs in test_cli
    return TrainConfig.preset("tiny", perceptual="feature_matching", sample_every=100, ckpt_every=100, **over)


def _states(ckpt):
    return ckpt["weights"], ckpt["optimizers"]


def _assert_same(a, b, path="ckpt"):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), path
    elif isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def test_round_trip_and_exact_resume(tmp_path, tiff_pair):
    full = train(_cfg(), data=tiff_pair, out_dir=tmp_path / "runs", device="cpu", max_steps=4, progress=False)
    half = train(_cfg(), data=tiff_pair, out_dir=tmp_path / "runs", device="cpu", max_steps=2, progress=False)
    assert full != half  # numbered folders, never reused
    resumed = train(_cfg(), data=tiff_pair, out_dir=tmp_path / "runs", device="cpu", max_steps=4, progress=False,
                    resume=half / "checkpoint.pt")
    a, b = load_checkpoint(full / "checkpoint.pt"), load_checkpoint(resumed / "checkpoint.pt")
    assert a["step"] == b["step"] == 4 and a["format_version"] == 1
    _assert_same(_states(a), _states(b))  # bit for bit: weights (G, G_ema, D, FlowNet) and optimizers
    h = load_checkpoint(half / "checkpoint.pt")
    changed = [k for k, v in a["weights"]["lowres"]["G"].items() if not torch.equal(v, h["weights"]["lowres"]["G"][k])]
    assert changed, "steps 3-4 must change the generator"
    # the data statistics ride along: dtype and range for rendering
    stats = image_stats_from_checkpoint(a)
    assert stats.dtype == "uint16" and stats.hi > stats.lo
    assert set(a["data"]["backgrounds"]) and next(iter(a["data"]["backgrounds"].values())).dtype == torch.float32
    assert {"G", "G_ema", "D", "FlowNet"} == set(a["weights"]["lowres"])


def test_generator_from_checkpoint(tmp_path, tiff_pair):
    run = train(_cfg(), data=tiff_pair, out_dir=tmp_path, device="cpu", max_steps=1, progress=False)
    ckpt = load_checkpoint(run / "checkpoint.pt")
    G = build_generator_from_checkpoint(ckpt, "lowres", ema=True)
    assert not G.training and not any(p.requires_grad for p in G.parameters())
    for k, v in G.state_dict().items():
        assert torch.equal(v, ckpt["weights"]["lowres"]["G_ema"][k])
    with pytest.raises(UserError, match="no superres generator"):
        build_generator_from_checkpoint(ckpt, "superres")


def test_unknown_version_names_found_and_supported(tmp_path):
    path = tmp_path / "future.pt"
    torch.save({"format_version": 99, "config": {}, "weights": {}, "step": 0, "data": {}}, path)
    with pytest.raises(UserError, match=r"from another tgan-aug version \(format_version 99\); this tgan-aug reads format_version 1"):
        load_checkpoint(path)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(UserError, match=r"is not a tgan-aug model file: it is not a PyTorch checkpoint \(or it is corrupt"):
        load_checkpoint(junk)
    plain = tmp_path / "plain.pt"
    torch.save({"state_dict": {}}, plain)
    with pytest.raises(UserError, match=r"a dict without format_version \(keys 'state_dict'\), not a tgan-aug model file"):
        load_checkpoint(plain)


@pytest.mark.parametrize("kind", ["random", "module", "state_dict", "lightning", "other_kind"])
def test_foreign_files_are_named_without_pytorch_advice(tmp_path, kind):
    """Random bytes get no advice to load with weights_only=False (unsafe); other files say what they are."""
    path = tmp_path / f"{kind}.pt"
    expected = {
        "random": r"it is not a PyTorch checkpoint \(or it is corrupt or truncated\)",
        "module": "it stores pickled Python objects",
        "state_dict": r"a bare PyTorch state dict \(1 tensors, e.g. 'conv.weight'",
        "lightning": "a PyTorch Lightning checkpoint",
        "other_kind": "is a 'tgan-aug-tracker' file, not a tgan-aug generator checkpoint",
    }[kind]
    if kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    else:
        obj = {"module": torch.nn.Linear(2, 2), "state_dict": {"conv.weight": torch.zeros(2)},
               "lightning": {"state_dict": {}, "epoch": 3, "pytorch-lightning_version": "2.4"},
               "other_kind": {"format_version": 1, "kind": "tgan-aug-tracker"}}[kind]
        torch.save(obj, path)
    with pytest.raises(UserError, match=expected) as exc:
        load_checkpoint(path)
    assert "weights_only" not in str(exc.value) and str(path) in str(exc.value)


def test_resume_with_the_wrong_stage(tmp_path, tiff_pair):
    run = train(_cfg(), data=tiff_pair, out_dir=tmp_path, device="cpu", max_steps=1, progress=False)
    sr = TrainConfig.preset("tiny", stage="superres", perceptual="none")
    with pytest.raises(UserError, match="lowres checkpoint"):
        train(sr, data=tiff_pair, out_dir=tmp_path, device="cpu", resume=run / "checkpoint.pt", progress=False)


def test_superres_stage_and_merge(tmp_path, tiff_pair):
    lo = train(_cfg(), data=tiff_pair, out_dir=tmp_path, device="cpu", max_steps=1, progress=False)
    sr_cfg = TrainConfig.preset("tiny", stage="superres", perceptual="feature_matching",
                                lowres_checkpoint=str(lo / "checkpoint.pt"), p_lowres_input=1.0)
    sr = train(sr_cfg, data=tiff_pair, out_dir=tmp_path, device="cpu", max_steps=2, progress=False)
    ckpt = load_checkpoint(sr / "checkpoint.pt")
    assert ckpt["stage"] == "superres" and {"G", "G_ema", "D"} == set(ckpt["weights"]["superres"])
    G = build_generator_from_checkpoint(ckpt, "superres")
    out = G(torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 64, 64), G.mapping(torch.zeros(1, G.cfg.style_dim)), None)
    assert out.shape == (1, 1, 64, 64)
    merged = merge_checkpoints(lo / "checkpoint.pt", sr / "checkpoint.pt", tmp_path / "merged.pt")
    m = load_checkpoint(merged)
    build_generator_from_checkpoint(m, "lowres")
    build_generator_from_checkpoint(m, "superres")


def test_checkpoint_loads_with_weights_only(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", {"config": {}, "weights": {}, "step": 3, "data": {"x": np.float64(1.0).item()}})
    assert torch.load(path, weights_only=True)["step"] == 3


def test_worker_processes_give_the_same_training(tmp_path, tiff_pair):
    a = train(_cfg(), data=tiff_pair, out_dir=tmp_path, device="cpu", max_steps=2, progress=False)
    b = train(_cfg(), data=tiff_pair, out_dir=tmp_path, device="cpu", max_steps=2, progress=False, workers=1)
    _assert_same(load_checkpoint(a / "checkpoint.pt")["weights"], load_checkpoint(b / "checkpoint.pt")["weights"])


def test_legacy_checkpoint_pairs_and_merges_with_a_residual_superres(tmp_path, tiff_pair):
    """A low-res run saved before ``superres_residual``/``use_prev_frame`` existed still pairs with a new
    super-res run, and the merged file keeps the super-res head it was trained with."""
    from tgan_aug.training.checkpoint import model_config_from_checkpoint

    lo = train(_cfg(), data=tiff_pair, out_dir=tmp_path, device="cpu", max_steps=1, progress=False)
    ckpt = load_checkpoint(lo / "checkpoint.pt")
    for key in ("superres_residual", "use_prev_frame"):  # what an older version saved
        ckpt["config"]["model"].pop(key, None)
    legacy = save_checkpoint(tmp_path / "legacy.pt", ckpt)
    assert model_config_from_checkpoint(ckpt).superres_residual is False
    sr_cfg = TrainConfig.preset("tiny", stage="superres", perceptual="none", lowres_checkpoint=str(legacy))
    sr = train(sr_cfg, data=tiff_pair, out_dir=tmp_path, device="cpu", max_steps=1, progress=False)
    merged = load_checkpoint(merge_checkpoints(legacy, sr / "checkpoint.pt", tmp_path / "m.pt"))
    assert model_config_from_checkpoint(merged).superres_residual is True
