"""The non-learned painter: fitted statistics, output dtype/range, determinism, label pass-through."""

from __future__ import annotations

import json

import numpy as np
import pytest

from masksynth import TrackedMasks
from masksynth.tracked import TrackedVideo
from tgan_aug.baselines import PainterParams, fit_painter, paint
from tgan_aug.baselines.painter import signed_boundary_distance
from tgan_aug.errors import UserError


def _video(masks: TrackedMasks, *, bg: float, cell: float, noise: float, dtype=np.uint8, seed: int = 0) -> TrackedVideo:
    rng = np.random.default_rng(seed)
    t, h, w = masks.labels.shape
    ramp = np.linspace(-5, 5, w, dtype=np.float32)[None, None, :]
    img = bg + ramp + np.where(masks.labels > 0, cell - bg, 0.0) + rng.normal(0, noise, (t, h, w))
    if np.issubdtype(np.dtype(dtype), np.integer):
        info = np.iinfo(dtype)
        img = np.clip(np.rint(img), info.min, info.max)
    return TrackedVideo(masks, img.astype(dtype))


@pytest.fixture
def bright(tracked_factory) -> TrackedVideo:
    return _video(tracked_factory(frames=6, height=48, width=64), bg=100.0, cell=170.0, noise=3.0)


def test_fit_measures_contrast_and_noise(bright):
    p = fit_painter([bright], radius=3)
    assert p.dtype == "uint8"
    assert 55 < p.cell_contrast < 85  # cells are 70 brighter than the background
    assert abs(p.edge_profile[-1]) < 5  # far background: no offset
    assert 1.5 < p.noise_sd < 5.0  # true pixel noise sd 3
    assert p.background.shape == (48, 64)
    # the background follows the ramp and holds no cells
    assert p.background[:, -1].mean() - p.background[:, 0].mean() > 6


def test_paint_dtype_range_and_labels_bit_for_bit(bright, tracked_factory):
    p = fit_painter([bright], radius=3)
    masks = tracked_factory(frames=5, height=40, width=80, seed=3)
    out = paint(masks, p, seed=1)
    assert out.images.dtype == np.uint8
    assert out.images.shape == masks.labels.shape
    assert out.masks.labels is masks.labels or np.array_equal(out.masks.labels, masks.labels)
    assert out.masks.labels.dtype == np.uint16
    assert np.array_equal(out.masks.lineage, masks.lineage)
    assert out.intensity_range == p.intensity_range
    lo, hi = p.intensity_range
    assert out.images.min() >= lo and out.images.max() <= hi


def test_float_data_stays_float_and_in_range(tracked_factory):
    masks = tracked_factory(frames=4)
    video = _video(masks, bg=0.2, cell=0.6, noise=0.02, dtype=np.float32)
    video = TrackedVideo(masks, video.images, intensity_range=(0.0, 1.0))
    p = fit_painter([video], radius=2)
    out = paint(masks, p, seed=0)
    assert out.images.dtype == np.float32
    assert 0.0 <= out.images.min() and out.images.max() <= 1.0


def test_paint_is_deterministic_for_a_seed(bright):
    p = fit_painter([bright], radius=3)
    a = paint(bright.masks, p, seed=7).images
    b = paint(bright.masks, p, seed=7).images
    c = paint(bright.masks, p, seed=8).images
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("cell, sign", [(170.0, 1), (40.0, -1)])
def test_cells_keep_the_fitted_polarity(tracked_factory, cell, sign):
    masks = tracked_factory(frames=6)
    p = fit_painter([_video(masks, bg=100.0, cell=cell, noise=2.0)], radius=3)
    out = paint(masks, p, seed=0).images.astype(np.float64)
    inside = out[masks.labels > 0].mean()
    outside = out[masks.labels == 0].mean()
    assert sign * (inside - outside) > 30


def test_painting_other_sizes_mirror_tiles_the_background(bright, tracked_factory):
    p = fit_painter([bright], radius=3)
    big = tracked_factory(frames=3, height=100, width=150)
    out = paint(big, p, seed=0)
    assert out.images.shape == (3, 100, 150)
    empty = TrackedMasks(np.zeros((2, 20, 30), np.uint16), np.zeros((0, 4), np.int64))
    assert paint(empty, p, seed=0).images.shape == (2, 20, 30)


def test_params_round_trip_through_json(bright):
    p = fit_painter([bright], radius=3)
    q = PainterParams.from_dict(json.loads(json.dumps(p.to_dict())))
    assert np.allclose(q.background, p.background)
    assert np.allclose(q.edge_profile, p.edge_profile)
    assert (q.dtype, q.intensity_range, q.radius) == (p.dtype, p.intensity_range, p.radius)
    assert np.array_equal(paint(bright.masks, p, seed=2).images, paint(bright.masks, q, seed=2).images)


def test_errors_name_the_problem(bright, tracked):
    with pytest.raises(UserError, match="empty list"):
        fit_painter([])
    with pytest.raises(UserError, match="TrackedVideo"):
        fit_painter([tracked])
    d = fit_painter([bright], radius=2).to_dict()
    with pytest.raises(UserError, match="unknown PainterParams key"):
        PainterParams.from_dict({**d, "colour": 1})
    with pytest.raises(UserError, match=r"edge_profile must have 2 \* radius \+ 1 = 5"):
        PainterParams.from_dict({**d, "edge_profile": [0.0, 1.0]})
    with pytest.raises(UserError, match="noise_sd"):
        PainterParams.from_dict({**d, "noise_sd": -1.0})
    empty = TrackedMasks(np.zeros((2, 20, 30), np.uint16), np.zeros((0, 4), np.int64))
    with pytest.raises(UserError, match="no cell pixels"):
        fit_painter([TrackedVideo(empty, np.zeros((2, 20, 30), np.uint8))])


def test_signed_distance_separates_touching_cells():
    lab = np.zeros((9, 12), np.uint16)
    lab[2:7, 2:6] = 1
    lab[2:7, 6:10] = 2
    d = signed_boundary_distance(lab)
    assert d[4, 5] == 0 and d[4, 6] == 0  # the shared border is a boundary
    assert d[4, 3] < 0 and d[0, 0] > 0
    assert d[4, 4] == -1


@pytest.mark.shared_data
def test_fits_real_psc_bright_cells_and_bacteria_dark_cells(shared_data):
    from masksynth.augment import crop, time_slice
    from tgan_aug.io.ctc import read_ctc

    psc = read_ctc(shared_data / "PhC-C2DL-PSC", sequence="02")
    m = crop(time_slice(psc.masks, 0, 4), y=0, x=0, height=256, width=256)
    p = fit_painter([TrackedVideo(m, psc.images[:4, :256, :256])])
    assert p.cell_contrast > 30  # PSC: bright cells on a grey background
    out = paint(m, p, seed=0)
    assert out.images.dtype == np.uint8 and np.array_equal(out.masks.labels, m.labels)
    bac = read_ctc(shared_data / "bacteria-phc", sequence="01")
    t = slice(40, 43)
    m = crop(time_slice(bac.masks, 40, 43), y=600, x=300, height=256, width=256)
    q = fit_painter([TrackedVideo(m, bac.images[t, 600:856, 300:556])])
    assert q.cell_contrast < -10  # bacteria: dark cells with a bright halo
    assert q.edge_profile[q.radius + 2] > q.edge_profile[0]  # halo just outside is brighter than the inside
