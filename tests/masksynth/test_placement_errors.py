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
