"""Fit a model's temporal post-processing on real frames: carry-over and track smoothing.

Why (recipes/RESULTS.md, "Fitted carry-over and track smoothing"): how much a rendered video
changes from frame to frame depends on the model (its seed, its training budget) and the data, so
one fixed setting over-steadies some models and leaves others flickering. On bacteria-phc the
track smoothing beta that best matched the held-out video ranged 0.1-0.225 over three seeds, and the
tGAN's texture, redrawn every frame, left 40 % more warping error than the real video; on
PhC-C2DL-PSC the tGAN's frames were already steadier pixel by pixel than the real ones (warping
error 0.0009 vs 0.0013), so carry-over there only makes them too steady.

How: render real masks (frames the model did not train on, e.g. ``tgan-aug train``'s held-back
frames) with the model, with neither step; then
1. carry-over (:mod:`tgan_aug.render.carry_over`): for every alpha of :data:`ALPHA_GRID`, apply it
   to the rendered frames and keep the alpha whose warping error
   (:func:`tgan_aug.metrics.temporal.warping_errors`) is closest, in log ratio, to the real frames'
   (0 when the render without carry-over is already as steady as the real frames, see :func:`closest`);
2. track smoothing (:mod:`tgan_aug.render.track_smoothing`): on the frames carried over with that
   alpha, for every beta of :data:`BETA_GRID`, keep the beta whose track flicker (mean |change| of
   a cell's mean intensity between consecutive frames) is closest to the real frames'.
Both are applied here in data units after rounding to the data's dtype (the renderer applies them
before); the two agree to within that rounding. Labels must be track ids (linked masks).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tgan_aug.errors import UserError
from tgan_aug.metrics.temporal import track_flicker_sums
from tgan_aug.render.carry_over import CarryState, carry_frame
from tgan_aug.render.track_smoothing import TrackState, smooth_frame

__all__ = ["ALPHA_GRID", "BETA_GRID", "MIN_PAIRS", "TemporalFit", "carry_video", "smooth_video", "flicker_sums",
           "closest", "fit_temporal", "FIT_FRAMES", "fit_on_last_frames"]

#: carry-over alphas tried by the fit (0 = off ... 0.6)
ALPHA_GRID: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
#: track-smoothing betas tried by the fit (0 = off ... 0.6, steps of 0.025)
BETA_GRID: tuple[float, ...] = tuple(float(b) for b in np.round(np.arange(0.0, 0.6001, 0.025), 3))
#: (sum, pairs) of a video's track flicker (:func:`tgan_aug.metrics.temporal.track_flicker_sums`)
flicker_sums = track_flicker_sums
#: fewest (track, frame-pair) observations a fit needs (fewer: the estimates are too noisy)
MIN_PAIRS = 20
#: frames at the end of a training video that :func:`fit_on_last_frames` fits on (the recipes'
#: generators train on every frame, so there are no held-back frames)
FIT_FRAMES = 12


@dataclass(frozen=True)
class TemporalFit:
    """Result of :func:`fit_temporal`.

    carry_over, track_smoothing: the chosen alpha and beta. warp_real / warp_rendered: warping
    error of the real frames / of the rendered ones at each of ``alphas`` (units of the intensity
    range); flicker_real / flicker_rendered: track flicker of the real frames / of the rendered
    ones (carried over with the chosen alpha) at each of ``betas``. pairs: (track, frame-pair)
    observations; frames: real frames used; sequences: their names.
    """

    carry_over: float
    track_smoothing: float
    warp_real: float
    warp_rendered: tuple[float, ...]
    alphas: tuple[float, ...]
    flicker_real: float
    flicker_rendered: tuple[float, ...]
    betas: tuple[float, ...]
    pairs: int
    frames: int
    sequences: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def carry_video(video: np.ndarray, labels: np.ndarray, alpha: float) -> np.ndarray:
    """``video`` (T, Y, X) with carry-over ``alpha`` applied frame by frame: float32 (T, Y, X)."""
    state = CarryState()
    return np.stack([carry_frame(np.asarray(video[t], np.float32), labels[t], state, alpha) for t in range(video.shape[0])])


def smooth_video(video: np.ndarray, labels: np.ndarray, beta: float) -> np.ndarray:
    """``video`` (T, Y, X) with track smoothing ``beta`` applied frame by frame: float32 (T, Y, X).

    labels: (T, Y, X) integer track ids (0 = background).
    """
    state = TrackState()
    return np.stack([smooth_frame(np.asarray(video[t], np.float32), labels[t], state, beta) for t in range(video.shape[0])])


def closest(real: float, rendered: np.ndarray | list[float], grid: tuple[float, ...]) -> float:
    """The grid value whose rendered figure is closest to ``real`` in |log ratio| (the smaller value on a tie).

    ``grid`` is ascending and its first value is "off": the post-processing exists to steady the
    video. When the figure with it off is already at or below ``real`` (the render is as steady as
    the real frames), the first value is returned: there the figure hardly depends on the grid
    value (bacteria-phc fold 0's carry-over: 0.0083-0.0086 for alphas 0-0.6 against 0.0125 real,
    fold 2: 0.0120-0.0122 against 0.0146), and the closest one was picked by noise.
    """
    fr = np.asarray(rendered, dtype=np.float64)
    if fr.shape != (len(grid),) or not np.isfinite(real) or real <= 0 or not np.all(fr > 0):
        raise UserError("closest: needs a positive real figure and one positive rendered figure per grid value")
    if fr[0] <= real:
        return float(grid[0])
    return float(grid[int(np.argmin(np.abs(np.log(fr / real))))])


def fit_temporal(checkpoint: str | Path, videos: list[tuple[str, np.ndarray, np.ndarray]], *, seed: int = 0,
                 device: str = "cpu", alphas: tuple[float, ...] = ALPHA_GRID,
                 betas: tuple[float, ...] = BETA_GRID) -> TemporalFit:
    """Fit carry-over and track smoothing of a model file on real frames (see the module docstring).

    videos: ``[(name, images (T, Y, X) in data units, labels (T, Y, X) track ids)]``, frames the
    model did not train on, at the data's resolution (as ``tgan-aug render`` takes masks).
    Rendering uses the model's default intensity match and ``seed``.
    Raises :class:`UserError` when the frames hold fewer than :data:`MIN_PAIRS` (track, frame-pair)
    observations (too few frames or cells) or the labels are not linked across frames.
    """
    from masksynth.tracked import NotLinkedError, TrackedMasks
    from tgan_aug.metrics.temporal import warping_errors
    from tgan_aug.render.video import render_video

    items = []  # (name, real images, labels, range, masks)
    pairs, real_sum = 0, 0.0
    for name, images, labels in videos:
        if np.asarray(labels).shape[0] < 2:
            continue
        try:
            masks = TrackedMasks.from_labels(np.asarray(labels))
        except NotLinkedError as exc:
            raise UserError(f"fitting carry-over and track smoothing needs linked masks (a cell keeps its label from "
                            f"frame to frame); sequence {name!r}: {exc}") from None
        lab = masks.labels  # (a track that leaves and comes back is renumbered: no pair across the gap)
        lo, hi = float(np.min(images)), float(np.max(images))
        rng = (lo, hi if hi > lo else lo + 1.0)
        total, n = track_flicker_sums(images, lab, data_range=rng)
        if n == 0:
            continue
        pairs, real_sum = pairs + n, real_sum + total
        items.append((str(name), np.asarray(images), lab, rng, masks))
    if pairs < MIN_PAIRS:
        raise UserError(f"fitting carry-over and track smoothing needs >= {MIN_PAIRS} cells followed over two frames "
                        f"in the held-back frames, found {pairs}: hold back more frames (--holdout) or give linked "
                        f"(tracked) masks")
    rendered = [render_video(checkpoint, masks, seed=seed, device=device, name=name, carry_over=0.0,
                             track_smoothing=0.0).images for name, _, _, _, masks in items]

    def warp(video, rng):
        return warping_errors(video, data_range=rng)

    warp_real = np.concatenate([warp(img, rng) for _, img, _, rng, _ in items]).mean()
    warp_fake = [np.concatenate([warp(carry_video(r, lab, a), rng) for (_, _, lab, rng, _), r in zip(items, rendered)]).mean()
                 for a in alphas]
    alpha = closest(float(warp_real), warp_fake, alphas)
    carried = [carry_video(r, lab, alpha) for (_, _, lab, _, _), r in zip(items, rendered)]
    flicker_real = real_sum / pairs
    flicker_fake = [sum(track_flicker_sums(smooth_video(c, lab, b), lab, data_range=rng)[0]
                        for (_, _, lab, rng, _), c in zip(items, carried)) / pairs for b in betas]
    beta = closest(flicker_real, flicker_fake, betas)
    return TemporalFit(alpha, beta, float(warp_real), tuple(float(v) for v in warp_fake), tuple(float(a) for a in alphas),
                       float(flicker_real), tuple(float(v) for v in flicker_fake), tuple(float(b) for b in betas), pairs,
                       sum(int(it[1].shape[0]) for it in items), tuple(it[0] for it in items))


def fit_on_last_frames(checkpoint: str | Path, video: Any, *, name: str = "fit", frames: int = FIT_FRAMES,
                       seed: int = 0, device: str = "cpu") -> TemporalFit:
    """:func:`fit_temporal` on the last ``frames`` frames of ``video`` (a TrackedVideo, usually the
    model's own training video): for generators trained on every frame of their data (the recipes'),
    which hold nothing back. Raises :class:`UserError` as :func:`fit_temporal` (too few cells)."""
    k = min(int(frames), int(video.n_frames))
    return fit_temporal(checkpoint, [(name, np.asarray(video.images[-k:]), np.asarray(video.masks.labels[-k:]))],
                        seed=seed, device=device)
