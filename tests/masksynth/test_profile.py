"""Data profiles (masksynth.profile): packed shape banks, save/load, pixel scale, configs 'like' the data."""

from __future__ import annotations

import numpy as np
import pytest

from masksynth import SynthConfig, synthesize
from masksynth.errors import UserError
from masksynth.profile import (DataProfile, like_config, load_profile, pack_masks, profile_from_masks, save_profile,
                               scale_profile, unpack_masks)
from masksynth.shapes import BaseShape, ShapeBank, procedural_shape
from masksynth.stats import sequence_stats


def test_pack_unpack_round_trip_keeps_every_pixel():
    rng = np.random.default_rng(0)
    masks = [rng.random((h, w)) < 0.5 for h, w in ((1, 1), (3, 7), (9, 8), (13, 5))]
    packed = pack_masks(masks)
    assert packed["bits"].dtype == np.uint8 and packed["bits"].size == sum(-(-m.size // 8) for m in masks)
    back = unpack_masks(packed["bits"], packed["hw"], packed["offsets"])
    assert len(back) == len(masks) and all(np.array_equal(a, b) for a, b in zip(masks, back))


@pytest.fixture(scope="module")
def real_like():
    """A 'real' tracked sequence made by masksynth with elongated (rod) cells that divide."""
    cfg = SynthConfig.preset("mid", frames=10, size=(96, 128), shape_kind="rod", mean_area=120.0, division_rate=0.05,
                             speed_mean=2.5)
    return synthesize(cfg, seed=3)


def test_profile_save_load_round_trip(tmp_path, real_like):
    prof = profile_from_masks(real_like, max_shapes=40, seed=1, meta={"source": "test"})
    assert 0 < len(prof.bank) <= 40
    assert prof.config["mean_area"] == pytest.approx(sequence_stats(real_like)["area"].mean(), rel=0.01)
    extra = {"real_images": np.arange(12, dtype=np.uint16).reshape(1, 3, 4)}
    path = save_profile(tmp_path / "p.npz", prof, extra=extra)
    back = load_profile(path)
    assert all(np.array_equal(a, b) for a, b in zip(prof.bank.masks, back.bank.masks))
    assert back.config == {k: (list(v) if isinstance(v, tuple) else v) for k, v in prof.config.items()}
    assert back.stats == pytest.approx(prof.stats, nan_ok=True)
    assert back.meta["source"] == "test" and np.array_equal(back.meta["arrays"]["real_images"], extra["real_images"])
    assert not list(tmp_path.glob("*.partial*"))
    again = load_profile(save_profile(tmp_path / "q.npz", back))  # a loaded profile saves as it came
    assert np.array_equal(again.meta["arrays"]["real_images"], extra["real_images"]) and again.meta["source"] == "test"
    assert again.stats == pytest.approx(prof.stats, nan_ok=True)


def test_load_profile_rejects_foreign_and_missing_files(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(UserError, match="not a masksynth data profile"):
        load_profile(tmp_path / "x.npz")
    with pytest.raises(UserError, match="does not exist"):
        load_profile(tmp_path / "nope.npz")


def test_scale_profile_converts_lengths_and_areas(real_like):
    prof = profile_from_masks(real_like, max_shapes=20)
    half = scale_profile(prof, 0.5)
    assert half.config["mean_area"] == pytest.approx(prof.config["mean_area"] * 0.25)
    assert half.config["speed_mean"] == pytest.approx(prof.config["speed_mean"] * 0.5)
    assert half.stats["width"] == pytest.approx(64) and half.config["division_rate"] == prof.config["division_rate"]
    ratio = np.median(half.bank.areas) / np.median(prof.bank.areas)
    assert 0.18 < ratio < 0.32  # ~0.25, up to rasterisation of small shapes
    assert profile_from_masks(real_like, max_shapes=20, scale=0.5).config == half.config



def test_scale_profile_converts_measured_distributions():
    """Step-length and field-drift quantiles are lengths (x scale), division-area and area quantiles areas (x scale**2);
    turning angles and elongations do not change with the pixel scale."""
    cfg = {"speed_mean": 2.0, "speed_quantiles": [0.0, 1.0, 2.0, 6.0], "division_area_quantiles": [40.0, 80.0, 160.0],
           "turn_quantiles": [0.1, 0.5, 2.0], "division_elongation_quantiles": [1.5, 2.0, 3.0],
           "area_quantiles": [20.0, 100.0, 200.0], "elongation_quantiles": [1.2, 2.0, 4.0],
           "drift_quantiles": [0.5, 3.0, 8.0]}
    prof = DataProfile(bank=ShapeBank([np.ones((6, 4), bool)]), config=cfg, stats={})
    half = scale_profile(prof, 0.5).config
    assert half["speed_quantiles"] == pytest.approx([0.0, 0.5, 1.0, 3.0])
    assert half["drift_quantiles"] == pytest.approx([0.25, 1.5, 4.0])
    assert half["division_area_quantiles"] == pytest.approx([10.0, 20.0, 40.0])
    assert half["turn_quantiles"] == cfg["turn_quantiles"]
    assert half["division_elongation_quantiles"] == cfg["division_elongation_quantiles"]
    assert half["area_quantiles"] == pytest.approx([5.0, 25.0, 50.0])
    assert half["elongation_quantiles"] == cfg["elongation_quantiles"]
    SynthConfig.from_dict({**SynthConfig().to_dict(), **half}).validate()


def test_like_config_carries_density_not_count(real_like):
    prof = profile_from_masks(real_like, max_shapes=20)
    cfg = like_config(prof, size=(64, 200), frames=7)
    assert cfg.size == (64, 200) and cfg.frames == 7 and cfg.cells is None
    assert cfg.coverage == pytest.approx(prof.stats["coverage_mean"])
    assert cfg.mean_area == prof.config["mean_area"] and cfg.division_rate == prof.config["division_rate"]
    assert like_config(prof, size=(64, 64), frames=3, cells=4).coverage is None
    # where the data's founders sat (calibration's colony layout) does not carry to frames that
    # start at the data's density
    prof.config.update(layout="colony", colonies=1, colony_sigma=0.02, colony_margin=0.4)
    cfg = like_config(prof, size=(64, 200), frames=7)
    assert (cfg.layout, cfg.colonies, cfg.colony_sigma, cfg.colony_margin) == ("flat", 0, 0.15, 0.15)
    assert like_config(prof, size=(64, 200), frames=7, layout="colony").layout == "colony"


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    return float(ks_2samp(a, b).statistic)


def _shape_stats(masks: list[np.ndarray]) -> np.ndarray:
    return np.array([BaseShape.from_mask(m).elongation for m in masks])


def test_masks_like_a_bank_have_its_shapes():
    """Cells drawn from a bank of elongated real shapes keep their elongation; masksynth's default
    shapes (mixed ellipses, rods, blobs) do not look like them."""

    rng = np.random.default_rng(0)
    shapes = [procedural_shape("ellipse", area=200, rng=rng) for _ in range(200)]
    shapes = [m for m in shapes if BaseShape.from_mask(m).elongation > 1.6][:60]
    prof = DataProfile(bank=ShapeBank(shapes), config=SynthConfig.preset("mid").to_dict(), stats={"coverage_mean": 0.2})
    cfg = like_config(prof, size=(128, 160), frames=3)
    like = sequence_stats(synthesize(cfg, seed=0, shapes=prof.bank))["elongation"]
    default = sequence_stats(synthesize(SynthConfig.preset("mid", frames=3, size=(128, 160)), seed=0))["elongation"]
    bank = _shape_stats(prof.bank.masks)
    assert _ks(like, bank) < 0.5 * _ks(default, bank)
