"""Metrics on DeepSea features: perceptual distance, FID/KID per frame and per clip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tgan_aug.errors import UserError
from tgan_aug.metrics.deepsea_pass import deepsea_pass, input_range_from, lpips_style
from tgan_aug.metrics.distribution import clip_descriptors, frechet_distance, kernel_distance

from metric_videos import corrupt

KINDS = ("identical", "noise", "blur", "shuffle", "constant")


@pytest.fixture(scope="module")
def passes(video):
    from tgan_aug.features.deepsea import DeepSeaFeatures

    torch.set_num_threads(1)
    imgs, _ = video
    feats = DeepSeaFeatures()
    rng = input_range_from(imgs)
    return {k: deepsea_pass(imgs, corrupt(imgs, k), input_range=rng, paired=True, features=feats) for k in KINDS}


def _scores(passes, fn):
    return {k: fn(p) for k, p in passes.items()}


def _clip(p, which):
    return clip_descriptors(getattr(p, f"{which}_frames"), getattr(p, f"{which}_change"), length=4)


METRICS = {
    "perceptual": (lambda p: float(p.perceptual.mean()), ("shuffle", "constant")),
    "FID": (lambda p: frechet_distance(p.real_frames, p.fake_frames), ("constant",)),  # order-free
    "KID": (lambda p: kernel_distance(p.real_frames, p.fake_frames)[0], ("constant",)),
    "FD-clip": (lambda p: frechet_distance(_clip(p, "real"), _clip(p, "fake")), ("shuffle", "constant")),
    "KID-clip": (lambda p: kernel_distance(_clip(p, "real"), _clip(p, "fake"))[0], ("shuffle", "constant")),
}


@pytest.mark.parametrize("name", list(METRICS))
def test_ranking_identical_mild_heavy(passes, name):
    fn, heavy = METRICS[name]
    s = _scores(passes, fn)
    assert s["identical"] < min(s["noise"], s["blur"]), s
    assert max(s["noise"], s["blur"]) < min(s[k] for k in heavy), s


def test_identical_sets_are_at_zero(passes):
    p = passes["identical"]
    assert float(p.perceptual.max()) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(p.real_frames, p.fake_frames) == pytest.approx(0.0, abs=1e-6)
    kid_self = kernel_distance(p.real_frames, p.fake_frames)[0]
    assert abs(kid_self) < 0.05 * kernel_distance(p.real_frames, passes["constant"].fake_frames)[0]


def test_pass_shapes(passes, video):
    p = passes["noise"]
    t = video[0].shape[0]
    assert p.real_frames.shape == (t, 448) and p.real_change.shape == (t - 1, 448) and p.perceptual.shape == (t,)


def test_unpaired_pass_accepts_different_lengths_and_sizes(video):
    imgs, _ = video
    p = deepsea_pass(imgs, imgs[:5, :48, :40], input_range=(0, 255), paired=False, scale=0.5)
    assert p.perceptual is None and p.fake_frames.shape == (5, 448) and p.fake_change.shape == (4, 448)
    with pytest.raises(UserError, match="same number of frames"):
        deepsea_pass(imgs, imgs[:5], input_range=(0, 255), paired=True)


def test_lpips_style_is_zero_for_equal_and_scale_invariant():
    a = [torch.rand(2, 8, 5, 5)]
    assert torch.allclose(lpips_style(a, a), torch.zeros(2))
    assert torch.allclose(lpips_style(a, [a[0] * 3]), torch.zeros(2), atol=1e-6)
    assert (lpips_style(a, [torch.rand(2, 8, 5, 5)]) > 0).all()


def test_input_range_is_robust():
    x = np.zeros((2, 50, 50))
    x[0, 0, 0] = 1000  # a hot pixel
    x[1] = 10
    lo, hi = input_range_from(x)
    assert lo == 0 and hi == 10
    assert input_range_from(np.full((2, 3, 3), 7.0)) == (7.0, 8.0)
