"""Sequence statistics, KS comparison and calibration (synthetic reference; real data when present)."""

from __future__ import annotations

import glob

import numpy as np
import pytest

from masksynth import (
    SynthConfig,
    TrackedMasks,
    calibrate,
    compare_stats,
    sequence_stats,
    stats_table,
    synthesize,
)
from masksynth.stats import STAT_DOCS


def test_stats_of_the_fixture(tracked):
    st = sequence_stats(tracked)
    assert set(st) == set(STAT_DOCS)
    # cells drift right by one pixel per frame; the division moves the daughters' centroids
    assert np.median(st["displacement"]) == pytest.approx(1.0)
    assert st["cells_per_frame"].tolist() == [3, 3, 3, 4, 4, 4]
    assert st["division_rate"].tolist() == [0, 0, 1 / 3, 0, 0]
    assert st["area"].min() == 24 and st["area"].max() == 60
    assert np.allclose(st["coverage"], (tracked.labels > 0).mean(axis=(1, 2)))
    assert sorted(st["track_length"].tolist()) == [3, 3, 3, 6, 6]


def test_compare_stats_ks_is_zero_for_identical_and_large_for_different(tracked):
    a = sequence_stats(tracked)
    cfg = SynthConfig.preset("high", size=(48, 64), frames=6, mean_area=20.0)
    b = sequence_stats(synthesize(cfg, seed=0))
    rows = compare_stats([a, a, b], names=["real", "same", "synth"])
    by = {r["statistic"]: r["sources"] for r in rows}
    assert by["area"][1]["ks"] == 0.0 and by["area"][0]["ks"] == 0.0
    assert by["area"][2]["ks"] > 0.5
    table = stats_table(rows)
    assert table.splitlines()[0].startswith("| statistic | unit | real median (mean)")
    assert "KS synth" in table and len(table.splitlines()) == 2 + len(STAT_DOCS)


def test_compare_stats_checks_names(tracked):
    with pytest.raises(ValueError, match="names has 1 entries for 2"):
        compare_stats([sequence_stats(tracked)] * 2, names=["a"])


def _assert_close(real: dict, syn: dict, *, area=0.35, disp=0.5, div=(0.4, 2.5)):
    ra, sa = np.median(real["area"]), np.median(syn["area"])
    assert abs(sa - ra) <= area * ra, f"area median {sa:.0f} vs real {ra:.0f}"
    rd, sd = np.mean(real["displacement"]), np.mean(syn["displacement"])
    assert abs(sd - rd) <= disp * rd, f"displacement mean {sd:.2f} vs real {rd:.2f}"
    rr, sr = real["division_rate"].mean(), syn["division_rate"].mean()
    if rr > 0:
        assert div[0] * rr <= sr <= div[1] * rr, f"division rate {sr:.3f} vs real {rr:.3f}"


def test_calibration_recovers_a_synthetic_reference():
    truth = SynthConfig.preset(
        "mid", size=(128, 160), frames=25, mean_area=120.0, speed_mean=3.0, speed_cv=0.2, turn_sd=0.3,
        division_rate=0.05, border="reflect", min_division_age=3,
    )
    ref = synthesize(truth, seed=11)
    cfg, bank = calibrate(ref)
    assert cfg.size == (128, 160) and cfg.frames == 25
    assert cfg.cells == ref.cells_per_frame()[0]
    assert 0.7 * 3.0 <= cfg.speed_mean <= 1.2 * 3.0  # collisions slow some cells down
    assert cfg.division_rate > 0
    syn = synthesize(cfg.replace(border="reflect"), seed=12, shapes=bank)
    rs, ss = sequence_stats(ref), sequence_stats(syn)
    _assert_close(rs, ss)
    ks = {r["statistic"]: r["sources"][1]["ks"] for r in compare_stats([rs, ss])}
    assert ks["turning"] < 0.35 and ks["displacement"] < 0.35, ks


def _load_bacteria(root) -> TrackedMasks:
    try:
        from tgan_aug.io.load import load_masks

        (_, masks), *_ = load_masks(root / "bacteria-phc")
        return masks
    except ImportError:  # the I/O package is not there: read the CTC folder directly
        import tifffile

        tra = root / "bacteria-phc" / "01_GT" / "TRA"
        labels = np.stack([tifffile.imread(f) for f in sorted(glob.glob(str(tra / "man_track*.tif")))])
        lineage = np.loadtxt(tra / "man_track.txt", dtype=np.int64).reshape(-1, 4)
        return TrackedMasks(labels.astype(np.uint16), lineage)


@pytest.mark.shared_data
def test_calibration_on_bacteria_phc_lands_near_the_real_statistics(shared_data):
    real = _load_bacteria(shared_data)
    cfg, bank = calibrate(real)
    syn = synthesize(cfg, seed=0, shapes=bank)
    rs, ss = sequence_stats(real), sequence_stats(syn)
    _assert_close(rs, ss)
    rows = {r["statistic"]: r["sources"][1]["ks"] for r in compare_stats([rs, ss])}
    assert rows["elongation"] < 0.6  # rods stay rods through growth and divisions
    assert rows["displacement"] < 0.4
