"""Track smoothing: a cell's mean intensity follows a moving average along its track."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tgan_aug.errors import UserError
from tgan_aug.metrics.temporal import track_flicker
from tgan_aug.render.track_smoothing import TrackState, check_beta, smooth_frame
from tgan_aug.render.video import render_video

torch.set_num_threads(1)


def _blinking_video(frames: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Two still cells whose brightness alternates +-100 grey levels frame to frame, with texture.

    Returns (images (T, 30, 40) float64, labels (T, 30, 40) int32)."""
    rng = np.random.default_rng(0)
    labels = np.zeros((frames, 30, 40), np.int32)
    labels[:, 5:15, 5:15] = 3
    labels[:, 15:25, 20:35] = 7
    texture = rng.normal(0, 30, (30, 40))
    images = np.full((frames, 30, 40), 400.0) + texture
    for t in range(frames):
        images[t][labels[t] != 0] += 1500.0 + (100.0 if t % 2 else -100.0)
    return images, labels


def _smooth(images: np.ndarray, labels: np.ndarray, beta: float) -> np.ndarray:
    state = TrackState()
    return np.stack([smooth_frame(images[t], labels[t], state, beta) for t in range(len(images))])


def test_blinking_cells_steady_with_texture_and_background_kept():
    images, labels = _blinking_video()
    out = _smooth(images, labels, 0.5)
    rng_ = (0.0, 4000.0)
    before, after = track_flicker(images, labels, data_range=rng_), track_flicker(out, labels, data_range=rng_)
    assert after < 0.4 * before, (before, after)  # EMA 0.5 of +-a: |change| 2a -> a, a/2, 3a/4, ... -> 2a/3
    bg = labels == 0
    np.testing.assert_array_equal(out[bg], images[bg].astype(np.float32))  # outside the cells: untouched
    for t in range(len(images)):  # inside a cell: one shift for all its pixels (texture kept)
        for c in (3, 7):
            diff = (out[t] - images[t])[labels[t] == c]
            assert np.ptp(diff) < 1e-3
    np.testing.assert_allclose(out[0], images[0], atol=1e-3)  # the first frame is each track's start


def test_zero_beta_is_off_and_a_steady_cell_stays_put():
    images, labels = _blinking_video()
    np.testing.assert_array_equal(_smooth(images, labels, 0.0), images.astype(np.float32))
    steady = np.where(labels != 0, 2000.0, 400.0)
    np.testing.assert_allclose(_smooth(steady, labels, 0.7), steady, atol=1e-3)


def test_moving_average_follows_the_formula_and_a_new_track_starts_from_its_own_mean():
    labels = np.zeros((3, 4, 4), np.int32)
    labels[:, :2, :2] = 1
    labels[2, 2:, 2:] = 2  # a new track (a daughter) in the last frame
    images = np.zeros((3, 4, 4))
    images[0][labels[0] == 1] = 10.0
    images[1][labels[1] == 1] = 20.0
    images[2][labels[2] == 1] = 40.0
    images[2][labels[2] == 2] = 100.0
    out = _smooth(images, labels, 0.5)
    s1 = 0.5 * 10 + 0.5 * 20
    s2 = 0.5 * s1 + 0.5 * 40
    assert out[1][0, 0] == pytest.approx(s1) and out[2][0, 0] == pytest.approx(s2)
    assert out[2][3, 3] == pytest.approx(100.0)


def test_bad_beta_and_shapes_are_refused():
    for bad in (1.0, -0.1, 2):
        with pytest.raises(UserError, match="--track-smoothing .* must be in \\[0, 1\\)"):
            check_beta(bad)
    with pytest.raises(UserError, match="smooth_frame: frame .* and labels .* differ in shape"):
        smooth_frame(np.zeros((4, 4)), np.zeros((4, 5), np.int32), TrackState(), 0.5)


def test_rendering_smooths_cells_only(tiny_ckpt_factory, tmp_path, tracked_factory):
    ckpt = tiny_ckpt_factory(tmp_path / "p.pt", perturb=True)
    masks = tracked_factory(frames=8, seed=4)
    raw = render_video(ckpt, masks, seed=2, track_smoothing=0.0)
    smooth = render_video(ckpt, masks, seed=2, track_smoothing=0.5)
    assert raw.provenance["track_smoothing"] == 0.0 and smooth.provenance["track_smoothing"] == 0.5
    rng_ = (50.0, 4000.0)
    before = track_flicker(raw.images, masks.labels, data_range=rng_)
    after = track_flicker(smooth.images, masks.labels, data_range=rng_)
    assert after < 0.8 * before, (before, after)
    bg = masks.labels == 0
    np.testing.assert_array_equal(smooth.images[bg], raw.images[bg])
    np.testing.assert_array_equal(smooth.images[0], raw.images[0])


def test_default_smooths_matched_renders_only(tiny_ckpt_factory, tmp_path, tracked_factory):
    """Default: beta 0.3 when the intensities are matched (the map raises the jitter), else off."""
    from tgan_aug.render.engine import DEFAULT_TRACK_SMOOTHING, Renderer
    from tgan_aug.training.data import compute_stats

    rng = np.random.default_rng(0)
    q = compute_stats([rng.integers(100, 3000, (2, 20, 20)).astype(np.uint16)]).quantiles
    ckpt = tiny_ckpt_factory(tmp_path / "q.pt", quantiles=q)
    assert Renderer.from_checkpoint(ckpt).track_smoothing == DEFAULT_TRACK_SMOOTHING == 0.3
    assert Renderer.from_checkpoint(ckpt, intensity_match="none").track_smoothing == 0.0
    assert Renderer.from_checkpoint(ckpt, intensity_match="none", track_smoothing=0.2).track_smoothing == 0.2
    masks = tracked_factory(frames=4, seed=1)
    a = render_video(ckpt, masks, seed=0)
    b = render_video(ckpt, masks, seed=0, track_smoothing=0.3)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.provenance["track_smoothing"] == 0.3


def test_cli_option_is_recorded_and_refused_for_the_painter(tmp_path, tiny_ckpt, tracked_factory, run_cli):
    from tgan_aug.io import read_store, write_store

    masks = tmp_path / "masks.zarr"
    write_store(masks, tracked_factory(frames=3, seed=0), name="s")
    code, _, err = run_cli(["render", str(masks), "-o", str(tmp_path / "v.zarr"), "--checkpoint", str(tiny_ckpt),
                            "--track-smoothing", "0.25", "--quiet"])
    assert code == 0, err
    assert read_store(tmp_path / "v.zarr", "s").provenance["track_smoothing"] == 0.25
    code, _, err = run_cli(["render", str(masks), "-o", str(tmp_path / "p.zarr"), "--renderer", "painter", "--fit",
                            str(tmp_path / "fit.npz"), "--track-smoothing", "0.5", "--quiet"])
    assert code == 2 and "--track-smoothing is for --renderer tgan" in err
    code, _, err = run_cli(["render", str(masks), "-o", str(tmp_path / "w.zarr"), "--checkpoint", str(tiny_ckpt),
                            "--track-smoothing", "1", "--quiet"])
    assert code == 2 and "--track-smoothing" in err
