"""VGG19-perceptual (LPIPS-style, unit weights) from a generated local weights file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tgan_aug.errors import UserError
from tgan_aug.features.vgg19 import VGG19Features
from tgan_aug.metrics.perceptual import vgg19_perceptual_frames

from metric_videos import corrupt


@pytest.fixture(scope="module")
def vgg_weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save(VGG19Features(layers=("relu5_4",)).state_dict(), path)  # features.N.* keys, random values
    return path


def test_vgg19_perceptual_ranks_and_is_zero_for_identical(video, vgg_weights):
    torch.set_num_threads(1)
    imgs = video[0][:4, :32, :32]
    score = {k: vgg19_perceptual_frames(imgs, corrupt(imgs, k), weights=vgg_weights, data_range=(0, 255)).mean() for k in ("identical", "noise", "constant")}
    assert score["identical"] == pytest.approx(0.0, abs=1e-7)
    assert 0 < score["noise"] < score["constant"], score


def test_vgg19_perceptual_errors(video, vgg_weights, tmp_path):
    imgs = video[0][:2, :16, :16]
    with pytest.raises(UserError, match="same number of frames"):
        vgg19_perceptual_frames(imgs, imgs[:1], weights=vgg_weights, data_range=(0, 255))
    with pytest.raises(UserError, match="does not exist"):
        vgg19_perceptual_frames(imgs, imgs, weights=tmp_path / "none.pth", data_range=(0, 255))
    out = vgg19_perceptual_frames(imgs, (imgs * 0.5).astype(np.uint8), weights=vgg_weights, data_range=(0, 255), protocol="paper-minmax")
    assert out.shape == (2,)
