"""Frame-parity index (2-frame flicker) and drift over a long render."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from tgan_aug.errors import UserError
from tgan_aug.metrics.stability import drift_series, drift_summary, frame_parity, frame_parity_index, robust_range

from metric_videos import make_video


def _alternate(images: np.ndarray, labels: np.ndarray, x: float) -> np.ndarray:
    """Even frames +x, odd frames -x inside cells (float)."""
    sign = np.where(np.arange(images.shape[0]) % 2 == 0, 1.0, -1.0)[:, None, None]
    return images.astype(np.float64) + x * sign * (labels > 0)


@pytest.fixture(scope="module")
def long_video() -> tuple[np.ndarray, np.ndarray]:
    """(40, 96, 96) uint8 images and uint16 labels: the metric tests' video, longer, with 30 slow cells spread
    over the frame (like PhC-C2DL-PSC: the centre and the border hold cells all along)."""
    return make_video(frames=40, height=96, width=96, cells=30, speed=0.2, seed=3)


def test_parity_hand_case():
    labels = np.zeros((4, 4, 4), np.uint16)
    labels[:, :2, :2] = 1
    labels[1:, 2:, 2:] = 2  # cell 2 is absent in frame 0: only its t = 2 term counts
    img = np.zeros((4, 4, 4), np.float64)
    img[:, 3, :2] = 100.0  # background row: sets the 1-99 % range to 0..100
    img[:, :2, :2] = np.array([10, 30, 30, 40])[:, None, None]  # cell 1: t=1 |30-20| = 10, t=2 |30-35| = 5
    img[1:, 2:, 2:] = np.array([50, 20, 50])[:, None, None]  # cell 2: t=2 |20-50| = 30
    assert robust_range(img) == pytest.approx((0.0, 100.0))
    index, per_frame = frame_parity(img, labels)
    assert index == pytest.approx((0.10 + 0.05 + 0.30) / 3)
    np.testing.assert_allclose(per_frame[1:3], [0.10, (0.05 + 0.30) / 2])
    assert np.isnan(per_frame[0]) and np.isnan(per_frame[3])


def test_alternating_brightness_scores_badly(video):
    imgs, labels = video
    steady = frame_parity_index(imgs, labels)
    lo, hi = robust_range(imgs)
    x = 0.05 * (hi - lo)  # +-5 % of the range, below what an eye notices in one frame
    flicker = frame_parity_index(_alternate(imgs, labels, x), labels)
    assert steady < 0.01  # noise and motion only
    assert flicker > 8 * steady
    assert flicker == pytest.approx(0.10, abs=0.02)  # the peak-to-peak swing (2x) over the range


def test_steady_video_with_slow_smooth_change_scores_zero(video):
    imgs, labels = video
    frames = imgs.shape[0]
    still = np.repeat(imgs[:1].astype(np.float64), frames, axis=0)
    still_labels = np.repeat(labels[:1], frames, axis=0)
    t = np.arange(frames, dtype=np.float64)[:, None, None]
    fading = still + 0.8 * t + 1.5 * t * (still_labels > 0)  # global brightening, cells brighten faster
    assert frame_parity_index(fading, still_labels) == pytest.approx(0.0, abs=1e-9)
    assert frame_parity_index(fading) == pytest.approx(0.0, abs=1e-9)  # whole-frame variant


@pytest.mark.parametrize(("scale", "offset"), [(2.5, -40.0), (0.01, 3.0), (-1.0, 255.0)])
def test_parity_is_invariant_to_affine_intensity_change(video, scale, offset):
    imgs, labels = video
    flick = _alternate(imgs, labels, 6.0)
    for v in (imgs.astype(np.float64), flick):
        assert frame_parity_index(scale * v + offset, labels) == pytest.approx(frame_parity_index(v, labels), rel=1e-9)


def test_whole_frame_variant_sees_global_flicker(video):
    imgs, _ = video
    sign = np.where(np.arange(imgs.shape[0]) % 2 == 0, 1.0, -1.0)[:, None, None]
    assert frame_parity_index(imgs.astype(np.float64) + 6.0 * sign) > 10 * frame_parity_index(imgs)


def test_parity_edge_cases_and_errors(video):
    imgs, labels = video
    assert frame_parity_index(np.full((5, 8, 8), 7.0), np.ones((5, 8, 8), np.uint16)) == 0.0
    assert np.isnan(frame_parity_index(imgs[:2], labels[:2]))
    with pytest.raises(UserError, match="same \\(T, Y, X\\)"):
        frame_parity_index(imgs, labels[:-1])
    with pytest.raises(UserError, match="expected a \\(T, Y, X\\) video"):
        frame_parity_index(imgs[0], labels[0])


def test_real_ish_video_drifts_little(long_video):
    imgs, labels = long_video
    d = drift_summary(drift_series(imgs, labels, data_range=(0, 255)))
    assert set(d) == {"contrast", "contrast-slope", "sharpness", "centre-intensity", "centre-sharpness"}
    # cells move and overlap: a few % wander, no trend
    assert d["contrast"] < 0.1 and abs(d["contrast-slope"]) < 0.2 and d["sharpness"] < 0.1
    assert d["centre-intensity"] < 0.02 and d["centre-sharpness"] < 0.2


def test_cells_darkening_linearly_drift_more_than_steady(long_video):
    imgs, labels = long_video
    t = np.arange(imgs.shape[0], dtype=np.float64)[:, None, None]
    steady = drift_summary(drift_series(imgs, labels, data_range=(0, 255)))
    darker = drift_summary(drift_series(imgs - 1.0 * t * (labels > 0), labels, data_range=(0, 255)))
    fainter = drift_summary(drift_series(imgs + 1.0 * t * (labels > 0), labels, data_range=(0, 255)))
    assert darker["contrast"] > 5 * steady["contrast"]
    assert darker["contrast-slope"] > 0.5 > abs(steady["contrast-slope"])  # dark cells: stronger contrast
    assert fainter["contrast-slope"] < -0.5  # cells fade towards the background


def test_dark_blurred_centre_patch_drifts_more_than_steady(long_video):
    imgs, labels = long_video
    frames, h, w = imgs.shape
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - h / 2, xx - w / 2)
    out = imgs.astype(np.float64).copy()
    for t in range(frames):
        patch = ndi.gaussian_filter((r < 2 + 38 * t / frames).astype(np.float64), 3.0)  # grows to radius 40
        out[t] = (1 - patch) * out[t] + patch * (0.75 * ndi.gaussian_filter(out[t], 3.0))
    steady = drift_summary(drift_series(imgs, labels, data_range=(0, 255)))
    patched = drift_summary(drift_series(out, labels, data_range=(0, 255)))
    assert patched["centre-intensity"] > 5 * steady["centre-intensity"]
    assert patched["centre-sharpness"] > 3 * steady["centre-sharpness"]
    assert patched["sharpness"] > 3 * steady["sharpness"]
    assert patched["contrast-slope"] < -0.5  # the cells inside the patch lose contrast too


def test_drift_series_shapes_and_errors(long_video):
    imgs, labels = long_video
    s = drift_series(imgs, labels, data_range=(0, 255))
    assert all(v.shape == (imgs.shape[0],) for v in s.values())
    np.testing.assert_allclose(s["contrast"], s["cell"] - s["background"])
    empty = drift_series(imgs, np.zeros_like(labels), data_range=(0, 255))
    assert np.isnan(empty["cell"]).all() and np.isnan(drift_summary(empty)["contrast"])
    with pytest.raises(UserError, match="data_range"):
        drift_series(imgs, labels, data_range=(5, 5))
    with pytest.raises(UserError, match="same \\(T, Y, X\\)"):
        drift_series(imgs, labels[:, :10], data_range=(0, 255))
