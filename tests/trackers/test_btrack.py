"""btrack with the shipped configuration on easy synthetic sequences."""

from __future__ import annotations

import json
import warnings

import pytest

from tgan_aug.errors import TganAugWarning, UserError
from tgan_aug.trackers.btrack_runner import (
    load_btrack_config,
    optimizer_status,
    search_btrack_params,
    track_btrack,
)
from tgan_aug.trackers.ctc_results import write_ctc_results
from tgan_aug.trackers.metrics import check_result_folder, evaluate_tracked

from tgan_aug.trackers.detections import per_frame_ids

from .conftest import make_blobs

pytest.importorskip("btrack")


@pytest.mark.parametrize("seed", [0, 1])
def test_btrack_easy_sequence_reaches_high_mota(seed, tmp_path):
    video = make_blobs(n_cells=6, frames=15, speed=1.5, seed=seed)
    res = track_btrack(per_frame_ids(video.labels, seed=seed), images=video.images)
    r = evaluate_tracked(video.masks, res)
    assert r["Valid"] == 1
    assert r["MOTA"] > 0.95, r
    check_result_folder(write_ctc_results(tmp_path / "RES", res))


def test_cells_with_zero_intensity_do_not_abort_btrack():
    """A rendered frame can hold a cell whose pixels are all 0 (dark cells clipped at the dtype's
    floor): its intensity-weighted centroid is NaN, and btrack's C++ core aborts the process on
    it. Centroids then come from the masks, and tracking works as without images."""
    import numpy as np

    video = make_blobs(n_cells=6, frames=15, speed=1.5, seed=0)
    images = np.asarray(video.images).astype(np.float32).copy()
    images[np.asarray(video.labels) == np.asarray(video.labels)[0].max()] = 0.0
    det = per_frame_ids(video.labels, seed=0)
    res = track_btrack(det, images=images)
    r = evaluate_tracked(video.masks, res)
    assert r["MOTA"] > 0.95, r
    np.testing.assert_array_equal(res.labels > 0, np.asarray(video.labels) > 0)


def test_btrack_sequence_with_a_division_stays_valid():
    video = make_blobs(n_cells=5, frames=14, divide=True, seed=3)
    res = track_btrack(per_frame_ids(video.labels))
    r = evaluate_tracked(video.masks, res)
    assert r["Valid"] == 1 and r["MOTA"] > 0.9, r


def test_optimizer_status_is_read_from_btracks_log_lines():
    assert optimizer_status(["Optimizer returned status: feasible", "Optimization failed."]) == "feasible"
    assert optimizer_status(["Using GLPK options: {'tm_lim': 0}...", "Optimizer returned status: undefined"]) == "undefined"
    assert optimizer_status(["No hypotheses could be found."]) == "optimal"
    assert optimizer_status([]) == "optimal"


def _time_limited_config(tmp_path=None, ms: int = 0):
    """The shipped config with GLPK's time limit at ``ms`` (0: stops before any solution)."""
    cfg = load_btrack_config(None, optimizer_options={"tm_lim": ms, "msg_lev": "GLP_MSG_OFF"})
    if tmp_path is None:
        return cfg
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    return tmp_path / "cfg.json"


def test_failed_optimisation_warns_naming_the_consequence_and_the_fix():
    """btrack discards a solution GLPK has not proven optimal and only logs it (the result then
    has no divisions and no joined tracklets): that must reach the user as a warning saying so;
    a solved run gives none."""
    import numpy as np

    video = make_blobs(n_cells=5, frames=14, divide=True, seed=3)
    det = per_frame_ids(video.labels)
    with pytest.warns(TganAugWarning, match=r"status 'undefined'.*divisions and track joins were not solved.*tm_lim"):
        res = track_btrack(det, config=_time_limited_config())
    np.testing.assert_array_equal(res.labels > 0, det > 0)  # every detection is still in the result
    with warnings.catch_warnings():
        warnings.simplefilter("error", TganAugWarning)
        track_btrack(det)


def test_track_cli_prints_the_optimizer_warning_as_one_line(ctc_dataset, tmp_path, run_cli):
    code, out, err = run_cli(["track", "--tracker", "btrack", str(ctc_dataset), "-o", str(tmp_path / "RES"),
                              "--config", str(_time_limited_config(tmp_path))])
    assert code == 0 and (tmp_path / "RES" / "res_track.txt").is_file()
    line, = [x for x in err.splitlines() if x.startswith("warning:")]
    assert line.startswith("warning: sequence 01: btrack: the optimizer did not find an optimal solution"), err
    assert "Optimizer returned status" not in err  # btrack's own log lines are replaced by the warning


def test_shipped_config_and_overrides():
    cfg = load_btrack_config()
    assert cfg["motion_model"]["measurements"] == 3 and "hypothesis_model" in cfg
    assert not any(k.startswith("_") for k in cfg)
    cfg = load_btrack_config(None, max_search_radius=12.0, hypothesis_model__lambda_link=3.0)
    assert cfg["max_search_radius"] == 12.0 and cfg["hypothesis_model"]["lambda_link"] == 3.0
    with pytest.raises(UserError, match="unknown key"):
        load_btrack_config(None, motion_model__nope=1)
    with pytest.raises(UserError, match="not found"):
        load_btrack_config("/nonexistent/config.json")


def test_parameter_search_scores_every_grid_point():
    video = make_blobs(n_cells=4, frames=8, speed=4.0, seed=5)
    best, scores = search_btrack_params(video.masks, grid={"max_search_radius": [2.0, 30.0]})
    assert len(scores) == 2
    assert best == {"max_search_radius": 30.0}
    assert scores[1][1] > scores[0][1]


@pytest.mark.slow
@pytest.mark.shared_data
def test_btrack_on_real_psc_with_ground_truth_detections(shared_data):
    """PhC-C2DL-PSC/02 silver truth as detections (ids shuffled per frame): measured MOTA 1.000."""
    from tgan_aug.io import load_tracked

    (_, video), = load_tracked(shared_data / "PhC-C2DL-PSC")
    res = track_btrack(per_frame_ids(video.labels), images=video.images)
    r = evaluate_tracked(video.masks, res)
    assert r["Valid"] == 1 and r["MOTA"] > 0.95, r


@pytest.mark.slow
@pytest.mark.shared_data
def test_shipped_config_solves_bacteria_and_finds_divisions(shared_data):
    """bacteria-phc/01 ground truth as detections (356 divisions): the first shipped config left
    GLPK unproven at its 60 s limit, so btrack dropped every division (BC(1) 0, MOTA 0.656). The
    tuned config is proven optimal (no warning); measured MOTA 0.830, BC(1) 0.252 (85 true divisions)."""
    from tgan_aug.io import load_tracked

    (_, video), = load_tracked(shared_data / "bacteria-phc")
    with warnings.catch_warnings():
        warnings.simplefilter("error", TganAugWarning)
        res = track_btrack(per_frame_ids(video.labels), images=video.images)
    r = evaluate_tracked(video.masks, res, metrics=("Valid", "MOTA", "BC(1)"))
    assert r["Valid"] == 1 and r["MOTA"] > 0.8, r
    assert r["BC(1)"] > 0.2 and r["tp_div(1)"] > 70, r
