"""Training (10 steps improve the loss), model folders, polarity, and the CLI: segment output
accepted by ``track --detections`` and by py-ctcmetrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tgan_aug.errors import UserError
from tgan_aug.segment import Segmenter, SegmenterConfig, fit_segmenter, segmentation_scores
from tgan_aug.segment.data import crop_batches, mixed_frames
from tgan_aug.segment.nets import build_network, load_segmenter_folder
from tgan_aug.segment.train import segmentation_loss

from .conftest import make_discs, needs_deepsea


def _fixed_batch(video, config):
    frames = mixed_frames([video], [], ratio=0, seed=5)
    return next(crop_batches(frames, config=config.replace(augment=False, batch_size=3), seed=5))


@torch.no_grad()
def _loss(net, batch, config):
    return float(segmentation_loss(net.eval(), batch, edge_weight=config.edge_weight))


@pytest.mark.parametrize("arch", [pytest.param("deepsea", marks=needs_deepsea), "unet"])
def test_ten_steps_improve_the_loss(arch, tmp_path, discs):
    config = SegmenterConfig.preset("tiny", arch=arch, width=8, lr=1e-3 if arch == "unet" else 1e-4)
    assert config.max_steps == 10
    torch.manual_seed(0)
    before_net = build_network(config)
    out = fit_segmenter([discs], [], tmp_path / "seg", ratio=0, config=config, seed=0, progress=False)
    assert out["steps"] == 10 and len(out["history"]) == 10
    net, meta = load_segmenter_folder(tmp_path / "seg")
    batch = _fixed_batch(make_discs(seed=3), config)  # other noise than the training frames
    torch.manual_seed(0)
    start = build_network(config) if arch == "deepsea" else before_net
    assert _loss(net, batch, config) < 0.9 * _loss(start, batch, config)
    assert meta["config"]["arch"] == arch and meta["invert"] is False and meta["steps"] == 10
    assert meta["data"]["sequences"]["real0"] == {"frames": 3, "inverted": False}


def test_model_folder_errors(tmp_path, discs):
    with pytest.raises(UserError, match="not a segmenter folder"):
        load_segmenter_folder(tmp_path)
    config = SegmenterConfig.preset("tiny", arch="unet", width=8, max_steps=1)
    fit_segmenter([discs], [], tmp_path / "m", ratio=0, config=config, progress=False)
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    (tmp_path / "m" / "config.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(UserError, match="format_version 99"):
        load_segmenter_folder(tmp_path / "m")
    with pytest.raises(UserError, match="--overwrite"):
        fit_segmenter([discs], [], tmp_path / "m", ratio=0, config=config, progress=False)
    with pytest.raises(UserError, match="--synthetic"):
        fit_segmenter([discs], [], tmp_path / "n", ratio=0.5, config=config, progress=False)


def test_mixing_draws_real_and_synthetic_frames():
    real, syn = make_discs(frames=4), make_discs(frames=4, bright=True, seed=1)
    frames = mixed_frames([real], [syn], ratio=0.5, samples_per_epoch=40, seed=0)
    sources = [pool for pool, _, _ in frames.plan]
    assert sources.count("synthetic") == 20
    # polarity per sequence: the bright synthetic cells are inverted, so both look dark
    items = [frames[i] for i in range(40)]
    for item in items:
        lab = item["labels"] > 0
        assert item["image"][lab].mean() < item["image"][~lab].mean()


@needs_deepsea
def test_shipped_network_segments_dark_and_bright_discs():
    """Zero-shot DeepSea on the discs; the label-free polarity rule inverts the bright ones."""
    for bright in (False, True):
        video = make_discs(bright=bright)
        seg = Segmenter.from_pretrained()
        assert seg.resolve_invert(video.images) is bright
        scores = segmentation_scores(video.labels, seg.segment(video.images))
        assert scores["F1"] > 0.5, scores
        wrong = segmentation_scores(video.labels, seg.segment(video.images, invert=not bright))
        assert wrong["SEG"] < scores["SEG"]


@needs_deepsea
def test_segment_output_is_accepted_by_track_and_ctcmetrics(disc_dataset, tmp_path, run_cli):
    from tgan_aug.trackers.metrics import check_result_folder, evaluate_ctc

    model = tmp_path / "model"
    code, out, err = run_cli(["train-segmenter", "--real", str(disc_dataset), "--ratio", "0", "--preset", "tiny",
                              "-o", str(model), "--quiet", "--device", "cpu"])
    assert code == 0, err
    assert "10 steps" in out and (model / "model.pt").is_file()
    seg_dir = tmp_path / "SEG"
    code, out, err = run_cli(["segment", str(disc_dataset / "01"), "--model", str(model), "-o", str(seg_dir),
                              "--gt", str(disc_dataset / "01_GT"), "--quiet", "--device", "cpu"])
    assert code == 0, err
    assert "SEG" in out and (seg_dir / "mask002.tif").is_file() and (seg_dir / "res_track.txt").is_file()
    check_result_folder(seg_dir)
    det = evaluate_ctc(disc_dataset / "01_GT", seg_dir, metrics=("Valid", "DET"))
    assert det["Valid"] == 1 and det["DET"] > 0.8, det
    res = tmp_path / "RES"
    code, out, err = run_cli(["track", str(disc_dataset / "01"), "--detections", str(seg_dir), "--tracker", "btrack",
                              "-o", str(res), "--quiet"])
    assert code == 0, err
    scores = evaluate_ctc(disc_dataset / "01_GT", res)  # every detection kept and linked into valid tracks
    assert scores["Valid"] == 1 and scores["DET"] > 0.8 and scores["TRA"] > 0.8, scores


def test_cli_user_errors_are_one_line(disc_dataset, tmp_path, run_cli):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("")
    code, _, err = run_cli(["train-segmenter", "--real", str(disc_dataset), "--ratio", "0", "-o", str(tmp_path / "busy")])
    assert code == 2 and "--overwrite" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(["segment", str(disc_dataset / "01"), "--model", str(tmp_path / "busy"), "-o", str(tmp_path / "S")])
    assert code == 2 and "not a segmenter folder" in err
    code, _, err = run_cli(["segment", str(tmp_path / "nothing.tif"), "-o", str(tmp_path / "S")])
    assert code == 2 and "does not exist" in err
    code, _, err = run_cli(["track", str(disc_dataset / "01"), "--detections", str(tmp_path / "busy"), "-o", str(tmp_path / "R")])
    assert code == 2 and "maskTTT.tif" in err
    code, out, _ = run_cli(["train-segmenter", "--preset", "tiny", "--crop", "48", "-o", str(tmp_path / "x"), "--dry-run"])
    assert code == 0 and json.loads(out)["crop"] == 48 and not (tmp_path / "x").exists()
    code, out, _ = run_cli(["train-segmenter", "--preset", "tiny", "--dry-run"])  # no -o needed to look
    assert code == 0 and json.loads(out)["max_steps"] == 10
    code, _, err = run_cli(["train-segmenter", "--real", str(disc_dataset), "--preset", "tiny"])
    assert code == 2 and "-o/--output" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["segment", "train-segmenter"])
def test_help_has_an_example(command, run_cli):
    code, out, _ = run_cli([command, "--help"])
    assert code == 0 and "Example:" in out and f"tgan-aug {command}" in out
