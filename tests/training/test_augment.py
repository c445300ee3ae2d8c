"""Vanilla augmentation (same transform on every frame and mask) and DiffAugment (same on real and fake)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tgan_aug.training.augment import VANILLA_OPS, apply_diffaug, sample_diffaug, vanilla_augment

GEOMETRIC = ("hflip", "vflip", "rot", "crop")


def _clip(h=24, w=24, n=4):
    m = np.zeros((n, h, w), bool)
    m[:, 3:9, 4:14] = True
    m[:, 15:20, 2:6] = True
    return 2.0 * m - 1.0, m, np.full((h, w), -1.0, np.float32)


@pytest.mark.parametrize("seed", range(6))
def test_same_transform_on_every_frame_and_mask(seed):
    images, masks, bg = _clip()
    rng = np.random.default_rng(seed)
    ops = tuple(o for o in VANILLA_OPS if o != "noise")  # noise is drawn per pixel by design
    x, m, b = vanilla_augment(images, masks, bg, rng=rng, ops=ops, p_op=0.7)
    assert x.shape == images.shape and m.shape == masks.shape and b.shape == bg.shape
    for t in range(1, x.shape[0]):  # identical input frames stay identical
        np.testing.assert_array_equal(x[t], x[0])
        np.testing.assert_array_equal(m[t], m[0])


@pytest.mark.parametrize("seed", range(6))
def test_geometry_moves_images_and_masks_together(seed):
    images, masks, bg = _clip(h=24, w=32)
    x, m, _ = vanilla_augment(images, masks, bg, rng=np.random.default_rng(seed), ops=GEOMETRIC, p_op=0.9)
    assert m.any()
    np.testing.assert_array_equal(x > 0, m)


def test_rot90_only_for_square_and_changes_something():
    images, masks, bg = _clip(h=24, w=32)
    changed = False
    for seed in range(10):
        x, m, _ = vanilla_augment(images, masks, bg, rng=np.random.default_rng(seed), ops=("rot",), p_op=1.0)
        assert x.shape == images.shape
        changed |= not np.array_equal(m, masks)
    assert changed


def test_diffaug_identical_for_real_and_fake_given_seed():
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    p1 = sample_diffaug(3, 16, 16, p=1.0, generator=g1)
    p2 = sample_diffaug(3, 16, 16, p=1.0, generator=g2)
    assert p1.order == p2.order and torch.equal(p1.translation, p2.translation)
    x = torch.rand(3, 4, 16, 16) * 2 - 1
    assert torch.equal(apply_diffaug(x, p1, image_channels=2), apply_diffaug(x.clone(), p2, image_channels=2))


def test_diffaug_changes_inputs_and_keeps_masks_binary():
    x = torch.rand(2, 4, 16, 16) * 2 - 1
    x[:, 2:] = (x[:, 2:] > 0).float()
    changed = 0
    for seed in range(8):
        p = sample_diffaug(2, 16, 16, p=1.0, generator=torch.Generator().manual_seed(seed))
        y = apply_diffaug(x, p, image_channels=2)
        assert set(torch.unique(y[:, 2:]).tolist()) <= {0.0, 1.0}
        changed += int(not torch.equal(y, x))
    assert changed >= 6
    off = sample_diffaug(2, 16, 16, p=0.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(apply_diffaug(x, off, image_channels=2), x)


def test_diffaug_is_differentiable():
    x = (torch.rand(2, 2, 16, 16) * 2 - 1).requires_grad_(True)
    p = sample_diffaug(2, 16, 16, p=1.0, generator=torch.Generator().manual_seed(1))
    p.order = ["brightness", "saturation", "contrast", "translation", "cutout"]
    apply_diffaug(x, p, image_channels=1).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
