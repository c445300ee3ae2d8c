"""btrack with the shipped configuration on easy synthetic sequences."""

from __future__ import annotations

import pytest

from tgan_aug.errors import UserError
from tgan_aug.trackers.btrack_runner import load_btrack_config, search_btrack_params, track_btrack
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
