"""Fréchet and kernel distances on feature vectors, and clip descriptors."""

from __future__ import annotations

import numpy as np
import pytest

from tgan_aug.errors import UserError
from tgan_aug.metrics.distribution import clip_descriptors, frechet_distance, kernel_distance


def test_frechet_of_a_set_with_itself_is_zero_even_when_singular():
    x = np.random.default_rng(0).normal(size=(10, 40))  # N < D: singular covariance
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_matches_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4000, 2))
    b = rng.normal(size=(4000, 2)) * [2.0, 0.5] + [1.0, -3.0]
    # exact for the sample moments: |mu|^2 + sum (s_a - s_b)^2 with s the sample std per axis (diagonal covariances)
    sa, sb = a.std(0, ddof=1), b.std(0, ddof=1)
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + ((sa - sb) ** 2).sum()
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.02)
    assert frechet_distance(a, b) == pytest.approx(1 + 9 + 1 + 0.25, rel=0.05)


def test_frechet_and_kid_grow_with_shift():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(200, 8))
    b = rng.normal(size=(200, 8))
    fds = [frechet_distance(a, b + s) for s in (0.0, 0.3, 1.0)]
    kids = [kernel_distance(a, b + s, subsets=5, subset_size=100)[0] for s in (0.0, 0.3, 1.0)]
    assert fds[0] < fds[1] < fds[2]
    assert kids[0] < kids[1] < kids[2]
    assert abs(kids[0]) < 0.05 * kids[2]


def test_kid_same_set_near_zero_and_deterministic():
    x = np.random.default_rng(3).normal(size=(200, 5))
    m, s = kernel_distance(x, x)  # unbiased estimator: slightly negative, O(1/N), for the same sample
    shifted = kernel_distance(x, x + 1.0)[0]
    assert abs(m) < 0.1 * shifted and s == 0.0
    y = np.random.default_rng(4).normal(size=(300, 5))
    assert kernel_distance(x, y, subsets=4, subset_size=20, seed=7) == kernel_distance(x, y, subsets=4, subset_size=20, seed=7)


def test_feature_validation():
    with pytest.raises(UserError, match=r"\(N, D\)"):
        frechet_distance(np.zeros(5), np.zeros((5, 1)))
    with pytest.raises(UserError, match="at least 2"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(UserError, match="dimensions differ"):
        kernel_distance(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(UserError, match="NaN"):
        frechet_distance(np.full((3, 2), np.nan), np.zeros((3, 2)))


def test_clip_descriptors_shape_and_order_sensitivity():
    t, d = 12, 3
    frames = np.arange(t * d, dtype=float).reshape(t, d)
    change = np.ones((t - 1, d))
    desc = clip_descriptors(frames, change, length=4)
    assert desc.shape == (5, 2 * d)  # starts 0, 2, 4, 6, 8
    np.testing.assert_allclose(desc[0, :d], frames[:4].mean(0))
    change2 = change.copy()
    change2[0] = 5
    assert not np.allclose(clip_descriptors(frames, change2, length=4), desc)
    with pytest.raises(UserError, match="shorter than one clip"):
        clip_descriptors(frames[:3], change[:2], length=4)
    with pytest.raises(UserError, match=">= 2"):
        clip_descriptors(frames, change, length=1)
    with pytest.raises(UserError, match=r"\(T-1, D\)"):
        clip_descriptors(frames, change[:5], length=4)


@pytest.mark.parametrize("n, m, d", [(10, 12, 40), (60, 50, 8), (50, 50, 50)])
def test_frechet_sample_space_and_feature_space_agree(n, m, d):
    """The (N, M) shortcut and the (D, D) formula give the same value (both branches exercised)."""
    from tgan_aug.metrics.distribution import _sqrtm_psd

    rng = np.random.default_rng(n + d)
    a, b = rng.normal(size=(n, d)), rng.normal(size=(m, d)) * 1.5 + 0.2
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = _sqrtm_psd(sa)
    ref = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(sa) + np.trace(sb) - 2 * np.sqrt(np.clip(np.linalg.eigvalsh(root @ sb @ root), 0, None)).sum()
    assert frechet_distance(a, b) == pytest.approx(ref, rel=1e-6)
