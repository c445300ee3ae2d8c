"""A non-learned painter: the simplest way to turn tracked masks into microscopy-like frames.

Fitted from real videos (:func:`fit_painter`):

- ``background`` (Y, X): the cell-free median background of the first video
  (:func:`tgan_aug.training.background.estimate_background`, cells dilated and inpainted);
- ``edge_profile``: the mean of ``image - background`` as a function of the signed distance to
  the nearest cell boundary (negative inside a cell, positive outside), at integer distances
  ``-radius .. +radius``. Its innermost bin is the mean cell contrast (bright or dark cells), the
  bins around 0 hold the phase-contrast halo and the edge;
- ``cell_sd``: spread of the per-cell mean contrast between cells (each track keeps one draw);
- ``noise_sd``: sd of ``image - background`` far from any cell (pixel noise and texture);
- the images' dtype and intensity range.

:func:`paint` draws, for every frame, ``background + profile(signed distance) + per-cell offset``,
blurs it (Gaussian, ``blur_sigma`` pixels), adds white noise and casts to the fitted dtype,
clipped to the fitted intensity range. Labels and lineage pass through unchanged. Deterministic
for a seed. Numpy/scipy only (no torch).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from masksynth.tracked import TrackedMasks, TrackedVideo
from tgan_aug.errors import UserError, reject_unknown_keys

__all__ = ["PainterParams", "fit_painter", "paint", "signed_boundary_distance"]

PAINTER_VERSION = 1


@dataclass
class PainterParams:
    """What :func:`fit_painter` measured; everything :func:`paint` needs.

    background: (Y, X) float32, cell-free background in image units.
    edge_profile: (2 * radius + 1,) float, mean ``image - background`` at signed distances
        ``-radius .. radius`` pixels from the nearest cell boundary (negative = inside a cell).
    radius: int, half-width of the profile in pixels; deeper interior uses the first bin,
        farther background the last.
    cell_sd: sd (image units) of the per-cell mean contrast between cells.
    noise_sd: sd (image units) of the white noise added after blurring.
    blur_sigma: Gaussian blur (pixels) applied to the painted contrast map.
    dtype: numpy dtype name of the fitted images ("uint8", "uint16", "float32").
    intensity_range: (low, high) of the fitted images; output is clipped to it.
    """

    background: np.ndarray
    edge_profile: np.ndarray
    radius: int = 8
    cell_sd: float = 0.0
    noise_sd: float = 0.0
    blur_sigma: float = 1.0
    dtype: str = "uint8"
    intensity_range: tuple[float, float] = (0.0, 255.0)
    version: int = PAINTER_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.background = np.asarray(self.background, dtype=np.float32)
        self.edge_profile = np.asarray(self.edge_profile, dtype=np.float64).ravel()
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
        for name in ("cell_sd", "noise_sd", "blur_sigma"):
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
        if int(self.version) != PAINTER_VERSION:
            raise UserError(
                f"PainterParams version {self.version} is not supported (supported: {PAINTER_VERSION}); refit the painter"
            )

    @property
    def cell_contrast(self) -> float:
        """Mean ``image - background`` deep inside cells (> 0: bright cells, < 0: dark cells)."""
        return float(self.edge_profile[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (the background as nested lists); :meth:`from_dict` inverts it."""
        out = dataclasses.asdict(self)
        out["background"] = self.background.tolist()
        out["edge_profile"] = self.edge_profile.tolist()
        out["intensity_range"] = list(self.intensity_range)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PainterParams":
        """Rebuild from :meth:`to_dict`'s output; unknown keys raise :class:`UserError`."""
        reject_unknown_keys(cls, data, what="PainterParams")
        for key in ("background", "edge_profile"):
            if key not in data:
                raise UserError(f"PainterParams dict lacks '{key}'; pass the output of PainterParams.to_dict()")
        return cls(**data)


def signed_boundary_distance(labels: np.ndarray) -> np.ndarray:
    """Signed distance (pixels) to the nearest cell boundary, for one frame.

    labels: (Y, X) integer, 0 = background, value = cell id. Touching cells are separated: the
    boundary is every cell pixel next to a different label (another cell or background).
    Returns (Y, X) float32: ``<= 0`` inside cells (0 on the boundary pixels, -k k pixels deeper),
    ``> 0`` outside (distance to the nearest cell pixel); all +inf-free (an empty frame gets a
    large positive constant).
    """
    labels = np.asarray(labels)
    cells = labels != 0
    if not cells.any():
        return np.full(labels.shape, 1e6, dtype=np.float32)
    pad = np.pad(labels, 1, mode="edge")
    core = pad[1:-1, 1:-1]
    differs = np.zeros(labels.shape, dtype=bool)
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        differs |= pad[dy : dy + labels.shape[0], dx : dx + labels.shape[1]] != core
    boundary = cells & differs
    if boundary.any():
        inside = ndi.distance_transform_edt(~boundary)
    else:  # one cell filling the frame
        inside = np.full(labels.shape, 1e6)
    outside = ndi.distance_transform_edt(~cells)
    return np.where(cells, -inside, outside).astype(np.float32)


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


def fit_painter(
    videos: list[TrackedVideo],
    *,
    radius: int = 8,
    blur_sigma: float = 1.0,
    max_frames: int = 32,
    dilate: int = 5,
) -> PainterParams:
    """Measure background, cell contrast, edge profile and noise from real videos.

    videos: one or more :class:`TrackedVideo` (images (T, Y, X), any real dtype). The background
        is the first video's cell-free median; the profile and noise pool all videos.
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
    n_bins = 2 * radius + 1
    sums = np.zeros(n_bins)
    counts = np.zeros(n_bins)
    cell_means: list[float] = []
    far_sds: list[float] = []
    background = None
    for vi, video in enumerate(videos):
        images = np.asarray(video.images, dtype=np.float32)
        labels = video.masks.labels
        idx = np.arange(images.shape[0])
        if idx.size > max_frames:
            idx = idx[np.linspace(0, idx.size - 1, max_frames).round().astype(np.int64)]
        bg = estimate_background(images, labels, dilate=dilate, frames=idx)
        if vi == 0:
            background = bg
        for t in idx.tolist():
            lab = labels[t]
            resid = images[t] - bg
            sd = signed_boundary_distance(lab)
            bins = np.clip(np.rint(sd), -radius, radius).astype(np.int64) + radius
            sums += np.bincount(bins.ravel(), weights=resid.ravel().astype(np.float64), minlength=n_bins)
            counts += np.bincount(bins.ravel(), minlength=n_bins)
            far = sd > max(radius, dilate + 1)
            if far.sum() > 16:
                far_sds.append(float(resid[far].std()))
            if lab.any():
                ids = lab.ravel()
                n = np.bincount(ids)
                s = np.bincount(ids, weights=resid.ravel().astype(np.float64))
                present = np.flatnonzero(n[1:]) + 1
                cell_means.extend((s[present] / n[present]).tolist())
    if counts[: radius + 1].sum() == 0:
        raise UserError("fit_painter: the videos contain no cell pixels; fit on videos whose masks are not empty")
    profile = np.divide(sums, counts, out=np.zeros(n_bins), where=counts > 0)
    # empty bins (e.g. cells thinner than the radius): copy the nearest filled bin
    filled = np.flatnonzero(counts > 0)
    for b in np.flatnonzero(counts == 0):
        profile[b] = profile[filled[np.argmin(np.abs(filled - b))]]
    lows = [v.intensity_range[0] for v in videos]
    highs = [v.intensity_range[1] for v in videos]
    return PainterParams(
        background=background,
        edge_profile=profile,
        radius=radius,
        cell_sd=float(np.std(cell_means)) if len(cell_means) > 1 else 0.0,
        noise_sd=float(np.median(far_sds)) if far_sds else 0.0,
        blur_sigma=float(blur_sigma),
        dtype=np.dtype(videos[0].images.dtype).name,
        intensity_range=(float(min(lows)), float(max(highs))),
        extra={"n_videos": len(videos), "source_shape": list(videos[0].images.shape)},
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


def paint(masks: TrackedMasks, params: PainterParams, *, seed: int = 0) -> TrackedVideo:
    """Paint frames for tracked masks with a fitted :class:`PainterParams`.

    masks: :class:`TrackedMasks`, labels (T, Y, X) uint16. Any size: the background is cropped or
        mirror-tiled to (Y, X).
    params: from :func:`fit_painter`.
    seed: seeds the per-cell offsets and the noise; same seed, same output.
    Returns :class:`TrackedVideo` with the same ``masks`` object (labels bit for bit), images
    (T, Y, X) in ``params.dtype`` clipped to ``params.intensity_range``.
    """
    if isinstance(masks, TrackedVideo):
        masks = masks.masks
    if not isinstance(masks, TrackedMasks):
        raise UserError(f"paint: masks must be TrackedMasks, got {type(masks).__name__}")
    if not isinstance(params, PainterParams):
        raise UserError(f"paint: params must be PainterParams (from fit_painter), got {type(params).__name__}")
    labels = masks.labels
    n_frames, height, width = labels.shape
    rng = np.random.default_rng(int(seed))
    bg = background_for(params, (height, width))
    r = params.radius
    grid = np.arange(-r, r + 1, dtype=np.float64)
    max_id = int(labels.max()) if labels.size else 0
    offsets = np.zeros(max_id + 1, dtype=np.float32)
    if max_id and params.cell_sd > 0:
        offsets[1:] = rng.normal(0.0, params.cell_sd, size=max_id).astype(np.float32)
    lo, hi = params.intensity_range
    dtype = np.dtype(params.dtype)
    out = np.empty(labels.shape, dtype=dtype)
    for t in range(n_frames):
        lab = labels[t]
        sd = signed_boundary_distance(lab)
        contrast = np.interp(sd, grid, params.edge_profile).astype(np.float32)
        contrast += np.where(lab > 0, offsets[lab], 0.0).astype(np.float32)
        if params.blur_sigma > 0:
            contrast = ndi.gaussian_filter(contrast, params.blur_sigma)
        frame = bg + contrast
        if params.noise_sd > 0:
            frame = frame + rng.normal(0.0, params.noise_sd, size=frame.shape).astype(np.float32)
        frame = np.clip(frame, lo, hi)
        if np.issubdtype(dtype, np.integer):
            frame = np.rint(frame)
        out[t] = frame.astype(dtype)
    return TrackedVideo(
        masks=masks,
        images=out,
        intensity_range=(lo, hi),
        provenance={"generator": "painter", "seed": int(seed), "painter_version": params.version},
    )
