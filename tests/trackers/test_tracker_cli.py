"""CLI: track (btrack, trackastra), train-tracker, eval-tracking on small CTC folders."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tgan_aug.cli import cli

from .conftest import make_blobs


def test_track_btrack_then_eval(ctc_dataset, tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["track", "--tracker", "btrack", str(ctc_dataset), "-o", str(tmp_path / "RES")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "RES" / "res_track.txt").is_file()
    r = runner.invoke(cli, ["eval-tracking", "--gt", str(ctc_dataset / "01_GT"), "--res", str(tmp_path / "RES")])
    assert r.exit_code == 0, r.output
    header, _, row = r.output.strip().splitlines()
    assert header.startswith("| sequence | MOTA | MT | ML | Precision | Recall")
    assert row.split("|")[2].strip() == "1.000"
    r = runner.invoke(cli, ["eval-tracking", "--gt", str(ctc_dataset), "--res", str(tmp_path / "RES"), "--json"])
    assert json.loads(r.output)["MOTA"] == pytest.approx(1.0)


def test_track_with_trackastra_and_ilp_linking(ctc_dataset, tmp_path):
    pytest.importorskip("trackastra")
    pytest.importorskip("motile", reason="ILP linking needs the ilp extra: pip install 'tgan-aug[ilp]'")
    from tgan_aug.trackers.metrics import check_result_folder

    runner = CliRunner()
    model = tmp_path / "model"
    r = runner.invoke(cli, ["train-tracker", "--real", str(ctc_dataset), "--ratio", "0", "-o", str(model), "--preset", "tiny",
                            "--max-steps", "1", "--quiet", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["track", "--tracker", "trackastra", "--model", str(model), "--mode", "ilp", str(ctc_dataset),
                            "-o", str(tmp_path / "RES")])
    assert r.exit_code == 0, r.output
    check_result_folder(tmp_path / "RES")
    r = runner.invoke(cli, ["track", "--tracker", "trackastra", "--model", str(model), "--mode", "ilp", "--ilp-costs",
                            "deepcell_gt_tuned", str(ctc_dataset), "-o", str(tmp_path / "RES_seg")])
    assert r.exit_code == 0, r.output
    check_result_folder(tmp_path / "RES_seg")


def test_train_tracker_then_track_with_trackastra(ctc_dataset, tmp_path):
    pytest.importorskip("trackastra")
    runner = CliRunner()
    model = tmp_path / "model"
    r = runner.invoke(cli, ["train-tracker", "--real", str(ctc_dataset), "--synthetic", str(ctc_dataset), "--ratio", "0.5",
                            "-o", str(model), "--preset", "tiny", "--max-steps", "2", "--quiet", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert (model / "model.pt").is_file() and "2 steps" in r.output
    r = runner.invoke(cli, ["track", "--tracker", "trackastra", "--model", str(model), str(ctc_dataset), "-o", str(tmp_path / "RES")])
    assert r.exit_code == 0, r.output
    from tgan_aug.trackers.metrics import check_result_folder

    check_result_folder(tmp_path / "RES")
    # fine-tuning starts from the trained folder and keeps its architecture
    r = runner.invoke(cli, ["train-tracker", "--real", str(ctc_dataset), "--ratio", "0", "--model", str(model),
                            "-o", str(tmp_path / "tuned"), "--max-steps", "1", "--quiet", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "tuned" / "tgan_aug_train.json").read_text())
    assert meta["init"] == str(model) and meta["config"]["d_model"] == 32


def test_track_a_tiff_pair_with_unlinked_masks(tmp_path):
    import tifffile

    from tgan_aug.trackers.detections import per_frame_ids

    video = make_blobs(n_cells=4, frames=8, height=64, width=64, seed=7)
    tifffile.imwrite(tmp_path / "movie.tif", video.images)
    tifffile.imwrite(tmp_path / "seg.tif", per_frame_ids(video.labels).astype("uint16"))
    r = CliRunner().invoke(cli, ["track", f"{tmp_path / 'movie.tif'}:{tmp_path / 'seg.tif'}", "-o", str(tmp_path / "RES")])
    assert r.exit_code == 0, r.output
    from tgan_aug.trackers.ctc_results import read_ctc_results
    from tgan_aug.trackers.metrics import evaluate_tracked

    assert evaluate_tracked(video.masks, read_ctc_results(tmp_path / "RES"))["MOTA"] > 0.95


@pytest.mark.parametrize(
    "args, message",
    [
        (["track", "--tracker", "trackastra", "{ds}", "-o", "{tmp}/R"], "needs --model"),
        (["track", "--tracker", "btrack", "{ds}", "-o", "{tmp}/R", "--threshold", "0.2"], "--threshold and --division-threshold and --max-distance and --ilp-costs are for --tracker trackastra"),
        (["train-tracker", "--real", "{ds}", "--ratio", "0.5", "-o", "{tmp}/m"], "no --synthetic data was given"),
        (["eval-tracking", "--gt", "{tmp}", "--res", "{tmp}"], "no TRA/man_track.txt"),
    ],
)
def test_user_errors_are_one_line_exit_2(args, message, ctc_dataset, tmp_path, run_cli):
    code, _, err = run_cli([a.format(ds=ctc_dataset, tmp=tmp_path) for a in args])
    assert code == 2
    assert message in err and err.startswith("error:")


def test_eval_tracking_accepts_the_root_folder_track_writes_for_several_sequences(tmp_path, run_cli):
    """``track`` writes RES/01_RES, RES/02_RES for a two-sequence dataset; --res RES picks the one
    that matches --gt NN_GT, and says which to pass when it cannot tell."""
    from tgan_aug.io import write_ctc
    from tgan_aug.trackers.ctc_results import write_ctc_results

    good, other = make_blobs(n_cells=4, frames=8, height=64, width=64, seed=1), make_blobs(n_cells=3, frames=8, height=64, width=64, seed=2)
    write_ctc(tmp_path / "ds", good, sequence="01")
    write_ctc(tmp_path / "ds", other, sequence="02")
    write_ctc_results(tmp_path / "RES" / "01_RES", good.masks)
    write_ctc_results(tmp_path / "RES" / "02_RES", other.masks)
    runner = CliRunner()
    for seq in ("01", "02"):
        r = runner.invoke(cli, ["eval-tracking", "--gt", str(tmp_path / "ds" / f"{seq}_GT"), "--res", str(tmp_path / "RES"), "--json"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["MOTA"] == pytest.approx(1.0)
    r = runner.invoke(cli, ["eval-tracking", "--gt", str(tmp_path / "ds" / "01_GT" / "TRA"), "--res", str(tmp_path / "RES")])
    assert r.exit_code == 0, r.output  # TRA's parent is 01_GT: still matched
    (tmp_path / "gt").mkdir()
    (tmp_path / "ds" / "01_GT").rename(tmp_path / "gt" / "truth")
    code, _, err = run_cli(["eval-tracking", "--gt", str(tmp_path / "gt" / "truth"), "--res", str(tmp_path / "RES")])
    assert code == 2
    assert "holds several results (01_RES, 02_RES); pass the one for --gt" in err
