"""MOTA's identity switches by cause (tgan_aug.trackers.link_errors), on a hand-made scene where each
cause occurs once, checked against py-ctcmetrics' own IDSW."""

from __future__ import annotations

import numpy as np
import pytest

from masksynth.tracked import TrackedMasks
from tgan_aug.errors import UserError
from tgan_aug.trackers.ctc_results import links_to_tracked
from tgan_aug.trackers.link_errors import division_outcomes, id_switch_causes

BOXES = {1: (2, 2), 2: (2, 12), 3: (12, 2), 4: (12, 2), 5: (12, 10)}  # id -> top-left of a 4 x 4 cell


def _reference() -> TrackedMasks:
    """Three frames: cells 1 and 2 stay; cell 3 (frame 0) divides into 4 and 5 (frames 1-2)."""
    labels = np.zeros((3, 20, 40), np.uint16)
    for t in range(3):
        for cell in (1, 2) + ((3,) if t == 0 else (4, 5)):
            y, x = BOXES[cell]
            labels[t, y:y + 4, x:x + 4] = cell
    return TrackedMasks(labels, np.array([[1, 0, 2, 0], [2, 0, 2, 0], [3, 0, 0, 0], [4, 1, 2, 3], [5, 1, 2, 3]]))


def test_each_cause_is_counted_once_and_they_add_up_to_ctcmetrics_idsw():
    from tgan_aug.trackers.metrics import evaluate_tracked

    ref = _reference()
    links = [((0, 1), (1, 1)), ((0, 2), (1, 2)), ((0, 3), (1, 4)), ((0, 3), (1, 5)),  # all right, the division too
             ((1, 1), (2, 1)), ((1, 1), (2, 2)),  # 1 divides into 1 and 2: false division (1), wrong mother (2)
             ((1, 2), (2, 4))]  # 4 continues 2: wrong link; 5 is left unlinked: missed link
    tracked = links_to_tracked(ref.labels, links)
    causes = id_switch_causes(ref, tracked)
    assert causes == {"continuations": 6, "kept": 2, "wrong link": 1, "false division": 1, "wrong mother": 1,
                      "missed link": 1}
    assert evaluate_tracked(ref, tracked, metrics=("Valid", "MOTA"))["IDSW"] == 4
    assert division_outcomes(ref, tracked) == {"found": 1, "mother continues": 0, "other": 0, "result divisions": 2}


def test_a_missed_division_costs_no_identity_switch():
    ref = _reference()
    links = [((0, 1), (1, 1)), ((1, 1), (2, 1)), ((0, 2), (1, 2)), ((1, 2), (2, 2)), ((0, 3), (1, 4)), ((1, 4), (2, 4)),
             ((1, 5), (2, 5))]  # 3's track continues into 4; 5 starts a track of its own
    tracked = links_to_tracked(ref.labels, links)
    assert id_switch_causes(ref, tracked)["kept"] == 6  # every continuation kept: MOTA 1.0
    assert division_outcomes(ref, tracked) == {"found": 0, "mother continues": 1, "other": 0, "result divisions": 0}


def test_label_images_of_other_shapes_are_rejected():
    ref = _reference()
    other = TrackedMasks(ref.labels[:, :, :20], np.array([[1, 0, 2, 0], [2, 0, 2, 0], [3, 0, 0, 0], [4, 1, 2, 3], [5, 1, 2, 3]]))
    with pytest.raises(UserError, match=r"reference \(3, 20, 40\) and result \(3, 20, 20\) label images differ in shape"):
        id_switch_causes(ref, other)
