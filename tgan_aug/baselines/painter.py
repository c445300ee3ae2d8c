"""A non-learned painter: the simplest way to turn tracked masks into microscopy-like frames.

Fitted from real videos (:func:`fit_painter`, seconds on a CPU):

- ``background`` (Y, X): the cell-free median background of the first video
  (:func:`tgan_aug.training.background.estimate_background`, cells dilated and inpainted);
- ``edge_profile``: the mean of ``image - background`` as a function of the signed distance to
  the outline of the cells (negative inside, positive outside), at integer distances
  ``-radius .. +radius``. Touching cells share one outline (their common border is inside), and so
  do sisters of a division with a small gap between them (the cut :mod:`masksynth` leaves), so
  daughters are not cut apart by an edge profile drawn on both sides of their border;
- ``junction_profile``: what real data adds, on top of the edge profile, at 0 .. ``JUNCTION``
  pixels from a border between two touching cells (a dark line only where the data has one);
- ``cell_gains``: quantiles of the per-track contrast gain (least squares of a track's contrast,
  over its pixels and halo in all its frames, on the contrast the profiles predict there; a ratio
  of sums over the cell's pixels alone goes negative for the 16-28 % of bacteria-phc's cells whose
  masks are brighter inside than the background, although their halo says dark-cell as clearly),
  all > 0. A cell's whole profile (inside, edge and halo) is scaled by its gain, so a dim cell stays
  on the bright side of the background and keeps a halo of its own polarity instead of a ring of
  the opposite one;
- ``gain_heritability``: how much of a mother's gain her daughters keep: the Gaussian-copula
  correlation between a mother's and a daughter's track gain (from their rank correlation over the
  divisions in the data; 1 when the data has fewer than ``MIN_DIVISIONS``). A colony grown from
  one founder then spreads over the gain distribution as real colonies do, instead of every cell
  repeating the founder's one draw;
- ``noise_sd``: sd of ``image - background`` far from any cell (pixel noise and texture);
- the images' dtype and intensity range.

:func:`paint` draws, for every frame, ``background + gain * (edge + junction profile)`` (the gain
of the nearest cell, one draw per track, a daughter's correlated with her mother's by
``gain_heritability``), blurs the contrast (Gaussian, ``blur_sigma`` pixels),
adds white noise and casts to the fitted dtype, clipped to the fitted intensity range. Labels
and lineage pass through unchanged. Deterministic for a seed. Numpy/scipy only (no torch).

A fit is kept as a small ``.npz`` file (:func:`save_painter` / :func:`load_painter`, read with
``allow_pickle=False``), which ``tgan-aug render --renderer painter --fit FILE`` takes as well as data.
"""

from __future__ import annotations

import json
import os
import dataclasses
from dataclasses import field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from scipy import ndimage as ndi
from scipy import special, stats

from masksynth.configbase import ConfigBase, configclass, jsonable
from masksynth.tracked import TrackedMasks, TrackedVideo
from tgan_aug.contacts import parent_table, sister_gaps
from tgan_aug.errors import UserError, reject_unknown_keys

__all__ = ["PainterParams", "fit_painter", "track_gains", "gain_heritability", "paint", "paint_frames", "boundary_distances",
           "save_painter", "load_painter"]

PAINTER_VERSION = 3  # 3: per-track least-squares gains and gain_heritability (session 25)
#: pixels from a cell-cell border over which the junction profile is fitted and painted
JUNCTION = 3
#: quantiles at which the per-track gains are stored
GAIN_QUANTILES = np.linspace(0.0, 1.0, 21)
#: smallest gain a painted cell gets (its contrast keeps the fitted polarity)
MIN_GAIN = 0.05
#: fewer mother-daughter pairs than this in the data: gain_heritability stays 1 (daughters keep the gain)
MIN_DIVISIONS = 5
_FAR = 1e6
#: profile bins with fewer than this share of the cell pixels copy their nearest well-filled bin
MIN_BIN_SHARE = 0.002
#: junction bins measured on fewer pixels stay 0 (no seam)
MIN_JUNCTION_PIXELS = 50


@configclass
class PainterParams(ConfigBase):
    """What :func:`fit_painter` measured; everything :func:`paint` needs.

    background: (Y, X) float32, cell-free background in image units.
    edge_profile: (2 * radius + 1,) float, mean ``image - background`` at signed distances
        ``-radius .. radius`` pixels from the cells' outline (negative = inside a cell).
    junction_profile: (JUNCTION + 1,) float, contrast added at 0 .. JUNCTION pixels inside a cell
        from a border with another cell (image units, before the cell's gain).
    cell_gains: (21,) float > 0, quantiles (0, 5, .., 100 %) of the per-track contrast gain.
    gain_heritability: in [0, 1], correlation (Gaussian copula) of a daughter's gain with her
        mother's; 1 = daughters keep their mother's gain, 0 = every track draws its own.
    radius: int, half-width of the profile in pixels; deeper interior uses the first bin,
        farther background the last.
    noise_sd: sd (image units) of the white noise added after blurring.
    blur_sigma: Gaussian blur (pixels) applied to the painted contrast map.
    dtype: numpy dtype name of the fitted images ("uint8", "uint16", "float32").
    intensity_range: (low, high) of the fitted images; output is clipped to it.
    extra: JSON-able notes (what it was fitted on).
    """

    background: np.ndarray
    edge_profile: np.ndarray
    junction_profile: np.ndarray = field(default_factory=lambda: np.zeros(JUNCTION + 1))
    cell_gains: np.ndarray = field(default_factory=lambda: np.ones(GAIN_QUANTILES.size))
    gain_heritability: float = 1.0
    radius: int = 8
    noise_sd: float = 0.0
    blur_sigma: float = 1.0
    dtype: str = "uint8"
    intensity_range: tuple[float, float] = (0.0, 255.0)
    version: int = PAINTER_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    WHAT = "PainterParams"

    def validate(self) -> None:
        """Convert the arrays and check every field; raises :class:`UserError` naming it."""
        self.background = np.asarray(self.background, dtype=np.float32)
        self.edge_profile = np.asarray(self.edge_profile, dtype=np.float64).ravel()
        self.junction_profile = np.asarray(self.junction_profile, dtype=np.float64).ravel()
        self.cell_gains = np.asarray(self.cell_gains, dtype=np.float64).ravel()
        if int(self.version) != PAINTER_VERSION:
            raise UserError(
                f"PainterParams version {self.version} is not supported (supported: {PAINTER_VERSION}); refit the painter"
            )
        if self.background.ndim != 2 or min(self.background.shape, default=0) < 1:
            raise UserError(f"PainterParams.background must be a (Y, X) image, got shape {self.background.shape}")
        if int(self.radius) < 1:
            raise UserError(f"PainterParams.radius must be >= 1, got {self.radius}")
        self.radius = int(self.radius)
        if self.edge_profile.shape != (2 * self.radius + 1,):
            raise UserError(
                f"PainterParams.edge_profile must have 2 * radius + 1 = {2 * self.radius + 1} values, "
                f"got {self.edge_profile.size}"
            )
        if self.junction_profile.shape != (JUNCTION + 1,):
            raise UserError(f"PainterParams.junction_profile must have {JUNCTION + 1} values, got {self.junction_profile.size}")
        if (self.cell_gains.shape != GAIN_QUANTILES.shape or not np.all(np.isfinite(self.cell_gains))
                or self.cell_gains.min() <= 0 or np.any(np.diff(self.cell_gains) < 0)):
            raise UserError(
                f"PainterParams.cell_gains must be {GAIN_QUANTILES.size} increasing quantiles > 0, got {self.cell_gains.tolist()}"
            )
        heritability = float(self.gain_heritability)
        if not 0.0 <= heritability <= 1.0:
            raise UserError(f"PainterParams.gain_heritability must be in [0, 1], got {self.gain_heritability}")
        self.gain_heritability = heritability
        for name in ("noise_sd", "blur_sigma"):
            value = float(getattr(self, name))
            if not np.isfinite(value) or value < 0:
                raise UserError(f"PainterParams.{name} must be a finite number >= 0, got {value}")
            setattr(self, name, value)
        try:
            dt = np.dtype(self.dtype)
        except TypeError:
            raise UserError(f"PainterParams.dtype must be a numpy dtype name, got {self.dtype!r}") from None
        if not (np.issubdtype(dt, np.integer) or np.issubdtype(dt, np.floating)):
            raise UserError(f"PainterParams.dtype must be an integer or float dtype, got {dt}")
        self.dtype = dt.name
        lo, hi = (float(v) for v in self.intensity_range)
        if not hi >= lo:
            raise UserError(f"PainterParams.intensity_range must be (low, high) with low <= high, got {(lo, hi)}")
        self.intensity_range = (lo, hi)

    @property
    def cell_contrast(self) -> float:
        """Mean ``image - background`` deep inside cells (> 0: bright cells, < 0: dark cells)."""
        return float(self.edge_profile[0])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PainterParams":
        """Rebuild from :meth:`to_dict`'s output (arrays as nested lists); unknown keys raise :class:`UserError`."""
        reject_unknown_keys(cls, data, what=cls.WHAT)
        for key in ("background", "edge_profile"):
            if key not in data:
                raise UserError(f"PainterParams dict lacks '{key}'; pass the output of PainterParams.to_dict()")
        return super().from_dict(data)


_ARRAYS = ("background", "edge_profile", "junction_profile", "cell_gains")


def save_painter(params: PainterParams, path: str | os.PathLike) -> Path:
    """Write a fit as an ``.npz`` (the arrays + a JSON ``meta`` string with the format version).

    Returns the path written (``.npz`` appended when missing). Overwrites ``path``: callers check first.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    # the scalar fields only: to_dict() would first turn the background image into nested lists
    meta = jsonable({f.name: getattr(params, f.name) for f in dataclasses.fields(params) if f.name not in _ARRAYS})
    arrays = {k: getattr(params, k) for k in _ARRAYS}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial.npz")
    np.savez_compressed(tmp, meta=np.array(json.dumps(meta)), **arrays)
    os.replace(tmp, path)  # never a half-written fit under the final name
    return path


def load_painter(path: str | os.PathLike) -> PainterParams:
    """Read a fit written by :func:`save_painter` (no pickles); a wrong file or version raises :class:`UserError`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            if "meta" not in names or not set(_ARRAYS) <= names:
                raise UserError(f"{path}: not a painter fit (lacks {sorted({'meta', *_ARRAYS} - names)}); "
                                "write one with 'tgan-aug fit-painter DATA -o FIT.npz' (or save_painter)")
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in _ARRAYS}
    except UserError:
        raise
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: cannot read a painter fit ({type(exc).__name__}: {exc}); give an .npz from save_painter") from None
    if not isinstance(meta, dict):
        raise UserError(f"{path}: painter fit metadata is not a JSON object")
    version = meta.get("version")
    if version != PAINTER_VERSION:
        raise UserError(f"{path}: painter fit format version {version} is not supported "
                        f"(supported: {PAINTER_VERSION}); refit from the data")
    return PainterParams.from_dict({**meta, **arrays})


def boundary_distances(labels: np.ndarray, parents: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distances that the painter's profiles are functions of, for one frame.

    labels: (Y, X) integer, 0 = background, value = cell id.
    parents: optional (max_id + 1,) int, the parent track of every id (0 = none;
        :func:`tgan_aug.contacts.parent_table`): sisters (daughters of one division) separated by a
        background gap of up to ``SISTER_REACH`` (2) pixels, such as the cut :mod:`masksynth` leaves
        between daughters, are bridged (:func:`tgan_aug.contacts.sister_gaps`): the gap belongs to
        their junction.
    Cells that touch, and bridged sisters, form one body whose common border is a junction, not an edge.
    Returns three (Y, X) arrays:
    - ``signed`` float32: signed distance (pixels) to the outline of the bodies, ``<= 0`` inside
      (0 on body pixels next to background, -k k pixels deeper), ``> 0`` outside (distance to the
      nearest cell pixel). A border between two cells is inside, not an edge.
    - ``junction`` float32: inside bodies, distance to the nearest junction pixel (a cell pixel next
      to a different cell, or a gap pixel); a large constant elsewhere.
    - ``nearest`` int: the label of the nearest cell pixel (the pixel's own label inside cells;
      0 everywhere when the frame has no cells).
    No +inf anywhere: an empty frame gets a large positive constant.
    """
    labels = np.asarray(labels)
    cells = labels != 0
    far = np.full(labels.shape, _FAR, dtype=np.float32)
    if not cells.any():
        return far, far.copy(), np.zeros(labels.shape, dtype=labels.dtype)
    gap = sister_gaps(labels, parents) if parents is not None else np.zeros(labels.shape, dtype=bool)
    body = cells | gap
    pad = np.pad(labels, 1, mode="edge")
    pad_body = np.pad(body, 1, mode="edge")
    core = pad[1:-1, 1:-1]
    next_to_bg = np.zeros(labels.shape, dtype=bool)
    next_to_cell = np.zeros(labels.shape, dtype=bool)
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        window = (slice(dy, dy + labels.shape[0]), slice(dx, dx + labels.shape[1]))
        nb = pad[window]
        next_to_bg |= ~pad_body[window]
        next_to_cell |= (nb != core) & (nb != 0)
    outline = body & next_to_bg
    inside = ndi.distance_transform_edt(~outline) if outline.any() else np.full(labels.shape, _FAR)
    outside, (iy, ix) = ndi.distance_transform_edt(~cells, return_indices=True)
    signed = np.where(body, -inside, outside).astype(np.float32)
    border = (cells & next_to_cell) | gap
    junction = far
    if border.any():
        junction = np.where(body, ndi.distance_transform_edt(~border), _FAR).astype(np.float32)
    return signed, junction, labels[iy, ix]


def _bins(signed: np.ndarray, junction: np.ndarray, radius: int) -> np.ndarray:
    """Flat 2D bin index: signed-distance bin (0 .. 2r) * (JUNCTION + 2) + junction bin (JUNCTION + 1 = far)."""
    d = np.clip(np.rint(signed), -radius, radius).astype(np.int64) + radius
    j = np.minimum(np.rint(junction), JUNCTION + 1).astype(np.int64)
    return d * (JUNCTION + 2) + j


def _check_videos(videos: Any) -> list[TrackedVideo]:
    if isinstance(videos, TrackedVideo):
        videos = [videos]
    videos = list(videos)
    if not videos:
        raise UserError("fit_painter needs at least one TrackedVideo (images with masks), got an empty list")
    for i, v in enumerate(videos):
        if not isinstance(v, TrackedVideo):
            raise UserError(
                f"fit_painter: item {i} is a {type(v).__name__}, expected a TrackedVideo (images with masks); "
                "masks alone carry no intensities to fit"
            )
    return videos


def _fill_empty(values: np.ndarray, counts: np.ndarray, *, min_count: float = 1.0) -> np.ndarray:
    """Copy the nearest bin with at least ``min_count`` pixels into the others (e.g. cells thinner than the radius)."""
    filled = np.flatnonzero(counts >= max(min_count, 1.0))
    if filled.size == 0:
        filled = np.flatnonzero(counts > 0)
    out = values.copy()
    for b in np.setdiff1d(np.arange(values.size), filled):
        out[b] = values[filled[np.argmin(np.abs(filled - b))]]
    return out


def track_gains(xy: np.ndarray, xx: np.ndarray, track: np.ndarray) -> dict[tuple[int, int], float]:
    """Least-squares gain of every track: ``sum(xy) / sum(xx)`` over its rows.

    xy: (N,) float, per cell and frame ``sum(contrast * predicted contrast)`` over the cell's pixels
        and halo; xx: (N,) float, ``sum(predicted contrast ** 2)`` there; track: (N, 2) int,
        (video index, track id) of each row. Tracks whose prediction is all zero are left out.
    Returns {(video index, track id): gain}.
    """
    keys, inv = np.unique(track, axis=0, return_inverse=True)
    inv = inv.ravel()
    num = np.bincount(inv, weights=xy, minlength=len(keys))
    den = np.bincount(inv, weights=xx, minlength=len(keys))
    return {(int(v), int(k)): float(num[i] / den[i]) for i, (v, k) in enumerate(keys.tolist()) if den[i] > 1e-12}


def gain_heritability(gains: dict[tuple[int, int], float], parents: list[np.ndarray]) -> tuple[float, int]:
    """How much of a mother's contrast gain her daughters keep, measured on real tracks.

    gains: {(video index, track id): gain} (:func:`track_gains`); parents: per video, the parent
    of every track id (:func:`tgan_aug.contacts.parent_table`). Returns ``(rho, n)``: the
    Gaussian-copula correlation ``2 sin(pi r / 6)`` from the Spearman correlation r of the n
    (mother, daughter) gain pairs, clipped to [0, 1]; ``(1.0, n)`` when n < :data:`MIN_DIVISIONS`
    or the gains are constant (daughters keep their mother's gain).
    """
    pairs = []
    for (v, k), gain in gains.items():
        parent = int(parents[v][k]) if k < len(parents[v]) else 0
        if parent and (v, parent) in gains:
            pairs.append((gains[(v, parent)], gain))
    if len(pairs) < MIN_DIVISIONS:
        return 1.0, len(pairs)
    mother, daughter = np.asarray(pairs).T
    r = stats.spearmanr(mother, daughter).statistic
    if not np.isfinite(r):
        return 1.0, len(pairs)
    return float(np.clip(2.0 * np.sin(np.pi * r / 6.0), 0.0, 1.0)), len(pairs)


def fit_painter(
    videos: list[TrackedVideo],
    *,
    radius: int = 8,
    blur_sigma: float = 1.0,
    max_frames: int = 32,
    dilate: int = 5,
) -> PainterParams:
    """Measure background, edge and junction profiles, per-track gains, their heritability and noise from real videos.

    videos: one or more :class:`TrackedVideo` (images (T, Y, X), any real dtype). The background
        is the first video's cell-free median; everything else pools all videos.
    radius: half-width (pixels) of the signed-distance edge profile.
    blur_sigma: Gaussian blur (pixels) that :func:`paint` applies to the painted contrast.
    max_frames: at most this many evenly spaced frames per video are used (time and memory).
    dilate: pixels grown around cells when estimating the background (phase-contrast halo).
    Returns :class:`PainterParams` with the first video's dtype and the union of intensity ranges.
    """
    from tgan_aug.training.background import estimate_background

    videos = _check_videos(videos)
    radius = int(radius)
    if radius < 1:
        raise UserError(f"fit_painter: radius must be >= 1 pixel, got {radius}")
    if max_frames < 1:
        raise UserError(f"fit_painter: max_frames must be >= 1, got {max_frames}")
    n_d, n_j = 2 * radius + 1, JUNCTION + 2
    sums = np.zeros(n_d * n_j)
    counts = np.zeros(n_d * n_j)
    per_cell_sums: list[np.ndarray] = []  # per cell and frame: summed contrast per 2D bin (its pixels and halo)
    per_cell_bins: list[np.ndarray] = []  # per cell and frame: pixel counts per 2D bin
    per_cell_track: list[np.ndarray] = []  # per cell and frame: (video, track id)
    parent_tables: list[np.ndarray] = []
    far_sds: list[float] = []
    background = None
    for vi, video in enumerate(videos):
        images = np.asarray(video.images, dtype=np.float32)
        labels = video.masks.labels
        parents = parent_table(video.masks.lineage, int(labels.max()))
        parent_tables.append(parents)
        idx = np.arange(images.shape[0])
        if idx.size > max_frames:
            idx = idx[np.linspace(0, idx.size - 1, max_frames).round().astype(np.int64)]
        bg = estimate_background(images, labels, dilate=dilate, frames=idx)
        if vi == 0:
            background = bg
        for t in idx.tolist():
            lab = labels[t]
            resid = (images[t] - bg).astype(np.float64)
            signed, junction, nearest = boundary_distances(lab, parents)
            bins = _bins(signed, junction, radius)
            sums += np.bincount(bins.ravel(), weights=resid.ravel(), minlength=sums.size)
            counts += np.bincount(bins.ravel(), minlength=counts.size)
            far = signed > max(radius, dilate + 1)
            if far.sum() > 16:
                far_sds.append(float(resid[far].std()))
            own = (signed <= radius) & (nearest > 0)  # what paint scales by a cell's gain: its pixels and halo
            if own.any():
                ids, inv = np.unique(nearest[own], return_inverse=True)
                cell_bin = inv * sums.size + bins[own]
                per_cell_sums.append(np.bincount(cell_bin, weights=resid[own], minlength=ids.size * sums.size)
                                     .reshape(ids.size, sums.size))
                per_cell_bins.append(np.bincount(cell_bin, minlength=ids.size * sums.size).reshape(ids.size, sums.size))
                per_cell_track.append(np.stack([np.full(ids.size, vi), ids.astype(np.int64)], axis=1))
    S, C = sums.reshape(n_d, n_j), counts.reshape(n_d, n_j)
    if C[: radius + 1].sum() == 0:
        raise UserError("fit_painter: the videos contain no cell pixels; fit on videos whose masks are not empty")
    # edge profile from all pixels at each signed distance (junction pixels included: cells far
    # from any junction are few and atypical in dense data, e.g. large flat cells)
    prof_counts = C.sum(1)
    profile = _fill_empty(np.divide(S.sum(1), prof_counts, out=np.zeros(n_d), where=prof_counts > 0), prof_counts,
                          min_count=MIN_BIN_SHARE * prof_counts[: radius + 1].sum())
    # junction: the mean residual left over by the edge profile at 0 .. JUNCTION px from a cell-cell border
    # (0 where the data has too few junction pixels to say)
    expected = C[:, :-1] * profile[:, None]
    n_junc = C[:, :-1].sum(0)
    junction = np.divide((S[:, :-1] - expected).sum(0), n_junc, out=np.zeros(JUNCTION + 1), where=n_junc >= MIN_JUNCTION_PIXELS)
    # per-track gains: least squares of the track's contrast (its pixels and halo, all its frames)
    # on the contrast the profiles predict there
    pred_table = (profile[:, None] + np.append(junction, 0.0)[None, :]).ravel()
    gains = np.array([1.0])
    heritability, n_divisions = 1.0, 0
    if per_cell_sums:
        fitted = track_gains(np.concatenate(per_cell_sums) @ pred_table, np.concatenate(per_cell_bins) @ pred_table ** 2,
                             np.concatenate(per_cell_track))
        if fitted:
            gains = np.array(list(fitted.values()))
        heritability, n_divisions = gain_heritability(fitted, parent_tables)
    cell_gains = np.maximum(np.quantile(gains, GAIN_QUANTILES), MIN_GAIN)
    lows = [v.intensity_range[0] for v in videos]
    highs = [v.intensity_range[1] for v in videos]
    return PainterParams(
        background=background,
        edge_profile=profile,
        junction_profile=junction,
        cell_gains=np.maximum.accumulate(cell_gains),
        gain_heritability=heritability,
        radius=radius,
        noise_sd=float(np.median(far_sds)) if far_sds else 0.0,
        blur_sigma=float(blur_sigma),
        dtype=np.dtype(videos[0].images.dtype).name,
        intensity_range=(float(min(lows)), float(max(highs))),
        extra={"n_videos": len(videos), "source_shape": list(videos[0].images.shape), "n_divisions": n_divisions},
    )


def _mirror_index(n_out: int, n_in: int) -> np.ndarray:
    i = np.arange(n_out) % (2 * n_in)
    return np.where(i < n_in, i, 2 * n_in - 1 - i)


def background_for(params: PainterParams, shape: tuple[int, int]) -> np.ndarray:
    """The fitted background cropped (top-left) or mirror-tiled to ``shape`` = (Y, X); float32."""
    bg = params.background
    if bg.shape == tuple(shape):
        return bg
    return bg[np.ix_(_mirror_index(shape[0], bg.shape[0]), _mirror_index(shape[1], bg.shape[1]))]


def _check_paint_args(masks: Any, params: Any) -> TrackedMasks:
    if isinstance(masks, TrackedVideo):
        masks = masks.masks
    if not isinstance(masks, TrackedMasks):
        raise UserError(f"paint: masks must be TrackedMasks, got {type(masks).__name__}")
    if not isinstance(params, PainterParams):
        raise UserError(f"paint: params must be PainterParams (from fit_painter), got {type(params).__name__}")
    return masks


def _track_gains(max_id: int, lineage: np.ndarray | None, params: PainterParams, rng: np.random.Generator) -> np.ndarray:
    """(max_id + 1,) float32 gains, one draw per track id from the fitted quantiles.

    A daughter's draw is tied to her mother's through a Gaussian copula with correlation
    ``params.gain_heritability`` (normal scores ``z_d = h z_m + sqrt(1 - h^2) z``); at 1 she keeps
    her mother's gain exactly. One uniform draw per id either way, so the noise after it is the same.
    """
    gains = np.ones(max_id + 1, dtype=np.float32)
    if not max_id:
        return gains
    u = rng.random(max_id)
    gains[1:] = np.interp(u, GAIN_QUANTILES, params.cell_gains)
    if lineage is None or not len(lineage):
        return gains
    h = params.gain_heritability
    z = special.ndtri(np.clip(np.concatenate([[0.5], u]), 1e-12, 1.0 - 1e-12)) if h < 1.0 else None
    for tid, _, _, parent in sorted(np.asarray(lineage, dtype=np.int64).tolist(), key=lambda row: row[1]):
        if 0 < parent <= max_id and 0 < tid <= max_id:
            if z is None:
                gains[tid] = gains[parent]
            else:
                z[tid] = h * z[parent] + np.sqrt(1.0 - h * h) * z[tid]
                gains[tid] = np.interp(special.ndtr(z[tid]), GAIN_QUANTILES, params.cell_gains)
    return gains


def paint_frames(labels: np.ndarray, params: PainterParams, *, lineage: np.ndarray | None = None,
                 seed: int = 0) -> Iterator[np.ndarray]:
    """Yield painted frames one by one (streaming form of :func:`paint`).

    labels: (T, Y, X) integer, 0 = background, value = track id (one gain per id).
    lineage: (N, 4) rows ``id, t_start, t_end, parent``: a daughter's gain follows her mother's by
        ``params.gain_heritability`` (None: all independent).
    Yields T arrays (Y, X) in ``params.dtype``, clipped to ``params.intensity_range``.
    """
    n_frames, height, width = labels.shape
    rng = np.random.default_rng(int(seed))
    bg = background_for(params, (height, width))
    r = params.radius
    grid = np.arange(-r, r + 1, dtype=np.float64)
    max_id = int(labels.max()) if labels.size else 0
    gains = _track_gains(max_id, lineage, params, rng)
    parents = parent_table(lineage, max_id)
    lo, hi = params.intensity_range
    dtype = np.dtype(params.dtype)
    for t in range(n_frames):
        lab = labels[t]
        signed, junction, nearest = boundary_distances(lab, parents)
        contrast = np.interp(signed, grid, params.edge_profile)
        contrast += np.interp(junction, np.arange(JUNCTION + 1), params.junction_profile, right=0.0)
        contrast = (contrast * gains[nearest]).astype(np.float32)
        if params.blur_sigma > 0:
            contrast = ndi.gaussian_filter(contrast, params.blur_sigma)
        frame = bg + contrast
        if params.noise_sd > 0:
            frame = frame + rng.normal(0.0, params.noise_sd, size=frame.shape).astype(np.float32)
        frame = np.clip(frame, lo, hi)
        if np.issubdtype(dtype, np.integer):
            frame = np.rint(frame)
        yield frame.astype(dtype)


def paint(masks: TrackedMasks, params: PainterParams, *, seed: int = 0, lineage: bool = True) -> TrackedVideo:
    """Paint frames for tracked masks with a fitted :class:`PainterParams`.

    masks: :class:`TrackedMasks`, labels (T, Y, X) uint16. Any size: the background is cropped or
        mirror-tiled to (Y, X).
    params: from :func:`fit_painter` or :func:`load_painter`.
    seed: seeds the per-track gains (a daughter's tied to her mother's by ``params.gain_heritability``)
        and the noise; same seed, same output.
    lineage: False paints as if the masks had no divisions (the lineage of
        ``TrackedMasks.from_labels(labels)``: every track draws its own gain and sisters are not
        bridged; only a track that leaves and comes back keeps its gain).
    Returns :class:`TrackedVideo` with the same ``masks`` object (labels bit for bit), images
    (T, Y, X) in ``params.dtype`` clipped to ``params.intensity_range``.
    """
    masks = _check_paint_args(masks, params)
    drawn = masks if lineage else TrackedMasks.from_labels(masks.labels, check_linked=False)
    out = np.empty(masks.labels.shape, dtype=np.dtype(params.dtype))
    for t, frame in enumerate(paint_frames(drawn.labels, params, lineage=drawn.lineage, seed=seed)):
        out[t] = frame
    return TrackedVideo(
        masks=masks,
        images=out,
        intensity_range=params.intensity_range,
        provenance={"generator": "painter", "seed": int(seed), "painter_version": params.version},
    )
