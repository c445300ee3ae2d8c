"""CLI: ``track --tracker deepsea`` and ``train-tracker --tracker deepsea`` on a small CTC folder."""

from __future__ import annotations

import importlib.util
import json

import pytest
from click.testing import CliRunner

from tgan_aug.cli import cli
from tgan_aug.trackers.metrics import check_result_folder


#: Tests that run the shipped weights; they skip, saying why, without the optional package.
needs_deepsea = pytest.mark.skipif(
    importlib.util.find_spec("deepsea") is None,
    reason="the optional 'deepsea' package (it ships the tracker weights) is not installed: "
    "pip install -c constraints.txt -e '.[trackers]'",
)


#: the ``ctc_dataset`` fixture's size here: small, DeepSea tracks every cell crop by crop
CTC_DATASET = {"n_cells": 3, "frames": 5, "height": 64, "width": 64, "seed": 4}


@needs_deepsea
def test_track_deepsea_writes_a_valid_ctc_result(ctc_dataset, tmp_path):
    runner = CliRunner()
    res = tmp_path / "RES"
    r = runner.invoke(cli, ["track", "--tracker", "deepsea", "--crop-size", "64", "--device", "cpu", str(ctc_dataset), "-o", str(res)])
    assert r.exit_code == 0, r.output
    check_result_folder(res)
    r = runner.invoke(cli, ["eval-tracking", "--gt", str(ctc_dataset / "01_GT"), "--res", str(res), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["MOTA"] >= 0.95


@needs_deepsea
def test_train_tracker_deepsea_then_track_with_the_model(ctc_dataset, tmp_path):
    runner = CliRunner()
    model = tmp_path / "ds-model"
    r = runner.invoke(cli, ["train-tracker", "--tracker", "deepsea", "--real", str(ctc_dataset), "--synthetic", str(ctc_dataset), "--ratio", "0.5", "-o", str(model),
                            "--preset", "tiny", "--max-steps", "2", "--batch-size", "2", "--crop-size", "32", "--quiet", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "2 steps" in r.output and (model / "model.pt").is_file()
    meta = json.loads((model / "config.json").read_text())
    assert meta["format"] == "tgan-aug-deepsea-tracker" and meta["track"]["crop_size"] == 32 and len(meta["history"]) == 2
    r = runner.invoke(cli, ["track", "--tracker", "deepsea", "--model", str(model), str(ctc_dataset), "-o", str(tmp_path / "RES")])
    assert r.exit_code == 0, r.output
    check_result_folder(tmp_path / "RES")


@needs_deepsea
def test_deepsea_crop_size_must_be_a_multiple_of_4(ctc_dataset, tmp_path, run_cli):
    code, _, err = run_cli(["track", "--tracker", "deepsea", "--crop-size", "30", str(ctc_dataset), "-o", str(tmp_path / "R")])
    assert code == 2 and "multiple of 4" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["train-tracker", "--tracker", "deepsea", "--real", "{ds}", "--ratio", "0", "--epochs", "3", "-o", "{tmp}/m"],
         "--epochs is for --tracker trackastra"),
        (["train-tracker", "--tracker", "deepsea", "--real", "{ds}", "--ratio", "0.5", "-o", "{tmp}/m"], "no --synthetic data was given"),
        (["track", "--tracker", "btrack", "--crop-size", "64", "{ds}", "-o", "{tmp}/R"], "--crop-size and --invert are for --tracker deepsea"),
        (["track", "--tracker", "deepsea", "--model", "{tmp}", "{ds}", "-o", "{tmp}/R"], "not a DeepSea tracker folder"),
        (["track", "--tracker", "deepsea", "--search-radius", "20", "{ds}", "-o", "{tmp}/R"],
         "--config and --search-radius are for --tracker btrack"),
    ],
)
def test_deepsea_user_errors_are_one_line_exit_2(args, message, ctc_dataset, tmp_path, run_cli):
    code, _, err = run_cli([a.format(ds=ctc_dataset, tmp=tmp_path) for a in args])
    assert code == 2
    assert message in err and err.startswith("error:") and len(err.strip().splitlines()) == 1


def test_missing_deepsea_package_is_a_one_line_error(ctc_dataset, tmp_path, monkeypatch, run_cli):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "deepsea" else real(name, *a))
    code, _, err = run_cli(["track", "--tracker", "deepsea", str(ctc_dataset), "-o", str(tmp_path / "R")])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("error:") and "pip install -c constraints.txt -e '.[trackers]'" in err
