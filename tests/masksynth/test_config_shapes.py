"""SynthConfig validation and presets; shapes and their rendering."""

from __future__ import annotations

import math

import numpy as np
import pytest

from masksynth import BaseShape, ShapeBank, SynthConfig, extract_shapes, procedural_shape
from masksynth.shapes import render_shape
from tgan_aug.errors import UserError


def test_presets_set_coverage_and_layout():
    assert SynthConfig.preset("high").target_coverage >= 0.40
    assert SynthConfig.preset("low").target_coverage < SynthConfig.preset("mid").target_coverage
    assert SynthConfig.preset("mid", "colony").layout == "colony"
    assert SynthConfig.preset("mid", cells=10).target_coverage is None
    assert SynthConfig.preset("mid", coverage=0.3).target_coverage == 0.3


def test_from_dict_round_trip_and_unknown_keys():
    cfg = SynthConfig.preset("high", "colony", frames=7)
    assert SynthConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(UserError, match="unknown SynthConfig key.*speeed"):
        SynthConfig.from_dict({"speeed": 1.0})


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("density", "extreme", "^--density must be one of low, mid, high"),
        ("layout", "grid", "^--layout must be one of flat, colony"),
        ("coverage", 0.95, "^--coverage must be a fraction"),
        ("frames", 0, "^--frames must be >= 1"),
        ("size", (4, 100), "^--size must be HEIGHTxWIDTH with both >= 8 pixels, got 4x100$"),
        ("division_rate", 1.5, "^--division-rate must be a probability"),
        ("border", "wrap", "^--border must be one of open, reflect"),
        ("min_gap", -1, "^--min-gap must be an integer"),
        ("speed_mean", -1.0, "^--speed must be >= 0"),
        ("mean_area", 1.0, r"^SynthConfig\.mean_area must be in \[4, 100000\]"),  # no flag: the Python name
        ("speed_quantiles", (2.0, 1.0), r"^SynthConfig\.speed_quantiles must be None or >= 2 non-decreasing"),
        ("turn_quantiles", (0.0, 4.0), r"^SynthConfig\.turn_quantiles must be .* in \[0, 3\.14159\]"),
        ("cycle_quantiles", (0.5, 2.0), r"^SynthConfig\.cycle_quantiles must be .* in \[1, 10000\]"),
        ("area_revert", 1.5, r"^SynthConfig\.area_revert must be in \[0, 1\]"),
        ("speed_corr", 1.0, r"^SynthConfig\.speed_corr must be in \[0, 1\)"),
        ("cycle_catch_up", 1.0, r"^SynthConfig\.cycle_catch_up must be in \[0, 1\)"),
    ],
)
def test_bad_fields_are_named(field, value, match):
    with pytest.raises(UserError, match=match):
        SynthConfig.from_dict({field: value})


def test_preset_rejects_unknown_density():
    with pytest.raises(UserError, match="density must be one of"):
        SynthConfig.preset("extreme")


@pytest.mark.parametrize("kind", ["ellipse", "rod", "blob"])
def test_procedural_shapes_have_the_requested_area(kind):
    rng = np.random.default_rng(0)
    areas = [procedural_shape(kind, area=300, rng=rng).sum() for _ in range(20)]
    assert 240 <= np.mean(areas) <= 360


def test_rods_are_elongated_and_ellipses_less_so():
    rng = np.random.default_rng(1)
    rod = BaseShape.from_mask(procedural_shape("rod", area=300, rng=rng))
    assert rod.elongation > 2.0 and rod.growth_exponent == 1.0
    disc = BaseShape.from_mask(procedural_shape("ellipse", area=300, rng=rng))
    assert disc.elongation < 2.2


def test_render_identity_reproduces_the_base_mask():
    rng = np.random.default_rng(2)
    m = procedural_shape("blob", area=200, rng=rng)
    base = BaseShape.from_mask(m)
    fy, fx = base.centroid[0] % 1, base.centroid[1] % 1
    out, c = render_shape(base, angle=0.0, scale=1.0, morph=0, frac=(fy, fx), margin=2)
    ys, xs = np.nonzero(out)
    assert np.array_equal(out[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], m)


def test_render_rotation_scale_and_morph():
    rng = np.random.default_rng(3)
    base = BaseShape.from_mask(procedural_shape("rod", area=300, rng=rng))
    rot, _ = render_shape(base, angle=math.pi / 2, scale=1.0, morph=0, frac=(0, 0), margin=1)
    big, _ = render_shape(base, angle=0.0, scale=2.0, morph=0, frac=(0, 0), margin=1)
    dil, _ = render_shape(base, angle=0.0, scale=1.0, morph=1, frac=(0, 0), margin=1)
    ero, _ = render_shape(base, angle=0.0, scale=1.0, morph=-1, frac=(0, 0), margin=1)
    assert abs(rot.sum() - base.area) < 0.1 * base.area
    assert 1.8 * base.area < big.sum() < 2.2 * base.area
    assert ero.sum() < base.area < dil.sum()
    ys, xs = np.nonzero(rot)
    assert (ys.max() - ys.min()) > (xs.max() - xs.min())  # the rod now stands upright


def test_extract_shapes_skips_border_and_small_cells():
    lab = np.zeros((2, 40, 40), np.uint16)
    lab[0, 5:15, 5:12] = 1  # inside, 70 px
    lab[0, 0:5, 20:30] = 2  # touches the border
    lab[1, 20:22, 20:22] = 3  # 4 px, too small
    lab[1, 25:35, 25:31] = 4
    shapes = extract_shapes(lab, min_area=16)
    assert sorted(s.sum() for s in shapes) == [60, 70]
    bank = ShapeBank.from_labels(lab)
    assert len(bank) == 2 and bank.median_area == 65


def test_empty_real_bank_is_a_user_error():
    with pytest.raises(UserError, match="shape bank .* is empty"):
        ShapeBank.from_labels(np.zeros((1, 20, 20), np.uint16))
