"""The whole suite on TrackedVideo pairs: ranking of every metric, pairing rules, config, report, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from masksynth import TrackedMasks
from masksynth.tracked import TrackedVideo
from tgan_aug.errors import UserError
from tgan_aug.metrics import EvalConfig, evaluate_videos, metric_specs

from metric_videos import corrupt

KINDS = ("identical", "noise", "blur", "shuffle", "constant")
#: metrics that ignore frame order by construction (shuffling frames is out of their scope)
ORDER_FREE = {"FID-DeepSea", "KID-DeepSea", "histogram-W1", "spectrum-L1"}


def _tv(images: np.ndarray, labels: np.ndarray) -> TrackedVideo:
    return TrackedVideo(TrackedMasks.from_labels(labels), images, intensity_range=(0.0, 255.0))


@pytest.fixture(scope="module")
def results(video):
    import torch

    torch.set_num_threads(1)
    imgs, labels = video
    real = _tv(imgs, labels)
    cfg = EvalConfig(clip_length=4, curve_points=3, kid_subsets=5)
    return {k: evaluate_videos(real, _tv(corrupt(imgs, k), labels), config=cfg) for k in KINDS}


def test_every_lower_or_higher_metric_ranks_identical_mild_heavy(results):
    specs = metric_specs(clip_length=4)
    names = [n for n in results["identical"].metrics if specs[n].better != "match"]
    assert {"SSIM", "PSNR", "DeepSea-perceptual", "FID-DeepSea", "KID-DeepSea", "FD-DeepSea-clip4", "KID-DeepSea-clip4",
            "warp-error-logratio", "flicker-logratio", "frame-parity-logratio", "histogram-W1", "spectrum-L1", "mask-stats-L1",
            "cell-mean-error", "background-mean-error", "cell-intensity-KS", "contact-contrast-error"} <= set(names)
    assert np.isnan(results["constant"].metrics["contact-contrast-error"])  # no cell-background contrast to measure
    for name in names:
        sign = -1.0 if specs[name].better == "higher" else 1.0
        s = {k: sign * results[k].metrics[name] for k in KINDS}
        heavy = ["constant"] if name in ORDER_FREE else ["shuffle"] if name == "contact-contrast-error" else ["shuffle", "constant"]
        assert s["identical"] < min(s["noise"], s["blur"]), (name, s)
        assert max(s["noise"], s["blur"]) < min(s[k] for k in heavy), (name, s)


def test_identical_values_and_report_content(results):
    m = results["identical"].metrics
    assert m["SSIM"] == pytest.approx(1.0) and m["FID-DeepSea"] == pytest.approx(0.0, abs=1e-6)
    assert m["warp-error-real"] == m["warp-error-fake"] > 0
    info = results["identical"].info
    assert info["paired"] is True and info["deepsea"]["invert"] is False  # dark cells: no inversion
    curve = results["noise"].curves["metric_vs_length"]
    assert curve["length"][-1] == 16 and len(curve["FID-DeepSea"]) == len(curve["length"])
    assert "real_halves_baseline" in info
    assert any("VGG19-perceptual skipped" in n for n in results["identical"].notes)
    json.dumps(results["noise"].to_dict(), allow_nan=False)  # strict JSON


def test_pairing_rules(video):
    imgs, labels = video
    real = _tv(imgs, labels)
    short = _tv(imgs[:12], labels[:12])
    cfg = EvalConfig(families=("paired",), paired="yes")
    with pytest.raises(UserError, match="same number of frames: REAL has 16, FAKE has 12"):
        evaluate_videos(real, short, config=cfg)
    cropped = _tv(imgs[:, :, :48], labels[:, :, :48])
    with pytest.raises(UserError, match="same size"):
        evaluate_videos(real, cropped, config=cfg)
    auto = evaluate_videos(real, short, config=EvalConfig(families=("paired", "microscopy")))
    assert "SSIM" not in auto.metrics and auto.info["paired"] is False
    assert any("paired metrics skipped" in n for n in auto.notes)


def test_bright_cells_are_inverted_automatically(video):
    imgs, labels = video
    bright = (255 - imgs).astype(np.uint8)
    res = evaluate_videos(_tv(bright, labels), _tv(bright, labels), config=EvalConfig(families=("paired",)))
    assert res.info["deepsea"]["invert"] is True


def test_config_validation():
    with pytest.raises(UserError, match="unknown evaluation option"):
        EvalConfig.from_dict({"protocl": "strict"})
    with pytest.raises(UserError, match="protocol"):
        EvalConfig(protocol="minmax")
    with pytest.raises(UserError, match="families"):
        EvalConfig(families=("paired", "fun"))
    with pytest.raises(UserError, match="preset"):
        EvalConfig.preset("huge")
    assert EvalConfig.preset("fast", clip_length=4).feature_scale == 0.25
    assert EvalConfig.from_dict(EvalConfig().to_dict()) == EvalConfig()


def test_write_report_files(tmp_path, video, results):
    import cv2

    from tgan_aug.metrics.report import write_report

    imgs, labels = video
    real, fake = _tv(imgs, labels), _tv(corrupt(imgs, "noise"), labels)
    report = write_report(tmp_path / "rep", [("01", real, fake, results["noise"])], real_source="r", fake_source="f")
    text = report.read_text()
    assert "| SSIM |" in text and "FD-DeepSea-clip4" in text and "panels/01_t0000.png" in text
    for row in ("frame-parity-real", "frame-parity-fake", "frame-parity-logratio", "drift-contrast-fake", "drift-contrast-slope-fake",
                "drift-sharpness-real", "drift-centre-intensity-fake", "drift-centre-sharpness-fake"):
        assert f"| {row} |" in text, row
    for plot in ("frame_parity", "drift_intensity", "drift_relative", "drift_centre"):
        assert f"plots/01_{plot}.png" in text and (tmp_path / "rep" / "plots" / f"01_{plot}.png").is_file(), plot
    panel = cv2.imread(str(tmp_path / "rep" / "panels" / "01_t0000.png"))
    assert panel.shape == (64, 4 * 64 + 3 * 4, 3)
    assert len(list((tmp_path / "rep" / "plots").glob("*.png"))) >= 5
    data = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert data["sequences"]["01"]["metrics"]["SSIM"] == pytest.approx(results["noise"].metrics["SSIM"])
    assert data["sequences"]["01"]["curves"]["drift_fake"]["frame"] == list(range(16))


def test_alternating_fake_fails_frame_parity_and_drift_covers_each_length(video):
    imgs, labels = video
    real = _tv(imgs, labels)
    sign = np.where(np.arange(16) % 2 == 0, 1, -1)[:, None, None]
    flicker = np.clip(imgs + 8 * sign * (labels > 0), 0, 255).astype(np.uint8)
    cfg = EvalConfig(families=("temporal",))
    same = evaluate_videos(real, real, config=cfg).metrics
    bad = evaluate_videos(real, _tv(flicker, labels), config=cfg).metrics
    assert same["frame-parity-logratio"] == 0.0 and same["frame-parity-real"] < 0.01
    assert bad["frame-parity-fake"] > 8 * bad["frame-parity-real"] and bad["frame-parity-logratio"] > 2
    longer = np.concatenate([imgs, imgs[::-1], imgs])  # 48 frames, unpaired with REAL's 16
    res = evaluate_videos(real, _tv(longer, np.concatenate([labels, labels[::-1], labels])), config=cfg)
    assert len(res.curves["drift_fake"]["cell"]) == 48 and len(res.curves["drift_real"]["cell"]) == 16
    assert len(res.per_frame["frame-parity-fake"]) == 48 and np.isfinite(res.metrics["drift-contrast-slope-fake"])
    json.dumps(res.to_dict(), allow_nan=False)


def test_cli_evaluate_tiff_pairs(tmp_path, video, capsys):
    tifffile = pytest.importorskip("tifffile")
    from tgan_aug.cli import main

    imgs, labels = video
    tifffile.imwrite(tmp_path / "real.tif", imgs[:10])
    tifffile.imwrite(tmp_path / "fake.tif", corrupt(imgs, "noise")[:10])
    tifffile.imwrite(tmp_path / "masks.tif", labels[:10])
    real, fake = f"{tmp_path}/real.tif:{tmp_path}/masks.tif", f"{tmp_path}/fake.tif:{tmp_path}/masks.tif"
    args = ["evaluate", "--real", real, "--fake", fake, "--device", "cpu", "--clip-length", "4", "--preset", "fast"]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--json"])
    assert exc.value.code == 0
    data = json.loads(capsys.readouterr().out)
    (seq,) = data["sequences"].values()
    assert seq["info"]["paired"] is True and 0 < seq["metrics"]["SSIM"] < 1
    out = tmp_path / "rep"
    with pytest.raises(SystemExit) as exc:
        main([*args, "-o", str(out), "--quiet"])
    assert exc.value.code == 0 and (out / "report.md").is_file()
    assert "evaluate" not in capsys.readouterr().err  # --quiet: no progress line
    with pytest.raises(SystemExit) as exc:  # refuses to overwrite; the old spelling --out still works
        main([*args, "--out", str(out)])
    assert exc.value.code == 2 and "--overwrite" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--real", real, "--fake", str(tmp_path / "missing.zarr")])
    assert exc.value.code == 2 and "missing.zarr" in capsys.readouterr().err


def test_cli_help_has_example():
    from click.testing import CliRunner

    from tgan_aug.cli import cli

    out = CliRunner().invoke(cli, ["evaluate", "--help"]).output
    assert "Example:" in out and "--protocol" in out and "paper-minmax" in out


def test_evaluate_paths_zarr_stores_pairs_by_name(tmp_path, video):
    from tgan_aug.io.store import write_store
    from tgan_aug.metrics import evaluate_paths

    imgs, labels = video
    real, fake = tmp_path / "real.zarr", tmp_path / "fake.zarr"
    for name in ("a", "b"):
        write_store(real, _tv(imgs[:8], labels[:8]), name=name)
    write_store(fake, _tv(corrupt(imgs, "noise")[:8], labels[:8]), name="b")
    write_store(fake, _tv(corrupt(imgs, "noise")[:8], labels[:8]), name="c")
    cfg = EvalConfig(families=("paired", "microscopy"))
    out = evaluate_paths(str(real), str(fake), config=cfg, progress=False)
    assert list(out["sequences"]) == ["b"] and out["sequences"]["b"]["info"]["paired"] is True
    with pytest.raises(UserError, match="share no name"):
        evaluate_paths(str(real), str(fake), config=cfg, fake_sequence="c", progress=False)
    masks_only = tmp_path / "masks.zarr"
    write_store(masks_only, TrackedMasks.from_labels(labels[:8]), name="a")
    with pytest.raises(UserError, match="no images"):
        evaluate_paths(str(masks_only), str(fake), config=cfg, progress=False)


def test_painter_baseline_is_evaluated_and_reported(tmp_path, video):
    from tgan_aug.io.store import write_store
    from tgan_aug.metrics import evaluate_paths

    imgs, labels = video
    real = tmp_path / "real.zarr"
    write_store(real, _tv(imgs[:8], labels[:8]), name="a")
    cfg = EvalConfig(families=("paired", "microscopy"))
    out = evaluate_paths(str(real), str(real), config=cfg, progress=False, baseline="painter", out_dir=tmp_path / "rep")
    seq = out["sequences"]["a"]
    painter = seq["info"]["painter_baseline"]
    assert seq["metrics"]["SSIM"] == pytest.approx(1.0)  # REAL against itself
    assert 0 < painter["SSIM"] < 0.99 and set(painter) == set(seq["metrics"])
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "| metric | value | painter (fitted on REAL) | better |" in text
    with pytest.raises(UserError, match="--baseline 'gan'"):
        evaluate_paths(str(real), str(real), config=cfg, progress=False, baseline="gan")
