"""Warping error and per-cell flicker along tracks."""

from __future__ import annotations

import numpy as np
import pytest

from tgan_aug.errors import UserError
from tgan_aug.metrics._checks import log_ratio
from tgan_aug.metrics.temporal import cell_mean_intensities, track_flicker, warping_errors

from metric_videos import corrupt


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_static_sequence_has_zero_warping_error(video, method):
    imgs, _ = video
    static = np.repeat(imgs[:1], 4, axis=0)
    np.testing.assert_allclose(warping_errors(static, data_range=(0, 255), method=method), 0.0, atol=1e-6)


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_shuffled_frames_have_large_warping_error(video, method):
    imgs, _ = video
    real = warping_errors(imgs, data_range=(0, 255), method=method).mean()
    shuffled = warping_errors(corrupt(imgs, "shuffle"), data_range=(0, 255), method=method).mean()
    assert shuffled > 1.8 * real > 0


def test_flow_explains_pure_translation():
    rng = np.random.default_rng(0)
    from scipy import ndimage as ndi

    base = ndi.gaussian_filter(rng.normal(size=(80, 80)), 2.5)
    base = (base - base.min()) / np.ptp(base) * 200 + 20
    moving = np.stack([np.roll(base, (0, 2 * t), axis=(0, 1)) for t in range(4)])
    # error after motion compensation is far below the raw frame difference
    raw = np.abs(np.diff(moving, axis=0)).mean() / 255
    assert warping_errors(moving, data_range=(0, 255)).mean() < 0.2 * raw


def test_warping_logratio_ranks_identical_mild_heavy(video):
    imgs, _ = video
    we = lambda v: warping_errors(v, data_range=(0, 255)).mean()  # noqa: E731
    ref = we(imgs)
    score = {k: log_ratio(we(corrupt(imgs, k)), ref) for k in ("identical", "noise", "blur", "shuffle", "constant")}
    assert score["identical"] == 0.0
    assert 0 < min(score["noise"], score["blur"])
    assert max(score["noise"], score["blur"]) < min(score["shuffle"], score["constant"]), score


def test_cell_means_and_flicker_hand_case():
    labels = np.zeros((3, 4, 4), np.uint16)
    labels[:, :2, :2] = 1
    labels[1:, 2:, 2:] = 2
    img = np.zeros((3, 4, 4), np.float32)
    img[0, :2, :2], img[1, :2, :2], img[2, :2, :2] = 10, 20, 20  # cell 1: |+10|, |0|
    img[1, 2:, 2:], img[2, 2:, 2:] = 50, 30  # cell 2: |-20|
    means = cell_mean_intensities(img, labels, data_range=(0, 100))
    np.testing.assert_allclose(means[:, 1], [0.1, 0.2, 0.2])
    assert np.isnan(means[0, 2])
    assert track_flicker(img, labels, data_range=(0, 100)) == pytest.approx((0.1 + 0.0 + 0.2) / 3)


def test_flicker_logratio_ranks_identical_mild_heavy(video):
    imgs, labels = video
    ref = track_flicker(imgs, labels, data_range=(0, 255))
    score = {k: log_ratio(track_flicker(corrupt(imgs, k), labels, data_range=(0, 255)), ref) for k in ("identical", "noise", "blur", "shuffle", "constant")}
    assert score["identical"] == 0.0 < min(score["noise"], score["blur"])
    assert max(score["noise"], score["blur"]) < min(score["shuffle"], score["constant"]), score


def test_temporal_input_errors(video):
    imgs, labels = video
    with pytest.raises(UserError, match="at least 2 frames"):
        warping_errors(imgs[:1], data_range=(0, 255))
    with pytest.raises(UserError, match="'dis' or 'farneback'"):
        warping_errors(imgs, data_range=(0, 255), method="lk")
    with pytest.raises(UserError, match="same \\(T, Y, X\\)"):
        track_flicker(imgs, labels[:-1], data_range=(0, 255))
