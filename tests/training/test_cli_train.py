"""``tgan-aug train``: end to end on a tiny preset, --dry-run, errors with exit code 2."""

from __future__ import annotations

import json

import cv2
import pytest
from click.testing import CliRunner

from tgan_aug.cli import cli, main


def test_tiny_lowres_run_writes_everything(tmp_path, tiff_pair):
    out = tmp_path / "runs"
    res = CliRunner().invoke(cli, ["train", "lowres", "--data", tiff_pair, "--preset", "tiny", "--max-steps", "3",
                                   "-o", str(out), "--device", "cpu", "--quiet"])
    assert res.exit_code == 0, res.output
    run = out / "00000-lowres-tiny"
    assert run.is_dir()
    assert (run / "checkpoint.pt").stat().st_size > 1000
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["stage"] == "lowres" and cfg["model"]["preset"] == "tiny"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all({"d_loss", "g_loss", "g_l1", "g_flow", "flow_train"} <= set(r) for r in records)
    pngs = sorted((run / "samples").glob("*.png"))
    assert pngs and cv2.imread(str(pngs[-1])) is not None
    assert cv2.imread(str(run / "loss.png")) is not None
    log = (run / "log.txt").read_text()
    assert "perceptual loss:" in log  # which features are used is logged
    # a second run gets the next number; the first folder is untouched
    res = CliRunner().invoke(cli, ["train", "lowres", "--data", tiff_pair, "--preset", "tiny", "--max-steps", "1",
                                   "-o", str(out), "--device", "cpu", "--quiet", "--perceptual", "none"])
    assert res.exit_code == 0, res.output
    assert (out / "00001-lowres-tiny" / "checkpoint.pt").is_file()
    assert len(list((run / "samples").glob("*.png"))) == len(pngs)


def test_dry_run_prints_config():
    res = CliRunner().invoke(cli, ["train", "superres", "--preset", "paper", "--dry-run", "--set", "w_l1=3"])
    assert res.exit_code == 0, res.output
    cfg = json.loads(res.output)
    assert cfg["stage"] == "superres" and cfg["w_l1"] == 3 and cfg["model"]["out_size"] == [512, 768]


def _exit_code(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code, capsys.readouterr().err


def test_user_errors_exit_2(tmp_path, capsys):
    code, err = _exit_code(["train", "lowres", "--preset", "tiny"], capsys)
    assert code == 2 and "--data is required" in err
    code, err = _exit_code(["train", "lowres", "--preset", "tiny", "--data", str(tmp_path / "nope")], capsys)
    assert code == 2 and "does not exist" in err
    code, err = _exit_code(["train", "lowres", "--preset", "tiny", "--dry-run", "--set", "bogus=1"], capsys)
    assert code == 2 and "bogus" in err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"x")
    code, err = _exit_code(["train", "lowres", "--preset", "tiny", "--data", str(tmp_path), "--resume", str(bad)], capsys)
    assert code == 2 and "bad.pt" in err
