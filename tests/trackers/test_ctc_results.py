"""Links -> CTC tracks -> result folders that py-ctcmetrics' validation accepts."""

from __future__ import annotations

import numpy as np
import pytest

from tgan_aug.errors import UserError
from tgan_aug.trackers.ctc_results import links_to_tracked, read_ctc_results, write_ctc_results
from tgan_aug.trackers.metrics import check_result_folder, evaluate_tracked


def _detections_and_links(tracked, seed=0):
    """Per-frame shuffled ids and the true links between them (from the ground truth)."""
    rng = np.random.default_rng(seed)
    dets = np.zeros(tracked.labels.shape, np.int32)
    maps = []
    for t, frame in enumerate(tracked.labels):
        ids = [int(i) for i in np.unique(frame) if i]
        new = {tid: int(v) + 1 for tid, v in zip(ids, rng.permutation(len(ids)))}
        for tid, v in new.items():
            dets[t][frame == tid] = v
        maps.append(new)
    parents = {int(r[0]): int(r[3]) for r in tracked.lineage}
    links = []
    for t in range(1, len(maps)):
        for tid, v in maps[t].items():
            src = tid if tid in maps[t - 1] else parents.get(tid, 0)
            if src in maps[t - 1]:
                links.append(((t - 1, maps[t - 1][src]), (t, v)))
    return dets, links


def test_true_links_rebuild_the_ground_truth(tracked, tmp_path):
    dets, links = _detections_and_links(tracked)
    res = links_to_tracked(dets, links)
    assert res.n_tracks == tracked.n_tracks and res.n_divisions == 1
    assert evaluate_tracked(tracked, res)["TRA"] == pytest.approx(1.0)
    out = write_ctc_results(tmp_path / "RES", res)
    assert sorted(p.name for p in out.iterdir())[:2] == ["mask000.tif", "mask001.tif"]
    check_result_folder(out)  # py-ctcmetrics validation
    assert read_ctc_results(out) == res


def test_no_links_gives_one_track_per_detection(tracked):
    dets, _ = _detections_and_links(tracked)
    res = links_to_tracked(dets, [])
    assert res.n_tracks == int(sum(len(np.unique(f)) - 1 for f in dets))


def test_gap_link_starts_a_child_track():
    dets = np.zeros((4, 8, 8), np.int32)
    dets[0, :2, :2] = 1
    dets[1, :2, :2] = 1
    dets[3, :2, :2] = 1  # absent in frame 2
    res = links_to_tracked(dets, [((0, 1), (1, 1)), ((1, 1), (3, 1))])
    assert res.lineage.tolist() == [[1, 0, 1, 0], [2, 3, 3, 1]]


def test_bad_links_are_rejected():
    dets = np.zeros((2, 8, 8), np.int32)
    dets[0, :2, :2] = 1
    dets[0, 4:6, 4:6] = 2
    dets[1, :2, :2] = 1
    with pytest.raises(UserError, match="two incoming links"):
        links_to_tracked(dets, [((0, 1), (1, 1)), ((0, 2), (1, 1))])
    with pytest.raises(UserError, match="not in the masks"):
        links_to_tracked(dets, [((0, 1), (1, 7))])
    with pytest.raises(UserError, match="forward in time"):
        links_to_tracked(dets, [((1, 1), (0, 1))])


def test_result_folder_is_not_silently_overwritten(tracked, tmp_path):
    write_ctc_results(tmp_path / "RES", tracked)
    with pytest.raises(UserError, match="--overwrite"):
        write_ctc_results(tmp_path / "RES", tracked)
    write_ctc_results(tmp_path / "RES", tracked, overwrite=True)


def test_invalid_result_folder_is_reported(tracked, tmp_path):
    out = write_ctc_results(tmp_path / "RES", tracked)
    (out / "res_track.txt").write_text("1 0 5 0\n1 0 5 0\n")  # duplicate labels, missing tracks
    with pytest.raises(UserError, match="not a valid CTC result"):
        check_result_folder(out)
