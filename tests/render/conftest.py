"""A tiny merged checkpoint (random weights, ModelConfig preset 'tiny') in the training format."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch


def make_tiny_checkpoint(path, *, dtype: str = "uint16", seed: int = 0, perturb: bool = False, quantiles=None,
                         **model_flags):
    """quantiles: training intensity quantiles to store (``ImageStats.quantiles``; default none, as in
    checkpoints made before training stored them); perturb: add noise to every weight (zero-initialised gates would hide a dependence on an
    input); model_flags: ModelConfig overrides (e.g. use_background=False). The weights start from
    StyleGAN2's initialisation (style and noise act at once), standing in for a trained model whose
    style and noise matter; the default initialisation would make every seed render alike."""
    from tgan_aug.models import LowResGenerator, ModelConfig, SuperResGenerator
    from tgan_aug.training.checkpoint import save_checkpoint
    from tgan_aug.training.data import ImageStats

    torch.manual_seed(seed)
    cfg = ModelConfig.preset("tiny", **{"style_init": 1.0, "noise_init": 0.1, **model_flags})
    lo, sr = LowResGenerator(cfg), SuperResGenerator(cfg)
    if perturb:
        with torch.no_grad():
            for p in list(lo.parameters()) + list(sr.parameters()):
                p.add_(torch.randn(p.shape) * 0.2)
    rng = np.random.default_rng(seed)
    bgs = {"a": torch.from_numpy(rng.uniform(-1, 0, (80, 90)).astype(np.float32)),
           "b": torch.from_numpy(rng.uniform(0, 1, (70, 100)).astype(np.float32))}
    stats = ImageStats(lo=100.0, hi=3000.0, dtype=dtype, intensity_range=(50.0, 4000.0), scale=1.0,
                       quantiles=None if quantiles is None else tuple(float(v) for v in quantiles))
    ckpt = {
        "stage": "merged",
        "config": {"model": dataclasses.asdict(cfg)},
        "weights": {"lowres": {"G_ema": lo.state_dict()}, "superres": {"G_ema": sr.state_dict()}},
        "optimizers": {},
        "step": 0,
        "data": {"stats": stats.to_dict(), "backgrounds": bgs, "source": "random"},
    }
    return save_checkpoint(path, ckpt)


@pytest.fixture
def tiny_ckpt_factory():
    """make_tiny_checkpoint itself, for tests that need other model flags."""
    return make_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture
def seeded_renders():
    """``seeded_renders(masks_store, a, b, c)``: see :func:`_seeded_renders`."""
    return _seeded_renders


def _seeded_renders(masks_store, same_a, same_b, other):
    """Renders of ``masks_store`` with seeds (s, s, s'): the first two are bit-identical, the third
    differs, labels and lineage pass through unchanged. Yields (name, source masks, first render)."""
    from tgan_aug.io import list_store_sequences, read_store

    for name in list_store_sequences(masks_store):
        src = read_store(masks_store, name)
        a, b, c = (read_store(p, name) for p in (same_a, same_b, other))
        np.testing.assert_array_equal(a.images, b.images)
        assert not np.array_equal(a.images, c.images)
        np.testing.assert_array_equal(a.masks.labels, src.labels)
        np.testing.assert_array_equal(a.masks.lineage, src.lineage)
        yield name, src, a
