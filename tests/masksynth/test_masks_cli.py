"""The synth-masks / augment-masks / stats commands, through the real CLI entry point."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from masksynth import validate_tracked
from tgan_aug.cli import cli


def run(args: list[str]):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_synth_masks_writes_store_and_ctc_reproducibly(tmp_path):
    from tgan_aug.io.load import load_masks

    args = ["synth-masks", "--density", "mid", "--layout", "colony", "--frames", "4", "--size", "64x96",
            "--sequences", "2", "--seed", "3", "--quiet"]
    out = run(args + ["-o", str(tmp_path / "a.zarr"), "--ctc", str(tmp_path / "ctc"), "--geff", str(tmp_path / "g")])
    assert "wrote 2 sequences of 4x64x96" in out
    run(args + ["-o", str(tmp_path / "b.zarr")])
    a = load_masks(tmp_path / "a.zarr")
    b = load_masks(tmp_path / "b.zarr")
    assert [n for n, _ in a] == ["seq000", "seq001"]
    for (_, x), (_, y) in zip(a, b):
        assert x == y
        validate_tracked(x.labels, x.lineage)
    from tgan_aug.io import read_geff

    assert read_geff(tmp_path / "g" / "seq001" / "tracks.geff") == a[1][1]
    c = load_masks(tmp_path / "ctc", sequence="01")[0][1]
    assert np.array_equal(c.labels, a[0][1].labels)


def test_synth_masks_errors_are_one_line(tmp_path, run_cli):
    code, _, err = run_cli(["synth-masks", "--cells", "5000", "--size", "48x48", "--quiet", "-o",
                          str(tmp_path / "x.zarr")])
    assert code == 2 and "only" in err and "cells fit on 48x48" in err
    code, _, err = run_cli(["synth-masks", "--size", "48by48", "-o", str(tmp_path / "x.zarr")])
    assert code == 2 and "--size must be HEIGHTxWIDTH" in err
    code, _, err = run_cli(["synth-masks", "--size", "48x48"])
    assert code == 2 and "-o/--output" in err
    code, _, err = run_cli(["synth-masks", "--size", "13x7", "--quiet", "-o", str(tmp_path / "x.zarr")])
    assert code == 2 and err == "error: --size must be HEIGHTxWIDTH with both >= 8 pixels, got 13x7\n"


def test_synth_masks_with_shapes_and_calibration_from_real_data(tmp_path, tracked_factory):
    from tgan_aug.io.store import write_store

    real = tracked_factory(frames=6, height=64, width=80)
    write_store(tmp_path / "real.zarr", real, name="r")
    out = run(["synth-masks", "--calibrate-from", str(tmp_path / "real.zarr"), "--quiet", "--seed", "1",
               "-o", str(tmp_path / "cal.zarr")])
    assert "of 6x64x80" in out  # size and frames come from the calibration data
    out = run(["synth-masks", "--shapes-from", str(tmp_path / "real.zarr"), "--cells", "6", "--frames", "3",
               "--size", "64x64", "--quiet", "-o", str(tmp_path / "sh.zarr")])
    assert "6 cells/frame" in out


def test_synth_masks_layout_given_wins_over_the_calibrated_founders_layout(tmp_path):
    from masksynth import SynthConfig, synthesize
    from tgan_aug.io.store import open_store_sequence, write_store

    colony = SynthConfig.preset("mid", size=(96, 96), frames=10, cells=2, shape_kind="rod", mean_area=60.0,
                                layout="colony", colonies=1, colony_sigma=0.05, colony_margin=0.3,
                                division_rate=0.5, min_division_age=2, shape_jitter=False)
    write_store(tmp_path / "real.zarr", synthesize(colony, seed=0), name="r")
    for extra, layout in (([], "colony"), (["--layout", "flat"], "flat")):
        out = tmp_path / f"{layout}.zarr"
        run(["synth-masks", "--calibrate-from", str(tmp_path / "real.zarr"), *extra, "--quiet", "-o", str(out)])
        assert open_store_sequence(out, "seq000").provenance["config"]["layout"] == layout


def test_augment_masks_and_stats(tmp_path, tracked_factory):
    from tgan_aug.io.load import load_masks
    from tgan_aug.io.store import write_store

    write_store(tmp_path / "real.zarr", tracked_factory(frames=8, height=48, width=64), name="r")
    out = run(["augment-masks", str(tmp_path / "real.zarr"), "-o", str(tmp_path / "aug.zarr"), "--copies", "2",
               "--split", "4", "--crop", "32x40", "--morph-prob", "0.5", "--quiet"])
    assert "wrote 4 augmented sequences" in out
    seqs = load_masks(tmp_path / "aug.zarr")
    assert [n for n, _ in seqs] == ["r_p00_a00", "r_p00_a01", "r_p01_a00", "r_p01_a01"]
    for _, m in seqs:
        assert m.n_frames == 4 and sorted(m.labels.shape[1:]) == [32, 40]
    table = run(["stats", str(tmp_path / "real.zarr"), str(tmp_path / "aug.zarr")])
    lines = table.strip().splitlines()
    assert lines[0].startswith("| statistic | unit | real.zarr median (mean) | aug.zarr median (mean) | KS aug.zarr |")
    assert any(line.startswith("| area | px |") for line in lines)
