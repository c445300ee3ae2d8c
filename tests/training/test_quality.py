"""The training quality check on arrays: real frames pass, blank / noise / inverted renderings do not."""

from __future__ import annotations

import numpy as np
import pytest

from tgan_aug.training.data import split_holdout
from tgan_aug.training.plots import sample_grid
from tgan_aug.training.quality import QualityThresholds, assess, measure, otsu_segment, polarity


@pytest.fixture
def video(tracked_factory):
    """(images in [-1, 1], masks bool): bright cells on a structured dim background with noise."""
    lab = tracked_factory(frames=6, height=48, width=64, seed=2).labels
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:48, :64]
    bg = -0.6 + 0.15 * np.sin(yy / 7.0) * np.cos(xx / 11.0)
    img = bg[None] + 0.05 * rng.standard_normal(lab.shape) + 1.2 * (lab > 0)
    return np.clip(img, -1, 1).astype(np.float32), lab > 0


def test_real_frames_pass(video):
    img, masks = video
    report = assess(measure(img, img, masks))
    assert report.passed and not report.no_cells
    assert report.values["dice"] == pytest.approx(report.values["dice_real"]) and report.values["dice_real"] > 0.9
    assert report.values["contrast_ratio"] == pytest.approx(1.0) and report.values["w1"] == pytest.approx(0.0, abs=1e-9)
    assert report.verdict().startswith("PASSED: Dice")


@pytest.mark.parametrize("kind", ["constant", "noise", "background only"])
def test_renderings_without_cells_are_no_cells(video, kind):
    img, masks = video
    rng = np.random.default_rng(1)
    fake = {"constant": np.full_like(img, -0.5),
            "noise": np.clip(-0.5 + 0.3 * rng.standard_normal(img.shape), -1, 1).astype(np.float32),
            "background only": np.where(masks, -0.6, img)}[kind]
    report = assess(measure(fake, img, masks))
    assert not report.passed and report.no_cells
    assert report.verdict().startswith("NOT PASSED (the model draws no cells)")
    assert "Train longer" in report.verdict()


def test_inverted_polarity_fails_with_polarity_advice(video):
    img, masks = video
    report = assess(measure(-img, img, masks))
    assert not report.passed and not report.no_cells
    assert [name for name, _ in report.failed][0] == "polarity"
    assert "deepsea_invert=true" in report.verdict() and "brighter" in report.verdict()


def test_dim_cells_fail_on_contrast_and_intensity(video):
    img, masks = video
    fake = np.where(masks, img - 0.72, img)  # cells drawn, but at 0.4 x the real contrast
    report = assess(measure(fake, img, masks))
    names = [name for name, _ in report.failed]
    assert not report.passed and not report.no_cells
    assert "contrast" in names and "cell_mean" in names
    assert "background_mean" not in names
    # the thresholds are the rule: loosening them passes the same rendering
    loose = QualityThresholds(contrast_range=(0.2, 2.0), max_mean_shift=0.5, max_w1=0.5)
    assert assess(measure(fake, img, masks), loose).passed


def test_polarity_and_otsu_follow_the_data(video):
    img, masks = video
    assert polarity(img, masks) == 1 and polarity(-img, masks) == -1
    seg = otsu_segment(-img, -1)  # dark cells segmented below the threshold
    assert (seg & masks).sum() / masks.sum() > 0.9
    assert not otsu_segment(np.zeros((2, 8, 8)), 1).any()


def test_background_subtraction_makes_uneven_illumination_segmentable(video):
    """A strong vignette (as in PhC-C2DL-PSC) hides the cells from a global Otsu threshold; subtracting
    the reference background the generator is given brings them back."""
    img, masks = video
    yy, xx = np.mgrid[:48, :64]
    vignette = (1.4 * np.exp(-((yy - 24) ** 2 + (xx - 32) ** 2) / 300.0) - 0.9).astype(np.float32)
    lit = np.clip(0.5 * img + vignette[None], -1, 1)
    without = measure(lit, lit, masks)["dice_real"]
    with_bg = measure(lit, lit, masks, [vignette])["dice_real"]
    assert without < 0.6 and with_bg > 0.9


def test_measure_rejects_mismatched_shapes(video):
    img, masks = video
    with pytest.raises(ValueError, match="matching"):
        measure(img[:2], img, masks)
    with pytest.raises(ValueError, match="backgrounds"):
        measure(img, img, masks, [np.zeros((4, 4))])


def test_split_holdout_keeps_the_last_frames_back():
    images = np.arange(20 * 2 * 2).reshape(20, 2, 2)
    train, held = split_holdout([("a", images, images > 3)], 0.15)
    assert train[0][1].shape[0] == 17 and held[0][1].shape[0] == 3
    assert (held[0][1] == images[17:]).all() and held[0][0] == "a"
    assert split_holdout([("a", images, images)], 0.0) == ([("a", images, images)], [])
    from tgan_aug.errors import UserError

    with pytest.raises(UserError, match="holdout"):
        split_holdout([("short", images[:2], images[:2])], 0.5)


def test_sample_grid_title_adds_a_line():
    m = np.zeros((1, 2, 16, 16))
    plain = sample_grid(m, m, m)
    titled = sample_grid(m, m, m, title="NOT PASSED: Dice 0.1")
    assert titled.shape[0] == plain.shape[0] + 22 and (titled[:22] < 255).any()
