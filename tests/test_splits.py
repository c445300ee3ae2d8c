"""Cutting tracked videos into experiment parts: frames, boxes, time split, cell region, quadrant folds."""

from __future__ import annotations

import numpy as np
import pytest

from masksynth.tracked import TrackedVideo, validate_tracked
from tgan_aug.errors import UserError
from tgan_aug.splits import cell_box, cell_frames, fold_boxes, grow_box, split_frames, sub_video


def _video(tracked_factory, **kw) -> TrackedVideo:
    masks = tracked_factory(**kw)
    images = (masks.labels > 0).astype(np.float32) + np.arange(masks.n_frames, dtype=np.float32)[:, None, None]
    return TrackedVideo(masks, images, intensity_range=(0.0, 10.0), provenance={"source": "made here"})


def test_sub_video_cuts_frames_and_box_and_repairs_the_lineage(tracked_factory):
    video = _video(tracked_factory, frames=6, height=48, width=64)
    part = sub_video(video, t0=2, t1=5, box=(0, 20, 10, 40), what="a corner")
    assert part.images.shape == part.labels.shape == (3, 20, 30)
    assert np.array_equal(part.images, video.images[2:5, 0:20, 10:40]) and part.images.flags.c_contiguous
    validate_tracked(part.labels, part.lineage)  # CTC rules hold after the cut
    assert part.lineage[:, 1].min() == 0  # tracks restart at the new frame 0
    assert part.provenance == {"source": "made here", "subset": "a corner", "frames": [2, 5], "box_yyxx": [0, 20, 10, 40]}
    assert part.intensity_range == video.intensity_range
    whole = sub_video(video)
    assert np.array_equal(whole.labels, video.labels) and whole.provenance["box_yyxx"] is None


def test_time_split_and_cell_counts():
    assert split_frames(50) == 35 and split_frames(53) == 37  # PSC/02 and bacteria-phc/01: test frames 35- and 37-
    assert split_frames(10, test_fraction=0.5) == 5
    labels = np.zeros((3, 8, 8), np.uint16)
    labels[0, :2, :2], labels[1, :2, :2], labels[1, 5:, 5:] = 1, 1, 2
    assert cell_frames(labels) == 3


def test_cell_box_and_grow_box_stay_inside_the_frame():
    labels = np.zeros((2, 100, 120), np.uint16)
    labels[0, 10:20, 30:40] = 1
    labels[1, 50:60, 90:118] = 2
    assert cell_box(labels, margin=0) == (10, 60, 30, 118)
    assert cell_box(labels, margin=16) == (0, 76, 14, 120)  # clipped at the frame
    assert grow_box((10, 20, 100, 110), (100, 120), (30, 40)) == (10, 40, 80, 120)  # shifted back inside
    assert grow_box((0, 50, 0, 50), (100, 120), (30, 40)) == (0, 50, 0, 50)  # big enough: unchanged
    with pytest.raises(UserError, match="hold no cells"):
        cell_box(np.zeros((2, 8, 8), np.uint16))


def test_fold_boxes_are_the_four_quadrants_of_the_cell_region():
    labels = np.zeros((3, 400, 500), np.uint16)
    labels[:, 50:60, 60:70] = 1  # cells spread so that the centre of mass is inside the region
    labels[:, 300:310, 400:410] = 2
    labels[:, 100:110, 380:390] = 3
    labels[:, 280:290, 90:100] = 4
    boxes = fold_boxes(labels, margin=10, min_size=(20, 20))
    _, ys, xs = np.nonzero(labels)
    cy, cx = int(round(ys.mean())), int(round(xs.mean()))
    assert boxes == [(40, cy, 50, cx), (40, cy, cx, 420), (cy, 320, 50, cx), (cy, 320, cx, 420)]
    # a quadrant smaller than min_size grows away from the split, inside the frame
    grown = fold_boxes(labels, margin=10, min_size=(200, 250))
    for y0, y1, x0, x1 in grown:
        assert y1 - y0 >= 200 and x1 - x0 >= 250 and 0 <= y0 and y1 <= 400 and 0 <= x0 and x1 <= 500
    assert grown[0][:2] == (0, 200) and grown[3][:2] == (cy, cy + 200)  # top: stopped by the frame edge, so past the split
    with pytest.raises(UserError, match="too small for folds of at least"):
        fold_boxes(labels, min_size=(500, 500))


def test_fold_box_at_the_far_frame_edge_shifts_back_inside_instead_of_failing():
    """Cells reaching the bottom-right corner: the bottom/right quadrants cannot grow away from the
    split, so they shift back across it (this raised 'too small' although the frame is big enough)."""
    labels = np.zeros((2, 300, 300), np.uint16)
    labels[:, 120:130, 120:130] = 1
    labels[:, 270:300, 270:300] = 2
    boxes = fold_boxes(labels, margin=10, min_size=(144, 144))
    for y0, y1, x0, x1 in boxes:
        assert y1 - y0 >= 144 and x1 - x0 >= 144
        assert 0 <= y0 and y1 <= 300 and 0 <= x0 and x1 <= 300
    assert boxes[3] == (156, 300, 156, 300)  # the bottom-right quadrant ends at the frame edge
