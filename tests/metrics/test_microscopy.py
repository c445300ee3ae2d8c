"""Histogram distance, power-spectrum distance, inside/outside-mask statistics and contact contrast."""

from __future__ import annotations

import numpy as np
import pytest

from tgan_aug.errors import UserError
from tgan_aug.metrics.microscopy import (
    MASK_STATS,
    cell_intensity_ks,
    cell_mean_intensities,
    contact_contrast,
    histogram_distance,
    mask_stats,
    mask_stats_distance,
    radial_power_spectrum,
    spectrum_distance,
)

from metric_videos import corrupt

KINDS = ("identical", "noise", "blur", "shuffle", "constant")


def test_histogram_distance_of_a_shift_is_the_shift():
    x = np.random.default_rng(0).uniform(20, 80, size=(3, 16, 16))
    assert histogram_distance(x, x + 10, data_range=(0, 200)) == pytest.approx(0.05, rel=1e-6)
    assert histogram_distance(x, x, data_range=(0, 200)) == 0.0


def test_spectrum_peaks_at_the_pattern_frequency():
    x = np.arange(64)
    stripes = np.tile(np.sin(2 * np.pi * x / 8), (2, 64, 1))  # 0.125 cycles/pixel
    freq, power = radial_power_spectrum(stripes, data_range=(-1, 1), bins=32)
    assert abs(freq[np.argmax(power)] - 0.125) < 0.5 / 32 + 1e-9


def test_mask_stats_hand_case():
    labels = np.zeros((2, 8, 8), np.uint16)
    labels[:, 2:6, 2:6] = 3
    img = np.where(labels > 0, 20.0, 80.0)
    s = mask_stats(img, labels, data_range=(0, 100))
    assert list(s) == list(MASK_STATS)
    assert s["inside_mean"] == pytest.approx(0.2) and s["outside_mean"] == pytest.approx(0.8)
    assert s["inside_std"] == pytest.approx(0.0, abs=1e-6) and s["outside_std"] == pytest.approx(0.0, abs=1e-6)
    assert s["outside_gradient"] > 0  # the cell border
    assert mask_stats_distance(s, s) == 0.0


@pytest.mark.parametrize(
    "name, heavy",
    [("histogram", ("constant",)), ("spectrum", ("constant",)), ("mask", ("shuffle", "constant"))],
)
def test_ranking_identical_mild_heavy(video, name, heavy):
    """Histogram and spectrum ignore frame order by design, so shuffling is out of their scope."""
    imgs, labels = video
    rng = (0, 255)
    ref_stats = mask_stats(imgs, labels, data_range=rng)
    fn = {
        "histogram": lambda f: histogram_distance(imgs, f, data_range=rng),
        "spectrum": lambda f: spectrum_distance(imgs, f, data_range=rng),
        "mask": lambda f: mask_stats_distance(ref_stats, mask_stats(f, labels, data_range=rng)),
    }[name]
    score = {k: fn(corrupt(imgs, k)) for k in KINDS}
    assert score["identical"] == pytest.approx(0.0, abs=1e-12)
    assert min(score["noise"], score["blur"]) > 1e-4
    assert max(score["noise"], score["blur"]) < min(score[k] for k in heavy), score


def test_microscopy_input_errors(video):
    imgs, labels = video
    with pytest.raises(UserError, match="same size"):
        spectrum_distance(imgs, imgs[:, :32], data_range=(0, 255))
    with pytest.raises(UserError, match="same \\(T, Y, X\\)"):
        mask_stats(imgs, labels[:, :10], data_range=(0, 255))
    with pytest.raises(UserError, match="data_range"):
        histogram_distance(imgs, imgs, data_range=(1, 0))


def test_per_cell_intensity_ks_sees_a_narrow_or_shifted_cell_distribution():
    """Cells with the right overall mean but all equally bright (a renderer that ignores per-cell
    variation) differ from real cells; the same cells shifted by a constant differ too; the real
    cells against themselves do not."""
    rng = np.random.default_rng(0)
    labels = np.zeros((3, 40, 40), np.uint16)
    for k in range(16):
        y, x = divmod(k, 4)
        labels[:, 2 + 10 * y : 8 + 10 * y, 2 + 10 * x : 8 + 10 * x] = k + 1
    per_cell = rng.uniform(100, 200, size=17)
    per_cell[0] = 20.0
    real = per_cell[labels].astype(np.float64)
    flat = np.where(labels > 0, per_cell[1:].mean(), 20.0)
    a = cell_mean_intensities(real, labels, data_range=(0, 255))
    assert a.shape == (48,) and np.allclose(np.sort(a)[-3:], per_cell.max() / 255)
    same = cell_intensity_ks(a, cell_mean_intensities(real, labels, data_range=(0, 255)))
    narrow = cell_intensity_ks(a, cell_mean_intensities(flat, labels, data_range=(0, 255)))
    shifted = cell_intensity_ks(a, cell_mean_intensities(real + 60 * (labels > 0), labels, data_range=(0, 255)))
    assert same == 0.0 and narrow > 0.4 and shifted > 0.5
    assert np.isnan(cell_intensity_ks(a, np.zeros(0)))


def test_contact_contrast_sees_a_background_line_between_touching_cells():
    """Two dark cells one pixel apart on a bright background: drawn merged (the gap as dark as the
    cells) the contrast is small (the gap's two end pixels lie in the background), drawn with a
    background line it is much higher; cells that share a
    border count too; a frame without touching cells has nothing to measure."""
    lab = np.zeros((1, 40, 60), np.uint16)
    lab[0, 10:30, 8:28] = 1
    lab[0, 10:30, 29:50] = 2
    merged = np.full(lab.shape, 200.0)
    merged[0, 10:30, 8:50] = 50.0
    line = merged.copy()
    line[0, 10:30, 28] = 200.0
    cc = lambda img, lab=lab: contact_contrast(img, lab, data_range=(0, 255))  # noqa: E731
    assert abs(cc(merged)) < 0.15
    assert cc(line) > 0.3
    shared = lab.copy()
    shared[0, 10:30, 28] = 2  # the cells share a border: no gap pixel, border pixels only
    assert abs(cc(merged, shared)) < 0.15 and cc(line, shared) > 0.3
    lineage = np.array([[1, 0, 0, 0], [2, 0, 0, 0]])
    assert cc(line, lab) == contact_contrast(line, lab, data_range=(0, 255), lineage=lineage, pairs="others")
    assert np.isnan(contact_contrast(line, lab, data_range=(0, 255), lineage=lineage, pairs="sisters"))
    apart = lab.copy()
    apart[0, :, 29:32] = 0  # four pixels apart: no contact
    assert np.isnan(cc(merged, apart))
    assert np.isnan(cc(np.full(lab.shape, 7.0)))  # no contrast between cells and background
    with pytest.raises(UserError, match="same"):
        contact_contrast(merged, lab[:, :20], data_range=(0, 255))
