"""``tgan-aug train --data DATA -o RUN``: both stages, one model file render takes, a quality verdict.

Also: the stage subcommands keep working under the same group, and ``--dry-run`` prints the
configuration the run uses (one resolver, also for resumed checkpoints).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from tgan_aug.cli import cli, main

TINY = ["--preset", "tiny", "--device", "cpu", "--quiet", "--set", "perceptual=none"]


def _main(argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_one_command_model_renders_and_an_untrained_model_exits_3(tmp_path, tiff_pair, capsys):
    """The untrained tiny model draws no cells: the run says so and exits 3 (never a silent 'done'),
    and its model.pt still renders directly (no merge step)."""
    run = tmp_path / "run"
    code, out, err = _main(["train", "--data", tiff_pair, "-o", str(run), "--lo-steps", "2", "--sr-steps", "1",
                            "--minutes", "3", "--split", "0.75", *TINY], capsys)
    assert code == 3, out + err
    assert "NOT PASSED (the model draws no cells)" in err and "Train longer" in err
    quality = json.loads((run / "quality.json").read_text())
    assert quality["no_cells"] is True and quality["passed"] is False and "no_cells" in quality["failed"]
    assert "NOT PASSED" in (run / "summary.md").read_text()
    assert (run / "quality.png").stat().st_size > 1000
    # 2 held-back frames of 3 cells are too few to fit carry-over and track smoothing: said, not silently skipped
    assert "cells followed over two frames" in quality["temporal"]["not_fitted"]
    assert "Carry-over and track smoothing: not fitted" in (run / "summary.md").read_text()

    # both stages ran with the --minutes split and step limits, recorded in their configs
    lo_dir, sr_dir = sorted((run / "stages").iterdir())
    lo, sr = (json.loads((d / "config.json").read_text()) for d in (lo_dir, sr_dir))
    assert (lo["stage"], lo["max_minutes"], lo["max_steps"]) == ("lowres", 2.25, 2)
    assert (sr["stage"], sr["max_minutes"], sr["max_steps"]) == ("superres", 0.75, 1)
    assert sr["lowres_checkpoint"] == str(lo_dir / "checkpoint.pt")
    assert lo["holdout"] == sr["holdout"] == 0.15
    assert lo["deepsea_invert"] is True  # the fixture's cells are bright: DeepSea needs them inverted
    # each stage checked its held-back frames: metrics.jsonl records and a titled sample
    recs = [json.loads(line) for line in (lo_dir / "metrics.jsonl").read_text().splitlines()]
    q = [r for r in recs if "quality/dice" in r]
    assert q and q[-1]["step"] == 2 and q[-1]["quality_stage"] == "lowres"
    assert json.loads((lo_dir / "quality.json").read_text())["step"] == 2

    # model.pt holds both generators; render takes it directly
    from tgan_aug.render.engine import Renderer

    r = Renderer.from_checkpoint(run / "model.pt")
    assert r.info["stage"] == "merged" and r.info["step"] == 2 and r.info["step_superres"] == 1
    video = tmp_path / "video.zarr"
    code, out, err = _main(["render", tiff_pair, "-o", str(video), "--checkpoint", str(run / "model.pt"), "--device", "cpu"], capsys)
    assert code == 0, err
    from tgan_aug.io import load_tracked

    ((_, rendered),) = load_tracked(str(video))
    assert rendered.images.shape == (8, 80, 96) and rendered.images.dtype == np.uint16

    # the run folder is never silently reused
    code, _, err = _main(["train", "--data", tiff_pair, "-o", str(run), "--lo-steps", "1", "--sr-steps", "1", *TINY], capsys)
    assert code == 2 and "--overwrite" in err


def test_failed_but_drawn_exits_0_with_a_warning(tmp_path, tiff_pair, monkeypatch, capsys):
    """A model that fails the check without being blank: exit 0, NOT PASSED shown prominently."""
    import tgan_aug.training.quality as quality

    strict = quality.QualityThresholds(no_cells_contrast=-1.0, no_cells_dice_ratio=-1.0)  # never "no cells"
    monkeypatch.setattr(quality, "QualityThresholds", lambda: strict)
    code, out, err = _main(["train", "--data", tiff_pair, "-o", str(tmp_path / "run"), "--lo-steps", "1", "--sr-steps", "1",
                            *TINY], capsys)
    assert code == 0, err
    assert "WARNING: quality check NOT PASSED:" in err and "model: " in out


def test_quality_passes_when_the_model_draws_the_real_frames(tmp_path, tiff_pair, monkeypatch, capsys):
    """The pass path of the command: render_frames replaced by the real held-back frames."""
    import tgan_aug.render.engine as engine
    from tgan_aug.training import quality_check

    real_model_quality = quality_check.model_quality

    def perfect(checkpoint, held, **kw):
        def frames(renderer, labels, backgrounds, seeds, **_):
            i = [m.shape for m in held.masks].index(labels[0].shape)
            yield 0, [held.images[i]]

        monkeypatch.setattr(engine, "render_frames", frames)
        return real_model_quality(checkpoint, held, **kw)

    monkeypatch.setattr(quality_check, "model_quality", perfect)
    import tgan_aug.render.temporal_fit as temporal_fit

    monkeypatch.setattr(temporal_fit, "MIN_PAIRS", 1)  # the fixture's 2 held-back frames hold 3 cells
    code, out, err = _main(["train", "--data", tiff_pair, "-o", str(tmp_path / "run"), "--lo-steps", "1", "--sr-steps", "1",
                            *TINY], capsys)
    assert code == 0, err
    assert "quality check PASSED: Dice" in out
    quality = json.loads((tmp_path / "run" / "quality.json").read_text())
    assert quality["passed"] is True
    # carry-over and track smoothing fitted on the held-back frames: in model.pt, quality.json and summary.md
    from tgan_aug.training.checkpoint import fitted_temporal, load_checkpoint

    fitted = fitted_temporal(load_checkpoint(tmp_path / "run" / "model.pt"))
    assert fitted == {k: quality["temporal"][k] for k in ("carry_over", "track_smoothing")}
    assert quality["temporal"]["frames"] == 2
    summary = (tmp_path / "run" / "summary.md").read_text()
    assert f"carry-over alpha {fitted['carry_over']:g}" in summary and f"track smoothing beta {fitted['track_smoothing']:g}" in summary


def test_group_grammar_both_ways(tmp_path, tiff_pair, capsys):
    res = CliRunner().invoke(cli, ["train", "--help"])
    assert res.exit_code == 0 and "--minutes" in res.output and "lowres" in res.output and "superres" in res.output
    res = CliRunner().invoke(cli, ["train", "superres", "--help"])
    assert res.exit_code == 0 and "--lowres-checkpoint" in res.output
    code, _, err = _main(["train", "--data", tiff_pair, "lowres", "--preset", "tiny"], capsys)
    assert code == 2 and "put the options after 'lowres'" in err
    code, _, err = _main(["train", "--preset", "tiny"], capsys)
    assert code == 2 and "give --data DATA and -o RUN" in err
    code, _, err = _main(["train", "--data", tiff_pair, "-o", str(tmp_path / "r"), "--size", "65x64", *TINY], capsys)
    assert code == 2 and "--size 65x64" in err


def test_one_command_dry_run_splits_the_budget(tiff_pair):
    res = CliRunner().invoke(cli, ["train", "--data", tiff_pair, "--preset", "tiny", "--minutes", "30", "--size", "64x96",
                                   "--dry-run"])
    assert res.exit_code == 0, res.output
    cfgs = json.loads(res.output)
    lo, sr = cfgs["lowres"], cfgs["superres"]
    assert lo["max_minutes"] == 20.0 and sr["max_minutes"] == 10.0
    assert lo["max_steps"] == sr["max_steps"] > 10**6  # time-limited only
    assert lo["model"]["out_size"] == [64, 96] and lo["model"]["lowres_size"] == [32, 48]
    assert lo["deepsea_invert"] is True
    res = CliRunner().invoke(cli, ["train", "--preset", "tiny", "--dry-run", "--set", "deepsea_invert=false", "--lo-steps", "7"])
    cfgs = json.loads(res.output)
    assert cfgs["lowres"]["deepsea_invert"] is False and cfgs["lowres"]["max_steps"] == 7 and cfgs["lowres"]["max_minutes"] == 0


@pytest.mark.parametrize("stage", ["lowres", "superres"])
def test_dry_run_prints_the_config_the_resumed_run_uses(tmp_path, tiff_pair, stage):
    """A checkpoint saved before superres_residual existed: dry-run and run agree (False), limits included."""
    runs = tmp_path / "runs"
    res = CliRunner().invoke(cli, ["train", stage, "--data", tiff_pair, "--max-steps", "1", "-o", str(runs), *TINY])
    assert res.exit_code == 0, res.output
    ckpt_path = runs / f"00000-{stage}-tiny" / "checkpoint.pt"
    ckpt = torch.load(ckpt_path, weights_only=True)
    del ckpt["config"]["model"]["superres_residual"]
    torch.save(ckpt, ckpt_path)
    args = ["train", stage, "--data", tiff_pair, "--resume", str(ckpt_path), "--max-steps", "2", "--max-minutes", "7",
            "-o", str(runs), *TINY]
    dry = CliRunner().invoke(cli, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    saved = json.loads((runs / f"00001-{stage}-tiny" / "config.json").read_text())
    printed = json.loads(dry.output)
    assert printed == saved
    assert printed["model"]["superres_residual"] is False and printed["max_minutes"] == 7 and printed["max_steps"] == 2
