"""Targets, post-processing, scores and the result-folder writer (no network)."""

from __future__ import annotations

import numpy as np
import pytest

from tgan_aug.errors import UserError
from tgan_aug.segment.config import PostprocessConfig, SegmenterConfig
from tgan_aug.segment.data import resolve_polarity, segmentation_targets, training_crop
from tgan_aug.segment.evaluate import segmentation_scores
from tgan_aug.segment.predict import _tiles, instances_from_probabilities, write_segmentation

from .conftest import make_discs


def _two_touching() -> np.ndarray:
    lab = np.zeros((20, 30), np.uint16)
    lab[5:15, 3:13] = 1
    lab[5:15, 13:23] = 2  # shares the column boundary 12|13 with cell 1
    return lab


def test_edge_band_separates_touching_cells_only():
    lab = _two_touching()
    lab[2:4, 26:29] = 3  # a lone cell: no edge
    fg, edge = segmentation_targets(lab, edge_width=1)
    assert edge[5:15, 12:14].all() and not edge[:, :11].any() and not edge[:, 15:].any()
    assert not (fg & edge).any() and (fg | edge)[lab > 0].all()
    assert fg[2:4, 26:29].all()
    from scipy import ndimage as ndi

    assert ndi.label(fg)[1] == 3  # components of the foreground = cells
    fg0, edge0 = segmentation_targets(lab, edge_width=0)
    assert not edge0.any() and (fg0 == (lab > 0)).all()


def test_postprocessing_labels_components_and_grows_over_edges():
    lab = _two_touching()
    fg, edge = segmentation_targets(lab, edge_width=1)
    out = instances_from_probabilities(fg.astype(np.float32), edge.astype(np.float32), config=PostprocessConfig(min_size=5), expand=1)
    assert out.dtype == np.uint16 and out.max() == 2
    assert segmentation_scores(lab, out)["SEG"] > 0.9
    # one merged blob of two discs: edges mode keeps it whole, watershed splits it
    yy, xx = np.mgrid[:40, :60]
    blob = ((yy - 20) ** 2 + (xx - 20) ** 2 < 100) | ((yy - 20) ** 2 + (xx - 38) ** 2 < 100)
    zero = np.zeros(blob.shape, np.float32)
    assert instances_from_probabilities(blob.astype(np.float32), zero, config=PostprocessConfig(), expand=0).max() == 1
    split = instances_from_probabilities(blob.astype(np.float32), zero, config=PostprocessConfig(split="watershed"), expand=0)
    assert split.max() == 2
    rod = np.zeros((30, 80), np.float32)  # a bacterium: one flat distance ridge, one object
    rod[11:19, 10:70] = 1
    assert instances_from_probabilities(rod, np.zeros_like(rod), config=PostprocessConfig(split="watershed"), expand=0).max() == 1
    # small objects are dropped
    speck = np.zeros((20, 20), np.float32)
    speck[2:4, 2:4] = 1
    assert instances_from_probabilities(speck, np.zeros_like(speck), config=PostprocessConfig(min_size=5), expand=0).max() == 0


def test_scores_perfect_partial_and_shape_mismatch():
    gt = make_discs().labels
    perfect = segmentation_scores(gt, gt)
    assert perfect["SEG"] == pytest.approx(1.0) and perfect["F1"] == 1.0 and perfect["Dice"] == 1.0
    missing = gt.copy()
    missing[missing == 1] = 0
    part = segmentation_scores(gt, missing)
    assert part["Recall"] == pytest.approx(4 / 5) and part["Precision"] == 1.0 and part["SEG"] == pytest.approx(4 / 5)
    shifted = np.roll(gt, 4, axis=2)
    assert segmentation_scores(gt, shifted)["SEG"] < 0.7
    with pytest.raises(UserError, match="same"):
        segmentation_scores(gt, gt[:, :10])


def test_result_folder_is_valid_ctc_and_reads_back(tmp_path):
    from tgan_aug.trackers.ctc_results import read_ctc_results
    from tgan_aug.trackers.metrics import check_result_folder

    per_frame = np.stack([make_discs().labels[0]] * 3)  # same ids in every frame: not tracks
    res = write_segmentation(tmp_path / "SEG", per_frame)
    check_result_folder(res)  # py-ctcmetrics' own validity checks
    back = read_ctc_results(res)
    assert len(back.lineage) == 15 and (back.lineage[:, 1] == back.lineage[:, 2]).all()
    assert ((back.labels > 0) == (per_frame > 0)).all()
    with pytest.raises(UserError, match="--overwrite"):
        write_segmentation(tmp_path / "SEG", per_frame)


def test_tiles_cover_every_pixel_once():
    for n in (50, 512, 700, 1305):
        keep = np.zeros(n, int)
        for r0, r1, k0, k1 in _tiles(n, 512, 32):
            assert 0 <= r0 <= k0 < k1 <= r1 <= n and r1 - r0 == min(n, 512)
            keep[k0:k1] += 1
        assert (keep == 1).all()


def test_polarity_and_crops():
    dark, bright = make_discs(), make_discs(bright=True)
    assert resolve_polarity("auto", dark.images, dark.labels) is False
    assert resolve_polarity("auto", bright.images, bright.labels) is True
    assert resolve_polarity(False, bright.images, bright.labels) is False
    cfg = SegmenterConfig.preset("tiny", crop=32, scale=0.5)
    x, fg, edge = training_crop(dark.images[0] / 255.0, dark.labels[0].astype(np.int32), config=cfg, rng=np.random.default_rng(0))
    assert x.shape == (1, 32, 32) and fg.shape == edge.shape == (32, 32)
    assert -1 <= float(x.min()) and float(x.max()) <= 1 and fg.dtype.is_floating_point is False


@pytest.mark.parametrize("changes, message", [
    ({"crop": 30}, "--crop"), ({"scale": 0}, "--scale"), ({"arch": "resnet"}, "--arch"), ({"invert": "maybe"}, "--invert"),
])
def test_config_errors_name_the_option(changes, message):
    with pytest.raises(UserError, match=message):
        SegmenterConfig.preset("tiny", **changes)
    with pytest.raises(UserError, match="unknown"):
        SegmenterConfig.from_dict({"crops": 3})
