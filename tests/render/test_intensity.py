"""Intensity matching: one monotone map per sequence onto the training quantiles stored in the checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tgan_aug.errors import UserError
from tgan_aug.metrics.microscopy import histogram_distance
from tgan_aug.render.intensity import apply_quantile_map, calibration_indices, fit_quantile_map
from tgan_aug.render.video import render_video
from tgan_aug.training.data import N_QUANTILES, ImageStats, compute_stats

torch.set_num_threads(1)


def _real_video(seed: int = 0) -> np.ndarray:
    """(6, 40, 50) uint16: background ~400, bright cells ~2500 on 30 % of the pixels."""
    rng = np.random.default_rng(seed)
    cells = rng.random((6, 40, 50)) < 0.3
    return np.where(cells, rng.normal(2500, 150, cells.shape), rng.normal(400, 60, cells.shape)).clip(0, 4000).astype(np.uint16)


def test_map_brings_a_shifted_rendering_close_to_the_training_histogram():
    real = _real_video()
    target = np.asarray(compute_stats([real]).quantiles)
    fake = (real.astype(np.float64) * 0.5 + 900.0)  # too dark cells, too bright background
    before = histogram_distance(real, fake, data_range=(0, 4000))
    xp, fp = fit_quantile_map(fake[calibration_indices(len(fake), 3)], target)
    mapped = apply_quantile_map(fake, xp, fp)
    after = histogram_distance(real, mapped, data_range=(0, 4000))
    assert before > 0.1 and after < 0.1 * before
    order = np.argsort(fake.ravel(), kind="stable")
    assert np.all(np.diff(mapped.ravel()[order]) >= 0)  # monotone: what was darker stays darker


def test_map_rejects_bad_targets_and_empty_sources():
    with pytest.raises(UserError, match="target quantiles must be a finite, ascending"):
        fit_quantile_map(np.arange(5.0), np.array([3.0, 1.0]))
    with pytest.raises(UserError, match="no source intensities"):
        fit_quantile_map(np.zeros(0), np.array([0.0, 1.0]))
    with pytest.raises(UserError, match="knots must be >= 2, got 1"):
        fit_quantile_map(np.arange(5.0), np.array([0.0, 1.0]), knots=1)
    assert calibration_indices(3).tolist() == [0, 1, 2] and calibration_indices(30, 4).tolist() == [0, 10, 19, 29]


def test_stats_store_quantiles_and_old_stats_load_without_them():
    real = _real_video()
    stats = compute_stats([real])
    q = np.asarray(stats.quantiles)
    assert q.shape == (N_QUANTILES,) and np.all(np.diff(q) >= 0) and q[0] == real.min() and q[-1] == real.max()
    assert ImageStats.from_dict(stats.to_dict()) == stats
    old = {k: v for k, v in stats.to_dict().items() if k != "quantiles"}  # a checkpoint from before
    assert ImageStats.from_dict(old).quantiles is None


def test_rendering_matches_the_stored_quantiles_with_one_map_per_sequence(tmp_path, tiny_ckpt_factory, tracked_factory):
    real = _real_video()
    q = compute_stats([real]).quantiles
    ckpt = tiny_ckpt_factory(tmp_path / "q.pt", quantiles=q)
    masks = tracked_factory(frames=6, seed=2)
    # (track smoothing off: its per-cell shifts would reorder intensities; test_track_smoothing.py)
    raw = render_video(ckpt, masks, seed=1, intensity_match="none", track_smoothing=0.0)
    matched = render_video(ckpt, masks, seed=1, track_smoothing=0.0)  # default "auto": the checkpoint stores quantiles
    assert raw.provenance["intensity_match"] == "none" and matched.provenance["intensity_match"] == "training quantiles"
    before = histogram_distance(real, raw.images, data_range=(0, 4000))
    after = histogram_distance(real, matched.images, data_range=(0, 4000))
    assert after < 0.5 * before, (before, after)
    # one map for the whole sequence (never per frame): the raw frames' order of intensities is kept across frames
    # (lexsort: pixels that round to one raw grey level may map to neighbouring levels)
    order = np.lexsort((matched.images.ravel(), raw.images.ravel()))
    assert np.all(np.diff(matched.images.ravel()[order].astype(np.int64)) >= 0)
    np.testing.assert_array_equal(matched.masks.labels, masks.labels)


def test_checkpoint_without_quantiles_renders_unmatched_and_training_mode_says_why(tiny_ckpt, tracked_factory):
    masks = tracked_factory(frames=3, seed=0)
    auto = render_video(tiny_ckpt, masks, seed=0)
    assert auto.provenance["intensity_match"] == "none"
    np.testing.assert_array_equal(auto.images, render_video(tiny_ckpt, masks, seed=0, intensity_match="none").images)
    with pytest.raises(UserError, match="--intensity-match training: --checkpoint .* stores no training intensity quantiles"):
        render_video(tiny_ckpt, masks, seed=0, intensity_match="training")
    with pytest.raises(UserError, match="--intensity-match 'always': choose one of auto, training, none"):
        render_video(tiny_ckpt, masks, seed=0, intensity_match="always")


def test_backfilled_checkpoint_gets_the_quantiles_training_would_store(tiny_ckpt):
    from tgan_aug.training.checkpoint import image_stats_from_checkpoint, load_checkpoint, with_intensity_quantiles

    real = _real_video(3)
    ckpt = load_checkpoint(tiny_ckpt)
    filled = with_intensity_quantiles(ckpt, [real])
    before, after = image_stats_from_checkpoint(ckpt), image_stats_from_checkpoint(filled)
    assert before.quantiles is None and after.quantiles == compute_stats([real]).quantiles
    assert (after.lo, after.hi, after.dtype, after.intensity_range) == (before.lo, before.hi, before.dtype, before.intensity_range)


def test_cli_option_is_recorded_and_refused_for_the_painter(tmp_path, tiny_ckpt_factory, tracked_factory, run_cli):
    from tgan_aug.io import read_store, write_store

    masks = tmp_path / "masks.zarr"
    write_store(masks, tracked_factory(frames=3, seed=0), name="s")
    ckpt = tiny_ckpt_factory(tmp_path / "q.pt", quantiles=compute_stats([_real_video()]).quantiles)
    code, _, err = run_cli(["render", str(masks), "-o", str(tmp_path / "v.zarr"), "--checkpoint", str(ckpt), "--quiet"])
    assert code == 0, err
    assert read_store(tmp_path / "v.zarr", "s").provenance["intensity_match"] == "training quantiles"
    code, _, err = run_cli(["render", str(masks), "-o", str(tmp_path / "p.zarr"), "--renderer", "painter", "--fit",
                            str(tmp_path / "fit.npz"), "--intensity-match", "none", "--quiet"])
    assert code == 2 and "--intensity-match is for --renderer tgan" in err
