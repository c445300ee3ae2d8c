"""``tgan-aug info | import-ctc | export-ctc``: output, round trip, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tgan_aug.io import read_ctc, read_store


def test_info_text_and_json(ctc_dir, video, run_cli):
    code, out, _ = run_cli(["info", str(ctc_dir)])
    assert code == 0
    assert "frames             6" in out and "size (Y x X)       48 x 64" in out
    assert "images             uint8" in out and "01_GT/TRA + man_track.txt" in out
    assert f"tracks             {len(video.lineage)}" in out and "divisions          1" in out
    assert "cells per frame    3 -> 4" in out
    code, out, _ = run_cli(["info", str(ctc_dir), "--json"])
    [facts] = json.loads(out)
    assert facts["frames"] == 6 and facts["tracks"] == 5 and facts["divisions"] == 1
    assert facts["cells_per_frame"] == [3, 3, 3, 4, 4, 4]
    assert facts["mean_track_length"] == pytest.approx(np.mean(video.lineage[:, 2] - video.lineage[:, 1] + 1))


def test_import_export_round_trip(tmp_path, ctc_dir, video, run_cli):
    store, out = tmp_path / "s.zarr", tmp_path / "out"
    code, stdout, _ = run_cli(["import-ctc", str(ctc_dir), str(store), "--quiet"])
    assert code == 0 and "imported 01" in stdout
    assert read_store(store, "01").masks == video.masks
    code, stdout, _ = run_cli(["info", str(store)])
    assert code == 0 and "[store, sequence 01]" in stdout and "tracks             5" in stdout
    code, _, _ = run_cli(["export-ctc", str(store), str(out), "--seg", "--quiet"])
    assert code == 0
    got = read_ctc(out)
    assert got.masks == video.masks and np.array_equal(got.images, video.images)
    assert (out / "01_GT" / "SEG" / "man_seg000.tif").is_file()
    assert (out / "01_GT" / "TRA" / "man_track.txt").read_text() == (ctc_dir / "01_GT" / "TRA" / "man_track.txt").read_text()


def test_export_renumbers_store_names(tmp_path, video, run_cli):
    from tgan_aug.io import write_store

    store = tmp_path / "s.zarr"
    write_store(store, video, name="seq000")
    write_store(store, video.masks, name="seq001")
    code, stdout, _ = run_cli(["export-ctc", str(store), str(tmp_path / "o"), "--sequence", "seq001", "--quiet"])
    assert code == 0 and "seq001 -> " in stdout
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["01_GT"]


@pytest.mark.parametrize(
    "make_args, expected",
    [
        (lambda p, c: ["info", str(p / "nope")], "nope does not exist"),
        (lambda p, c: ["import-ctc", str(p / "empty"), str(p / "s.zarr")], "empty is empty"),
        (lambda p, c: ["export-ctc", str(p / "missing.zarr"), str(p / "o")], "missing.zarr does not exist"),
        (lambda p, c: ["import-ctc", str(c), str(p / "existing.zarr")], "existing.zarr holds sequences 01; pass --append"),
        (lambda p, c: ["export-ctc", str(p / "existing.zarr"), str(c)], "01 already exists; pass --overwrite"),
        (lambda p, c: ["import-geff", str(p / "existing.zarr"), str(p / "n.zarr")], "is not a valid GEFF graph"),
        (lambda p, c: ["export-geff", str(p / "existing.zarr"), str(p / "g"), "--sequence", "02"], "no sequence '02'"),
    ],
)
def test_user_errors_exit_2_with_one_line(tmp_path, ctc_dir, video, run_cli, make_args, expected):
    (tmp_path / "empty").mkdir()
    from tgan_aug.io import write_store

    write_store(tmp_path / "existing.zarr", video, name="01")
    code, out, err = run_cli(make_args(tmp_path, ctc_dir))
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], err
    assert "Traceback" not in err


def test_geff_export_import_and_export_ctc_geff(tmp_path, ctc_dir, video, run_cli):
    store = tmp_path / "s.zarr"
    assert run_cli(["import-ctc", str(ctc_dir), str(store), "--quiet"])[0] == 0
    code, stdout, _ = run_cli(["export-geff", str(store), str(tmp_path / "g"), "--quiet"])
    assert code == 0 and "01/tracks.geff" in stdout
    code, stdout, _ = run_cli(["import-geff", str(tmp_path / "g" / "01" / "tracks.geff"), str(tmp_path / "b.zarr"), "--quiet"])
    assert code == 0 and "as 01" in stdout
    assert read_store(tmp_path / "b.zarr", "01") == video.masks
    code, _, _ = run_cli(["export-ctc", str(store), str(tmp_path / "ctc"), "--geff", str(tmp_path / "g2"), "--quiet"])
    assert code == 0 and read_ctc(tmp_path / "ctc").masks == video.masks
    from tgan_aug.io import read_geff

    assert read_geff(tmp_path / "g2" / "01" / "tracks.geff") == video.masks
    assert run_cli(["export-geff", str(store), str(tmp_path / "g"), "--quiet"])[0] == 2  # exists
    # a GEFF clash fails before the CTC folder is written (nothing half-exported)
    code, _, err = run_cli(["export-ctc", str(store), str(tmp_path / "ctc2"), "--geff", str(tmp_path / "g2"), "--quiet"])
    assert code == 2 and "g2/01 already exists" in err and "--overwrite" in err
    assert not (tmp_path / "ctc2").exists()


def test_output_option_or_positional(tmp_path, ctc_dir, video, run_cli):
    """Each data command takes its output as the positional argument or as -o/--output (not two different ones)."""
    store = tmp_path / "s.zarr"
    assert run_cli(["import-ctc", str(ctc_dir), "-o", str(store), "--quiet"])[0] == 0
    assert read_store(store, "01").masks == video.masks
    assert run_cli(["export-ctc", str(store), "--output", str(tmp_path / "ctc"), "--quiet"])[0] == 0
    assert read_ctc(tmp_path / "ctc").masks == video.masks
    assert run_cli(["export-geff", str(store), str(tmp_path / "g"), "-o", str(tmp_path / "g"), "--quiet"])[0] == 0
    assert run_cli(["import-geff", str(tmp_path / "g" / "01" / "tracks.geff"), "-o", str(tmp_path / "b.zarr"),
                    "--quiet"])[0] == 0
    assert read_store(tmp_path / "b.zarr", "01") == video.masks
    code, _, err = run_cli(["export-ctc", str(store), str(tmp_path / "x"), "-o", str(tmp_path / "y")])
    assert code == 2 and "OUT_DIR" in err and "-o/--output" in err and "differ" in err
    code, _, err = run_cli(["import-ctc", str(ctc_dir)])
    assert code == 2 and "give STORE or -o/--output STORE" in err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_overwrite_flag_replaces(tmp_path, ctc_dir, video, run_cli):
    store = tmp_path / "s.zarr"
    assert run_cli(["import-ctc", str(ctc_dir), str(store), "--quiet"])[0] == 0
    assert run_cli(["import-ctc", str(ctc_dir), str(store), "--quiet"])[0] == 2
    assert run_cli(["import-ctc", str(ctc_dir), str(store), "--quiet", "--overwrite"])[0] == 0
    assert read_store(store).masks == video.masks


def test_console_script_error_has_no_traceback(tmp_path, ctc_dir):
    path = ctc_dir / "01_GT" / "TRA" / "man_track001.tif"
    path.write_bytes(path.read_bytes()[:40])
    proc = subprocess.run(
        [sys.executable, "-c", "from tgan_aug.cli import main; main()", "info", str(ctc_dir)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "man_track001.tif" in lines[0] and "Traceback" not in proc.stderr
