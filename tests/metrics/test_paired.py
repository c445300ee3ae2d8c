"""SSIM and PSNR: exact values on hand cases, protocols, and clear errors for unpaired input."""

from __future__ import annotations

import numpy as np
import pytest

from tgan_aug.errors import UserError
from tgan_aug.metrics.paired import PSNR_CAP_DB, psnr_frames, ssim_frames

from metric_videos import corrupt


def test_ssim_of_identical_is_one(video):
    imgs, _ = video
    np.testing.assert_allclose(ssim_frames(imgs, imgs, data_range=(0, 255)), 1.0)


def test_psnr_matches_formula_on_hand_case():
    real = np.zeros((2, 4, 4), np.float32)
    fake = real.copy()
    fake[0, 0, 0] = 10.0  # MSE = 100 / 16
    fake[1] += 2.0  # MSE = 4
    got = psnr_frames(real, fake, data_range=(0.0, 100.0))
    np.testing.assert_allclose(got, [10 * np.log10(100**2 / (100 / 16)), 10 * np.log10(100**2 / 4)])
    assert psnr_frames(real, real, data_range=(0, 100))[0] == pytest.approx(PSNR_CAP_DB)


def test_data_range_is_the_recorded_range_not_the_frame_range():
    real = np.full((1, 8, 8), 100, np.uint16)
    real[0, :4] = 110
    fake = real + np.uint16(1)  # MSE = 1
    assert psnr_frames(real, fake, data_range=(0, 1000))[0] == pytest.approx(60.0)
    assert psnr_frames(real, fake, data_range=(0, 10))[0] == pytest.approx(20.0)


def test_paper_minmax_hides_a_brightness_error_strict_does_not(video):
    imgs, _ = video
    darker = (imgs.astype(np.float64) * 0.8).astype(np.float32)
    strict = ssim_frames(imgs, darker, data_range=(0, 255)).mean()
    minmax = ssim_frames(imgs, darker, data_range=(0, 255), protocol="paper-minmax").mean()
    assert minmax > 0.98 > strict
    assert psnr_frames(imgs, darker, data_range=(0, 255), protocol="paper-minmax").mean() > psnr_frames(imgs, darker, data_range=(0, 255)).mean() + 10


@pytest.mark.parametrize("fn", [ssim_frames, psnr_frames])
def test_ranking_identical_mild_heavy(video, fn):
    imgs, _ = video
    score = {k: fn(imgs, corrupt(imgs, k), data_range=(0, 255)).mean() for k in ("identical", "noise", "blur", "shuffle", "constant")}
    assert score["identical"] > max(score["noise"], score["blur"]), score
    assert min(score["noise"], score["blur"]) > max(score["shuffle"], score["constant"]), score


@pytest.mark.parametrize("fn", [ssim_frames, psnr_frames])
def test_clear_errors_for_mismatched_videos(video, fn):
    imgs, _ = video
    with pytest.raises(UserError, match=r"same number of frames: REAL has 16, FAKE has 15"):
        fn(imgs, imgs[:15], data_range=(0, 255))
    with pytest.raises(UserError, match=r"same size.*\(64, 64\).*\(64, 60\)"):
        fn(imgs, imgs[:, :, :60], data_range=(0, 255))
    with pytest.raises(UserError, match=r"\(T, Y, X\)"):
        fn(imgs[0], imgs[0], data_range=(0, 255))
    with pytest.raises(UserError, match="low < high"):
        fn(imgs, imgs, data_range=(5, 5))
    with pytest.raises(UserError, match="protocol"):
        fn(imgs, imgs, data_range=(0, 255), protocol="minmax")
