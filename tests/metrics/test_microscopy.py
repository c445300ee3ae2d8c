"""Histogram distance, power-spectrum distance and inside/outside-mask statistics."""

from __future__ import annotations

import numpy as np
import pytest

from tgan_aug.errors import UserError
from tgan_aug.metrics.microscopy import (
    MASK_STATS,
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
