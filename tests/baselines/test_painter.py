"""The non-learned painter: fitted statistics, output dtype/range, determinism, label pass-through."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from masksynth import TrackedMasks
from masksynth.tracked import TrackedVideo
from scipy import ndimage as ndi

from tgan_aug.baselines import PainterParams, fit_painter, load_painter, paint, save_painter
from tgan_aug.baselines.painter import GAIN_QUANTILES, MIN_DIVISIONS, _track_gains, boundary_distances, gain_heritability
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
    with pytest.raises(UserError, match="cell_gains must be 21 increasing quantiles > 0"):
        PainterParams.from_dict({**d, "cell_gains": [-1.0] * 21})
    with pytest.raises(UserError, match="version 1 is not supported"):
        PainterParams.from_dict({**d, "version": 1})
    empty = TrackedMasks(np.zeros((2, 20, 30), np.uint16), np.zeros((0, 4), np.int64))
    with pytest.raises(UserError, match="no cell pixels"):
        fit_painter([TrackedVideo(empty, np.zeros((2, 20, 30), np.uint8))])


def test_touching_cells_and_bridged_sisters_share_one_outline():
    lab = np.zeros((9, 14), np.uint16)
    lab[2:7, 2:6] = 1
    lab[2:7, 6:10] = 2  # touches 1
    lab[2:7, 12:14] = 3  # 2 px gap to 2
    signed, junction, nearest = boundary_distances(lab)
    assert signed[4, 5] < 0 and signed[4, 6] < 0  # the shared border is inside, not an edge
    assert junction[4, 5] == 0 and junction[4, 6] == 0 and junction[4, 3] == 2
    assert signed[4, 10] > 0 and signed[4, 11] > 0  # unrelated cells: the gap is background
    assert signed[0, 0] > 0 and signed[2, 2] == 0
    assert nearest[0, 0] == 1 and nearest[4, 4] == 1 and nearest[8, 13] == 3
    parents = np.array([0, 0, 9, 9])  # 2 and 3 are sisters: their gap is bridged
    signed, junction, _ = boundary_distances(lab, parents)
    assert signed[4, 10] < 0 and signed[4, 11] < 0 and junction[4, 10] == 0
    empty_signed, _, empty_nearest = boundary_distances(np.zeros((4, 5), np.uint16))
    assert np.all(empty_signed > 1e5) and not empty_nearest.any()


def _discs(frames: int = 3, *, rows: int = 4, cols: int = 5, radius: int = 7, pitch: int = 24) -> TrackedMasks:
    """Static, separate discs on a grid: labels (frames, rows * pitch, cols * pitch), ids 1 .. rows * cols."""
    yy, xx = np.mgrid[: rows * pitch, : cols * pitch]
    frame = np.zeros(yy.shape, np.uint16)
    for i in range(rows):
        for j in range(cols):
            cy, cx = i * pitch + pitch // 2, j * pitch + pitch // 2
            frame[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2] = i * cols + j + 1
    n = rows * cols
    lineage = np.array([[k, 0, frames - 1, 0] for k in range(1, n + 1)], np.int64)
    return TrackedMasks(np.repeat(frame[None], frames, 0), lineage)


def _fluorescence(masks: TrackedMasks, brightness: np.ndarray, *, bg: float = 20.0, blur: float = 2.0, seed: int = 0) -> TrackedVideo:
    """Bright-on-dark cells with soft edges: cell k has ``brightness[k]`` above ``bg``; uint8."""
    rng = np.random.default_rng(seed)
    lut = np.concatenate([[0.0], brightness]).astype(np.float32)
    img = bg + np.stack([ndi.gaussian_filter(lut[f], blur) for f in masks.labels]) + rng.normal(0, 1.0, masks.labels.shape)
    return TrackedVideo(masks, np.clip(np.rint(img), 0, 255).astype(np.uint8))


def test_dim_cells_stay_brighter_than_the_background_with_no_dark_ring():
    masks = _discs()
    brightness = np.random.default_rng(1).uniform(3.0, 150.0, 20)  # some cells barely above the background
    p = fit_painter([_fluorescence(masks, brightness)], radius=4)
    assert p.cell_gains.min() > 0
    lab = masks.labels[0]
    ring = ndi.binary_dilation(lab > 0, iterations=2) & (lab == 0)
    near = ndi.distance_transform_edt(lab == 0, return_indices=True)[1]
    owner = lab[near[0], near[1]]
    for seed in range(4):
        out = paint(masks, p, seed=seed).images[0].astype(np.float64)
        bg_mean = out[ndi.distance_transform_edt(lab == 0) > 6].mean()
        for k in range(1, 21):
            assert out[lab == k].mean() > bg_mean + 1, f"seed {seed}: cell {k} is not brighter than the background"
            assert out[ring & (owner == k)].mean() > bg_mean - 1, f"seed {seed}: a dark ring around cell {k}"


def test_dividing_daughters_are_not_cut_by_a_dark_line():
    # fitted on separate soft-edged cells (no junctions in the data: nothing says a seam is dark)
    fit_masks = _discs()
    p = fit_painter([_fluorescence(fit_masks, np.full(20, 100.0))], radius=4)
    contrast = p.cell_contrast
    yy, xx = np.mgrid[:48, :48]
    disc = (yy - 24) ** 2 + (xx - 24) ** 2 <= 14**2
    for gap in (0, 2):  # daughters touching, or cut apart by a 2-pixel gap (as masksynth divides)
        frame = np.zeros((48, 48), np.uint16)
        frame[disc & (xx < 24)] = 2
        frame[disc & (xx >= 24 + gap)] = 3
        mother = np.where(disc, 1, 0).astype(np.uint16)
        masks = TrackedMasks(np.stack([mother, frame, frame]), np.array([[1, 0, 0, 0], [2, 1, 2, 1], [3, 1, 2, 1]], np.int64))
        out = paint(masks, p, seed=0).images.astype(np.float64)
        across = out[1, 18:31, 14:36].mean(0)  # mean intensity across the cut, columns 14 .. 35
        interior = out[1][disc & (np.abs(xx - 24) > 4) & (np.abs(xx - 24) < 9)].mean()
        assert across.min() > interior - 0.15 * contrast, f"gap {gap}: a dark line through the daughters"


def test_a_dark_seam_in_the_data_is_painted():
    # cells that touch in the data with a dark seam between them: the junction profile keeps it
    frame = np.zeros((96, 128), np.uint16)
    for k, (y, x) in enumerate((y, x) for y in range(8, 96, 32) for x in range(8, 128, 40)):
        frame[y : y + 16, x : x + 10] = 2 * k + 1
        frame[y : y + 16, x + 10 : x + 20] = 2 * k + 2  # touching
    n = int(frame.max())
    masks = TrackedMasks(np.repeat(frame[None], 3, 0), np.array([[k, 0, 2, 0] for k in range(1, n + 1)], np.int64))
    video = _fluorescence(masks, np.full(n, 100.0), blur=1.0)
    seam = np.zeros(frame.shape, bool)
    for y in range(8, 96, 32):
        for x in range(8, 128, 40):
            seam[y : y + 16, x + 9 : x + 11] = True
    images = video.images.copy()
    images[:, seam] = 20  # the data shows a dark seam between touching cells
    p = fit_painter([TrackedVideo(masks, images)], radius=4)
    assert p.junction_profile[0] < -0.3 * p.cell_contrast


def test_daughters_keep_their_mothers_gain(tracked_factory):
    masks = _discs()  # no divisions in the data: nothing says daughters differ from their mother
    p = fit_painter([_fluorescence(masks, np.random.default_rng(2).uniform(10.0, 200.0, 20))], radius=4)
    assert p.cell_gains[-1] / p.cell_gains[0] > 2
    m = tracked_factory(frames=6, divide_at=3)  # cell 1 divides into 4 and 5 at t = 3
    out = paint(m, p, seed=5).images.astype(np.float64)
    means = {k: out[3][m.labels[3] == k].mean() for k in (4, 5)}
    mother = out[2][m.labels[2] == 1].mean()
    assert abs(means[4] - means[5]) < 0.25 * p.cell_contrast
    assert abs(means[4] - mother) < 0.4 * p.cell_contrast


def _rods(frames: int = 3, *, rows: int = 5, cols: int = 8, length: int = 14, width: int = 3, pitch: int = 20) -> TrackedMasks:
    """Static thin rods (``width`` px, like bacteria) on a grid: labels (frames, rows * pitch, cols * pitch)."""
    frame = np.zeros((rows * pitch, cols * pitch), np.uint16)
    for i in range(rows):
        for j in range(cols):
            y, x = i * pitch + (pitch - length) // 2, j * pitch + (pitch - width) // 2
            frame[y : y + length, x : x + width] = i * cols + j + 1
    n = rows * cols
    return TrackedMasks(np.repeat(frame[None], frames, 0), np.array([[k, 0, frames - 1, 0] for k in range(1, n + 1)], np.int64))


def test_identical_dark_rods_with_a_halo_get_one_gain():
    # phase contrast: every rod equally dark with a bright halo; only pixel noise differs between them
    masks = _rods()
    rng = np.random.default_rng(0)
    cells = (masks.labels > 0).astype(np.float32)
    halo = np.stack([ndi.gaussian_filter(f, 2.5) for f in cells]) - cells
    img = 120.0 - 60.0 * cells + 90.0 * halo + rng.normal(0, 4.0, cells.shape)
    p = fit_painter([TrackedVideo(masks, np.clip(np.rint(img), 0, 255).astype(np.uint8))], radius=4)
    assert p.cell_contrast < -30
    q10, q90 = np.interp([0.1, 0.9], GAIN_QUANTILES, p.cell_gains)
    assert 0.8 < q10 and q90 < 1.25, f"identical rods fitted gains {q10:.2f} .. {q90:.2f} (10-90 %)"


def test_gain_heritability_is_measured_on_divisions():
    rng = np.random.default_rng(3)
    mothers = rng.lognormal(0.0, 0.5, 60)
    parents = [np.concatenate([[0] * 61, np.arange(1, 61)])]  # track 60 + k is the daughter of track k
    def gains(daughters):
        return {**{(0, k + 1): float(g) for k, g in enumerate(mothers)},
                **{(0, 61 + k): float(g) for k, g in enumerate(daughters)}}
    h_kept, n = gain_heritability(gains(mothers * rng.lognormal(0.0, 0.02, 60)), parents)
    assert n == 60 and h_kept > 0.95
    h_free, _ = gain_heritability(gains(rng.lognormal(0.0, 0.5, 60)), parents)
    assert h_free < 0.4
    h_half, _ = gain_heritability(gains(np.sqrt(mothers) * rng.lognormal(0.0, 0.35, 60)), parents)
    assert h_free < h_half < h_kept
    few = {k: v for k, v in gains(rng.lognormal(0.0, 0.5, 60)).items() if k[1] < 60 + MIN_DIVISIONS}
    assert gain_heritability(few, parents) == (1.0, MIN_DIVISIONS - 1)  # too few divisions: daughters keep the gain


def test_a_colony_grown_from_one_founder_spreads_over_the_gains():
    p = fit_painter([_fluorescence(_discs(), np.linspace(10.0, 200.0, 20))], radius=4)
    rows, tid = [[1, 0, 0, 0]], 1  # a binary tree: 6 generations, 127 tracks, each lives one frame
    for gen in range(1, 7):
        for mother in [r[0] for r in rows if r[1] == gen - 1]:
            rows += [[tid + 1, gen, gen, mother], [tid + 2, gen, gen, mother]]
            tid += 2
    lineage = np.array(rows, np.int64)
    leaves = lineage[lineage[:, 1] == 6, 0]
    kept = _track_gains(tid, lineage, dataclasses.replace(p, gain_heritability=1.0), np.random.default_rng(0))
    assert np.all(kept[1:] == kept[1])  # every cell repeats the founder's one draw
    spread = _track_gains(tid, lineage, dataclasses.replace(p, gain_heritability=0.5), np.random.default_rng(0))
    assert spread[1] == kept[1]  # same founder draw, same random stream
    q10, q90 = np.interp([0.1, 0.9], GAIN_QUANTILES, p.cell_gains)
    assert np.ptp(spread[leaves]) > 0.5 * (q90 - q10)
    assert p.cell_gains[0] <= spread[1:].min() and spread[1:].max() <= p.cell_gains[-1]


def test_fit_file_round_trip_and_errors(bright, tmp_path):
    p = fit_painter([bright], radius=3)
    path = save_painter(p, tmp_path / "fit")
    assert path.name == "fit.npz" and path.stat().st_size < 200_000
    q = load_painter(path)
    assert np.array_equal(q.background, p.background) and np.array_equal(q.cell_gains, p.cell_gains)
    assert q.gain_heritability == p.gain_heritability
    assert np.array_equal(paint(bright.masks, p, seed=3).images, paint(bright.masks, q, seed=3).images)
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(UserError, match="not a painter fit"):
        load_painter(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(UserError, match="cannot read a painter fit"):
        load_painter(tmp_path / "junk.npz")
    d = p.to_dict()
    meta = {k: v for k, v in d.items() if k not in ("background", "edge_profile", "junction_profile", "cell_gains")}
    arrays = {k: getattr(p, k) for k in ("background", "edge_profile", "junction_profile", "cell_gains")}
    np.savez(tmp_path / "old.npz", meta=np.array(json.dumps({**meta, "version": 2})), **arrays)
    with pytest.raises(UserError, match="format version 2 is not supported"):
        load_painter(tmp_path / "old.npz")
    np.savez(tmp_path / "pickled.npz", meta=np.array([{"a": 1}], dtype=object), **arrays)
    with pytest.raises(UserError, match="cannot read a painter fit"):
        load_painter(tmp_path / "pickled.npz")


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


@pytest.mark.shared_data
def test_bacteria_fold_gains_are_not_torn_apart(shared_data):
    # the fold-1 limited crop of bacteria-phc: a quarter of its cells are brighter inside their mask
    # than the background, so the per-cell ratio of summed contrast (painter v2) put >= 10 % of the
    # cells at the floor gain (invisible) and the top 10 % above 6x (black rods in white halos);
    # fitted per track on the cell's pixels and halo, the spread is that of real cells
    from tgan_aug.fold_data import DATASETS, load_dataset, split_fold

    spec = dataclasses.replace(DATASETS["bacteria"], path=str(shared_data / "bacteria-phc"))
    _, video = load_dataset(spec)
    p = fit_painter([split_fold(video, 1).limited])
    q10, q50, q90 = np.interp([0.1, 0.5, 0.9], GAIN_QUANTILES, p.cell_gains)
    assert 0.2 < q10 and 0.7 < q50 < 1.4 and q90 < 3.0, (q10, q50, q90)
    assert p.extra["n_divisions"] >= MIN_DIVISIONS and 0.0 < p.gain_heritability < 1.0
