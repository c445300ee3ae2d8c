"""Measured slow shape change: a cell's area and elongation as score walks (masksynth.wander)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from masksynth import BaseShape, SynthConfig, min_gap_ok, synthesize
from masksynth.calibrate import calibration_params
from masksynth.errors import UserError
from masksynth.shapes import procedural_shape, render_shape
from masksynth.stats import cell_frame_shapes, elongation_from_moments
from masksynth.wander import fit_score_walk, score_of, start_walk, step_walk, value_of

#: about the elongations and areas of the procedural ellipses below (aspect 1-2, 150 px, cv 0.2): cells
#: start from their shape's score, so a bank unlike the quantiles would start every walk off balance
ELONG_Q = tuple(np.linspace(1.05, 2.0, 41).tolist())
AREA_Q = tuple(np.linspace(100.0, 200.0, 41).tolist())


def _digest(m) -> str:
    return hashlib.sha256(m.labels.tobytes() + m.lineage.astype(np.int64).tobytes()).hexdigest()[:16]


#: configs without the shape walks and their output digests, recorded with masksynth before them (commit 9ef0aa8);
#: the timer-model colony re-recorded when its daughters began to grow away from the cut, cells cut
#: by the frame's edge to divide and the colony layout's floor to shrink with the colonies' share of
#: the canvas (was ad616c63539d067e)
OLD_CONFIGS = {
    "d067600720789caa": dict(density="mid", size=(96, 128), frames=8),
    "f31fd912a2b40581": dict(density="mid", size=(96, 128), frames=8, shape_jitter=False, morph_prob=0.0,
                             area_revert=0.1, area_sd=0.04, speed_quantiles=(0.0, 1.0, 2.0, 4.0), speed_corr=0.5,
                             turn_quantiles=(0.0, 0.5, 1.0, 3.0), division_rate=0.0),
    "454669f4a07d4d17": dict(density="mid", layout="colony", size=(96, 128), frames=8, cells=5, shape_kind="rod",
                             mean_area=80.0, min_gap=0, division_rate=1.0, cycle_quantiles=(3.0, 4.0, 5.0),
                             division_area_quantiles=(120.0, 140.0), division_elongation_quantiles=(2.0, 3.0),
                             push_iterations=4),
}


@pytest.mark.parametrize("digest", list(OLD_CONFIGS))
def test_old_configs_synthesize_bit_for_bit_as_before(digest):
    params = dict(OLD_CONFIGS[digest])
    cfg = SynthConfig.preset(params.pop("density"), params.pop("layout", "flat"), **params)
    assert _digest(synthesize(cfg, seed=(7, 0))) == digest


def test_the_timer_division_model_ignores_the_shape_walks():
    """Cells on a cell-cycle timer grow to measured division sizes and elongations themselves."""
    digest = "454669f4a07d4d17"
    params = {**OLD_CONFIGS[digest], "elongation_quantiles": ELONG_Q, "elongation_corr": 0.9,
              "elongation_cell_share": 0.2, "area_quantiles": AREA_Q, "area_corr": 0.9, "area_cell_share": 0.2}
    cfg = SynthConfig.preset(params.pop("density"), params.pop("layout"), **params)
    assert _digest(synthesize(cfg, seed=(7, 0))) == digest


def _walks(n_cells: int, frames: int, corr: float, share: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = np.empty((n_cells, frames))
    for i in range(n_cells):
        own, dev = start_walk(float(rng.normal()), share, rng)
        for t in range(frames):
            z[i, t] = own + dev
            dev = step_walk(dev, corr, share, rng)
    return z


def test_score_walk_keeps_a_standard_normal_score_and_splits_it_as_configured():
    z = _walks(400, 60, corr=0.8, share=0.3)
    assert z.mean() == pytest.approx(0.0, abs=0.05) and z.std() == pytest.approx(1.0, abs=0.05)
    assert np.var(z.mean(axis=1)) == pytest.approx(0.3 + 0.7 * 0.15, abs=0.06)  # own part + what 60 frames of AR(1) leave
    dev = z - z.mean(axis=1, keepdims=True)
    lag1 = np.corrcoef(dev[:, :-1].ravel(), dev[:, 1:].ravel())[0, 1]
    assert 0.7 <= lag1 <= 0.8  # 0.8 less the bias of subtracting each track's mean


def test_fit_score_walk_recovers_share_and_correlation():
    z = _walks(60, 50, corr=0.9, share=0.3)
    track = np.repeat(np.arange(60), 50)
    t = np.tile(np.arange(50), 60)
    share, corr = fit_score_walk(track, t, value_of(np.asarray(ELONG_Q), 0.0) + np.exp(z.ravel()))
    assert corr == pytest.approx(0.9, abs=0.04) and share == pytest.approx(0.3, abs=0.12)
    # frames with a gap are not consecutive: one cell-frame per track gives no lag pairs at all
    assert fit_score_walk(np.arange(50), np.zeros(50, np.int64), np.arange(50.0)) is None


def test_score_and_value_are_inverse_through_the_quantiles():
    q = np.asarray(ELONG_Q)
    for x in (1.2, 1.5, 1.9):
        assert value_of(q, score_of(q, x)) == pytest.approx(x, abs=1e-6)
    assert value_of(q, score_of(q, 0.5)) == pytest.approx(q[0], abs=0.03)  # below the range: near the lowest level


def test_stretch_multiplies_the_elongation_at_the_same_area():
    base = BaseShape.from_mask(procedural_shape("ellipse", area=400, rng=np.random.default_rng(1)))
    kw = dict(angle=0.3, scale=1.0, morph=0, frac=(0.5, 0.5), margin=1)
    plain, _ = render_shape(base, **kw)
    wide, _ = render_shape(base, stretch=np.log(2.0), **kw)

    def elong(m):
        ys, xs = np.nonzero(m)
        dy, dx = ys - ys.mean(), xs - xs.mean()
        return float(elongation_from_moments(np.mean(dy * dy), np.mean(dx * dx), np.mean(dy * dx)))

    assert elong(wide) / elong(plain) == pytest.approx(2.0, rel=0.08)
    assert wide.sum() == pytest.approx(plain.sum(), rel=0.05)


def _walking(frames: int = 40, **walk) -> SynthConfig:
    return SynthConfig.preset(
        "low", size=(200, 200), frames=frames, cells=16, shape_kind="ellipse", mean_area=150.0, area_cv=0.2, border="reflect",
        division_rate=0.0, speed_mean=1.0, shape_jitter=False, morph_prob=0.0, area_sd=0.0, **walk,
    )


def test_synthetic_elongation_and_area_change_slowly_with_the_configured_correlation():
    """Measured on this input (seed 1), fitted (share, corr): elongation (0.13, 0.91), area (0.40, 0.86)
    (16 cells: the share is noisy); without the walks each cell keeps its shape: (0.95, 0.0) for both."""
    cfg = _walking(elongation_quantiles=ELONG_Q, elongation_corr=0.9, elongation_cell_share=0.3,
                   area_quantiles=AREA_Q, area_corr=0.9, area_cell_share=0.3)
    m = synthesize(cfg, seed=1)  # validate_tracked runs inside
    assert min_gap_ok(m.labels, cfg.min_gap)
    rows = cell_frame_shapes(m)
    for name in ("elongation", "area"):
        share, corr = fit_score_walk(rows["track"], rows["t"], rows[name])
        assert 0.8 <= corr <= 0.97 and share <= 0.55, (name, share, corr)
    lo, hi = np.percentile(rows["area"], [5, 95])
    assert 90 <= lo <= 130 and 170 <= hi <= 220  # the configured 100-200 px
    rigid = cell_frame_shapes(synthesize(_walking(), seed=1))
    share, _ = fit_score_walk(rigid["track"], rigid["t"], rigid["elongation"])
    assert share >= 0.85


def test_calibration_measures_the_shape_walks_of_cells_that_do_not_divide():
    truth = _walking(frames=50, elongation_quantiles=ELONG_Q, elongation_corr=0.7, elongation_cell_share=0.5)
    params = calibration_params(synthesize(truth, seed=2))
    assert params["elongation_corr"] == pytest.approx(0.7, abs=0.12)
    assert params["elongation_cell_share"] == pytest.approx(0.5, abs=0.2)
    assert np.median(params["elongation_quantiles"]) == pytest.approx(np.median(ELONG_Q), rel=0.15)
    assert params["area_cell_share"] >= 0.7  # areas do not change (area_sd 0): each cell keeps its own


def test_shape_walks_keep_lineage_rules_with_divisions_and_open_borders():
    cfg = SynthConfig.preset("mid", size=(128, 128), frames=20, mean_area=120.0, division_rate=0.05,
                             elongation_quantiles=ELONG_Q, elongation_corr=0.8, elongation_cell_share=0.4,
                             area_quantiles=AREA_Q, area_corr=0.8, area_cell_share=0.4)
    m = synthesize(cfg, seed=4)  # validate_tracked: ids, gaps, parents
    assert (m.lineage[:, 3] > 0).sum() >= 2 and min_gap_ok(m.labels, cfg.min_gap)


@pytest.mark.parametrize("field, value, message", [
    ("elongation_corr", 1.0, r"SynthConfig.elongation_corr must be in \[0, 1\), got 1.0"),
    ("area_cell_share", 1.5, r"SynthConfig.area_cell_share must be in \[0, 1\], got 1.5"),
    ("elongation_quantiles", (2.0, 1.5), r"SynthConfig.elongation_quantiles must be None or >= 2 non-decreasing"),
])
def test_shape_walk_fields_are_checked(field, value, message):
    with pytest.raises(UserError, match=message):
        SynthConfig.preset("mid", **{field: value})
