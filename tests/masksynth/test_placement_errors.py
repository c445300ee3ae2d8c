"""First-frame placement: impossible requests, minimum gap, growth to a coverage."""

from __future__ import annotations

import numpy as np
import pytest

from masksynth import ShapeBank, SynthConfig, min_gap_ok, place_cells, synthesize
from tgan_aug.errors import UserError


def test_too_many_cells_says_how_many_fit():
    cfg = SynthConfig.preset("mid", size=(32, 32), frames=1, cells=500, mean_area=60.0)
    with pytest.raises(UserError, match=r"only \d+ cells fit on 32x32.*--cells \d+ or fewer"):
        synthesize(cfg, seed=0)


def test_unreachable_coverage_says_what_fits():
    cfg = SynthConfig.preset("mid", size=(48, 48), frames=1, coverage=0.85, min_gap=3, mean_area=60.0)
    with pytest.raises(UserError, match=r"coverage 0.85 cannot be reached.*at most 0\.\d+"):
        synthesize(cfg, seed=0)


def test_placement_requires_exactly_one_target():
    bank = ShapeBank.procedural(mean_area=50)
    with pytest.raises(UserError, match="exactly one of coverage"):
        place_cells((32, 32), bank=bank, rng=np.random.default_rng(0))


@pytest.mark.parametrize("gap", [0, 1, 3])
def test_min_gap_is_kept_at_high_density(gap):
    bank = ShapeBank.procedural(mean_area=50)
    occ = place_cells((80, 80), bank=bank, rng=np.random.default_rng(gap), coverage=0.3, min_gap=gap)
    assert min_gap_ok(occ, gap)
    if gap:
        assert not min_gap_ok(occ, gap + 2)  # cells are packed close to the limit


def test_min_gap_ok_detects_touching_cells():
    lab = np.zeros((10, 10), np.uint16)
    lab[2:4, 2:4] = 1
    lab[2:4, 5:7] = 2  # one background column between them
    assert min_gap_ok(lab, 1) and not min_gap_ok(lab, 2)
    lab[2:4, 4] = 2
    assert not min_gap_ok(lab, 1) and min_gap_ok(lab, 0)


def test_colony_layout_is_more_clustered_than_flat():
    def spread(layout):
        cfg = SynthConfig.preset("low", layout, size=(256, 256), frames=1, colonies=1, colony_sigma=0.1,
                                 mean_area=40.0)
        ys, xs = np.nonzero(synthesize(cfg, seed=5).labels[0])
        return ys.std() + xs.std()

    assert spread("colony") < 0.7 * spread("flat")


def test_a_small_colony_starts_together_inside_its_margin():
    """Two founders of a colony 2 % of the side wide start next to each other (the floor that
    keeps the canvas reachable no longer sends one of them anywhere), centred at least
    colony_margin from the edges."""
    far = 0
    for seed in range(12):
        cfg = SynthConfig.preset("low", "colony", size=(400, 300), frames=1, cells=2, colonies=1, colony_sigma=0.02,
                                 colony_margin=0.4, mean_area=60.0, shape_kind="ellipse")
        ys, xs = np.nonzero(synthesize(cfg, seed=seed).labels[0])
        assert 0.4 * 400 - 30 <= ys.mean() <= 0.6 * 400 + 30 and 0.4 * 300 - 30 <= xs.mean() <= 0.6 * 300 + 30
        far += max(np.ptp(ys), np.ptp(xs)) > 60
    assert far == 0


def test_colony_margin_is_checked():
    with pytest.raises(UserError, match="colony_margin"):
        SynthConfig.preset("low", "colony", colony_margin=0.6)
