"""Tracking metrics through py-ctcmetrics: perfect on ground truth, lower on corrupted copies,
MT/ML/precision/recall on hand-made cases, the Markdown table, and path errors."""

from __future__ import annotations

import numpy as np
import pytest

from masksynth import TrackedMasks
from tgan_aug.errors import UserError
from tgan_aug.trackers.ctc_results import write_ctc_results, write_gt_tra
from tgan_aug.trackers.metrics import evaluate_ctc, evaluate_tracked, mostly_tracked_lost, resolve_gt_dir, results_table


def _squares(frames: int, ids_by_frame: list[dict[int, int]]) -> TrackedMasks:
    """Cells as 6x6 squares in fixed slots; ids_by_frame[t][slot] = track id in frame t (0 = absent)."""
    labels = np.zeros((frames, 32, 64), np.uint16)
    for t, slots in enumerate(ids_by_frame):
        for slot, tid in slots.items():
            if tid:
                labels[t, 10:16, 4 + 10 * slot : 10 + 10 * slot] = tid
    return TrackedMasks.from_labels(labels, check_linked=False)


def test_ground_truth_against_itself_is_perfect(tracked):
    r = evaluate_tracked(tracked, tracked)
    assert r["Valid"] == 1
    for key in ("MOTA", "IDF1", "HOTA", "TRA", "DET", "LNK", "MT", "Precision", "Recall", "BC(1)"):
        assert r[key] == pytest.approx(1.0), key
    assert r["ML"] == 0 and r["IDSW"] == 0


def test_division_f1_drops_when_the_lineage_loses_its_division(tracked):
    """BC(1), the division F1: the same masks with the daughters' parent links removed (a tracker
    that found every cell but not the division) score 0, with the division counted as missed."""
    lineage = tracked.lineage.copy()
    assert (lineage[:, 3] > 0).sum() == 2
    lineage[:, 3] = 0
    r = evaluate_tracked(tracked, TrackedMasks(tracked.labels, lineage))
    assert r["BC(1)"] == 0 and r["fn_div(1)"] == 1 and r["tp_div(1)"] == 0
    assert r["MOTA"] == pytest.approx(1.0)  # the detections are all there


def test_corrupted_copy_scores_lower(tracked):
    # swap the identities of tracks 2 and 3 from frame 3 on, and drop track 3 in frame 5
    labels = tracked.labels.copy()
    a, b = labels[3:] == 2, labels[3:] == 3
    labels[3:][a], labels[3:][b] = 3, 2
    labels[5][labels[5] == 2] = 0
    res = TrackedMasks.from_labels(labels, check_linked=False)
    r = evaluate_tracked(tracked, res)
    assert r["Valid"] == 1
    assert r["MOTA"] < 1 and r["IDF1"] < 1 and r["TRA"] < 1 and r["Recall"] < 1
    assert r["IDSW"] >= 2


def test_mostly_tracked_lost_precision_recall_by_hand():
    # 10 frames, ground truth: tracks A (slot 0), B (slot 1), C (slot 2), all full length
    gt = _squares(10, [{0: 1, 1: 2, 2: 3} for _ in range(10)])
    # result: A perfect; B found in 5 of 10 frames (one track); C found in 1 of 10 frames;
    # one false positive (slot 4) in 2 frames
    res_frames = []
    for t in range(10):
        slots = {0: 1, 1: 2 if t < 5 else 0, 2: 3 if t == 0 else 0, 4: 9 if t < 2 else 0}
        res_frames.append(slots)
    res = _squares(10, res_frames)
    r = evaluate_tracked(gt, res)
    # MT: A only (>= 80 %); ML: C only (< 20 %); B (50 %) is neither
    assert r["MT"] == pytest.approx(1 / 3)
    assert r["ML"] == pytest.approx(1 / 3)
    tp, fn, fp = 10 + 5 + 1, 5 + 9, 2
    assert (r["TP"], r["FN"], r["FP"]) == (tp, fn, fp)
    assert r["Precision"] == pytest.approx(tp / (tp + fp))
    assert r["Recall"] == pytest.approx(tp / (tp + fn))
    assert r["MOTA"] == pytest.approx(1 - (fn + fp) / (tp + fn))


def test_mostly_tracked_lost_thresholds():
    # track 1 matched 4/5 (MT), track 2 matched 1/5 (neither: 20 % is not < 20 %), track 3 0/5 (ML)
    labels = [[1, 2, 3]] * 5
    mapped = [[1, 2], [1], [1], [1], []]
    assert mostly_tracked_lost(labels, mapped) == {"MT": pytest.approx(1 / 3), "ML": pytest.approx(1 / 3)}
    assert mostly_tracked_lost([], []) == {"MT": 0.0, "ML": 0.0}


def test_gt_path_forms_and_errors(tmp_path, tracked):
    gt = write_gt_tra(tmp_path / "01_GT", tracked)
    res = write_ctc_results(tmp_path / "RES", tracked)
    assert resolve_gt_dir(gt) == gt
    assert resolve_gt_dir(gt / "TRA") == gt
    assert resolve_gt_dir(tmp_path) == gt
    assert evaluate_ctc(tmp_path, res)["TRA"] == pytest.approx(1.0)
    with pytest.raises(UserError, match="no TRA/man_track.txt"):
        resolve_gt_dir(tmp_path / "RES")
    with pytest.raises(UserError, match="res_track.txt not found"):
        evaluate_ctc(gt, gt)
    short = TrackedMasks(tracked.labels[:4], [[i, a, min(b, 3), p] for i, a, b, p in tracked.lineage.tolist() if a < 4])
    write_ctc_results(tmp_path / "RES_SHORT", short)
    with pytest.raises(UserError, match="4 mask files"):
        evaluate_ctc(gt, tmp_path / "RES_SHORT")


def test_results_table_markdown():
    table = results_table([("real", {"MOTA": 0.9, "MT": 0.8, "IDSW": 3}), ("synthetic", {"MOTA": 0.75})])
    lines = table.splitlines()
    assert lines[0] == "| sequence | MOTA | MT | IDSW |"
    assert lines[2] == "| real | 0.900 | 0.800 | 3 |"
    assert lines[3] == "| synthetic | 0.750 | - | - |"


def test_a_result_without_objects_scores_zero(tracked):
    """py-ctcmetrics raises on an empty res_track.txt; an empty result means nothing was found."""
    empty = TrackedMasks(np.zeros(tracked.labels.shape, np.uint16), np.zeros((0, 4), np.int64))
    r = evaluate_tracked(tracked, empty)
    n_gt = int(sum(len(np.unique(f)) - 1 for f in tracked.labels))
    assert r["MOTA"] == 0.0 and r["Recall"] == 0.0 and r["FN"] == n_gt and r["ML"] == 1.0 and r["Precision"] is None
