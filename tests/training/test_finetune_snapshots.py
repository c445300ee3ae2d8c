"""Fine-tuning (``tgan-aug train --init NAME|MODEL``) and training snapshots (``snapshot_every``)."""

from __future__ import annotations

import json

import pytest
import torch

from tgan_aug.cli import main
from tgan_aug.errors import UserError

TINY = ["--preset", "tiny", "--device", "cpu", "--quiet", "--set", "perceptual=none"]


def _train(argv, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(["train", *argv])
    return exc.value.code, capsys.readouterr().err


@pytest.fixture
def model_run(tmp_path, tiff_pair, capsys):
    """A two-stage tiny run with snapshots every step (3 low-res, 2 super-res steps)."""
    run = tmp_path / "base"
    code, err = _train(["--data", tiff_pair, "-o", str(run), "--lo-steps", "3", "--sr-steps", "2", "--set", "snapshot_every=1",
                        *TINY], capsys)
    assert code in (0, 3), err  # an untrained tiny model may draw no cells (exit 3); it is still a model
    return run


def test_snapshots_are_kept_with_their_training_time_and_merge_into_a_renderable_model(model_run):
    from tgan_aug.training.checkpoint import load_checkpoint, merge_checkpoint_files

    lo_dir, sr_dir = sorted((model_run / "stages").iterdir())
    for d, steps in ((lo_dir, [1, 2, 3]), (sr_dir, [1, 2])):
        index = [json.loads(line) for line in (d / "snapshots" / "index.jsonl").read_text().splitlines()]
        assert [r["step"] for r in index] == steps
        times = [r["time_s"] for r in index]
        assert times == sorted(times) and times[0] >= 0
        snap = load_checkpoint(d / "snapshots" / index[0]["file"])
        stage = "lowres" if d == lo_dir else "superres"
        assert snap["step"] == 1 and set(snap["weights"][stage]) == {"G_ema"} and snap["optimizers"] == {}
    merged = merge_checkpoint_files(lo_dir / "snapshots" / "step-000001.pt", sr_dir / "snapshots" / "step-000002.pt")
    assert (merged["step"], merged["step_superres"]) == (1, 2)
    final = load_checkpoint(model_run / "model.pt")
    first = merged["weights"]["lowres"]["G_ema"]
    assert any(not torch.equal(first[k], final["weights"]["lowres"]["G_ema"][k]) for k in first)  # a real earlier state


def test_init_starts_both_generators_from_the_model(model_run, tmp_path, tiff_pair, capsys):
    """--init loads the model's G_ema into G and G_ema of each stage (D starts fresh: a model file has none)."""
    from tgan_aug.training import TrainConfig
    from tgan_aug.training.checkpoint import load_checkpoint
    from tgan_aug.training.loop import build_networks, init_from_checkpoint

    model = load_checkpoint(model_run / "model.pt")
    for stage in ("lowres", "superres"):
        cfg = TrainConfig.preset("tiny", stage=stage, seed=7, init_checkpoint=str(model_run / "model.pt"))
        nets = build_networks(cfg, torch.device("cpu"))
        want = model["weights"][stage]["G_ema"]
        assert any(not torch.equal(v, want[k]) for k, v in nets["G"].state_dict().items())  # seed 7 differs...
        note = init_from_checkpoint(nets, cfg)
        assert note.startswith("initialised G/G_ema from")
        for name in ("G", "G_ema"):  # ...until initialised
            assert all(torch.equal(v, want[k]) for k, v in nets[name].state_dict().items())

    # through the command: the run records the init and both stages log it
    run = tmp_path / "tuned"
    code, err = _train(["--data", tiff_pair, "-o", str(run), "--init", str(model_run / "model.pt"), "--lo-steps", "1",
                        "--sr-steps", "1", *TINY], capsys)
    assert code in (0, 3), err
    assert json.loads((run / "run.json").read_text())["init"] == str(model_run / "model.pt")
    for d in sorted((run / "stages").iterdir()):
        assert "initialised G/G_ema from" in (d / "log.txt").read_text()


def test_init_with_another_architecture_or_a_wrong_name_fails_clearly(model_run, tiff_pair, tmp_path, capsys):
    from tgan_aug.training import TrainConfig
    from tgan_aug.training.loop import build_networks, init_from_checkpoint

    cfg = TrainConfig.preset("tiny", stage="lowres", init_checkpoint=str(model_run / "model.pt")).with_overrides(
        ["model.base_channels=24"])
    with pytest.raises(UserError, match=r"--init .*model.pt: its lowres networks do not fit this model config"):
        init_from_checkpoint(build_networks(cfg, torch.device("cpu")), cfg)
    code, err = _train(["--data", tiff_pair, "-o", str(tmp_path / "x"), "--init", "no-such-model", *TINY], capsys)
    assert code == 2 and "--init 'no-such-model': no such shipped model; choose one of:" in err and "hela-small" in err
    assert not (tmp_path / "x").exists()
