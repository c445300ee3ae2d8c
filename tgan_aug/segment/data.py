"""Training data of the segmenter: targets from instance masks, frames of real and synthetic
sequences mixed with :class:`tgan_aug.trackers.dataset.RatioMixture`, and random crops.

Targets follow DeepSea's segmentation training: the foreground target is the cells *without*
the band where two cells touch, and a second head learns that band ("edge"), so that
connected components of the predicted foreground separate touching cells.

Polarity: DeepSea's network was trained on phase-contrast cells darker than their background;
frames whose cells are brighter are inverted (``invert="auto"``, decided per sequence from its
masks with :func:`tgan_aug.trackers.deepsea_crops.cells_are_dark`, the rule of the DeepSea
tracker, where the sense is the other way round because its crops zero the background).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage as ndi
from torch.utils.data import Dataset

from tgan_aug.errors import UserError
from tgan_aug.segment.config import SegmenterConfig
from tgan_aug.trackers.dataset import RatioMixture, Source, load_sources
from tgan_aug.trackers.deepsea_crops import cells_are_dark, normalize_frame, resize_image, resize_labels

__all__ = [
    "segmentation_targets",
    "resolve_polarity",
    "SequenceFrames",
    "mixed_frames",
    "training_crop",
    "crop_batches",
]


def segmentation_targets(labels: np.ndarray, *, edge_width: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Foreground and touching-edge targets of one frame.

    labels: (Y, X) integer instance masks, 0 = background.
    edge_width: half width of the band, pixels: a pixel is "edge" when the (2 w + 1)-square
        around it holds two different cells (0 = no edge band).
    Returns ``(foreground, edge)``, (Y, X) bool each; foreground = cell pixels that are not edge.
    """
    lab = np.asarray(labels).astype(np.int64, copy=False)
    if edge_width <= 0 or lab.max(initial=0) == 0:
        return lab > 0, np.zeros(lab.shape, bool)
    size = 2 * int(edge_width) + 1
    big = int(lab.max()) + 1
    hi = ndi.maximum_filter(lab, size=size)
    lo = ndi.minimum_filter(np.where(lab > 0, lab, big), size=size)
    edge = (lo < big) & (hi != lo)  # two different cells within the window
    return (lab > 0) & ~edge, edge


def resolve_polarity(invert: bool | str, images: np.ndarray, labels: np.ndarray) -> bool:
    """Whether to invert a sequence for the segmenter: ``"auto"`` = its cells are brighter than its
    background (images, labels: (T, Y, X)); True/False as given."""
    if invert == "auto":
        return not cells_are_dark(images, labels)
    return bool(invert)


@dataclass
class SequenceFrames(Dataset):
    """The frames of one sequence: item t = ``{"image": (Y, X) float32 in [0, 1] (min-max per
    frame, inverted when ``invert``), "labels": (Y, X) int32 instance ids, "name", "t"}``."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    invert: bool

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, t: int) -> dict:
        return {"image": normalize_frame(self.images[t], invert=self.invert), "labels": np.asarray(self.labels[t], np.int32),
                "name": self.name, "t": int(t)}


def mixed_frames(
    real: Sequence[Source],
    synthetic: Sequence[Source],
    *,
    ratio: float,
    invert: bool | str = "auto",
    samples_per_epoch: int | None = None,
    seed: int = 0,
) -> RatioMixture:
    """Frames of real and synthetic sequences mixed with synthetic fraction ``ratio``.

    real, synthetic: sources as for :class:`tgan_aug.trackers.dataset.MixedTrackingDataset`
    (CTC folders, stores, ``IMAGES.tif:MASKS.tif``, in-memory TrackedVideo). Polarity is decided
    per sequence (:func:`resolve_polarity`). Items: see :class:`SequenceFrames`.
    """
    pools = {}
    for key, srcs, flag in (("real", real, "--real"), ("synthetic", synthetic, "--synthetic")):
        pools[key] = []
        for name, video in load_sources(srcs, what=flag):
            labels = np.asarray(video.labels)
            pools[key].append(SequenceFrames(name, video.images, labels, resolve_polarity(invert, video.images, labels)))
    return RatioMixture(pools["real"], pools["synthetic"], ratio=ratio, samples_per_epoch=samples_per_epoch, seed=seed)


def _window(shape: tuple[int, int], side: int, labels: np.ndarray, bias: float, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left corner of a side x side window inside ``shape``, centred on a random cell pixel
    with probability ``bias`` (when there is one), else uniform."""
    h, w = shape
    ys, xs = np.nonzero(labels) if rng.random() < bias else ((), ())
    if len(ys):
        k = int(rng.integers(len(ys)))
        cy, cx = int(ys[k]), int(xs[k])
    else:
        cy, cx = int(rng.integers(h)), int(rng.integers(w))
    return int(np.clip(cy - side // 2, 0, h - side)), int(np.clip(cx - side // 2, 0, w - side))


def training_crop(
    image: np.ndarray, labels: np.ndarray, *, config: SegmenterConfig, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One training example from a frame.

    image: (Y, X) float in [0, 1] (already inverted if needed); labels: (Y, X) instance ids.
    A window of ``crop / scale`` image pixels (frames smaller than that are padded: image by
    edge values, masks with background) is resized to ``crop`` x ``crop``; targets come from the
    resized masks. Returns ``x (1, S, S)`` float32 in [-1, 1], ``foreground (S, S)`` and
    ``edge (S, S)`` int64 {0, 1}, augmented when ``config.augment``.
    """
    side = max(int(round(config.crop / config.scale)), 1)
    ph, pw = max(side - image.shape[0], 0), max(side - image.shape[1], 0)
    if ph or pw:
        image = np.pad(image, ((0, ph), (0, pw)), mode="edge")
        labels = np.pad(labels, ((0, ph), (0, pw)))
    y0, x0 = _window(image.shape, side, labels, config.foreground_bias, rng)
    img = resize_image(image[y0 : y0 + side, x0 : x0 + side], config.crop)
    lab = resize_labels(labels[y0 : y0 + side, x0 : x0 + side], config.crop).numpy()
    fg, edge = segmentation_targets(lab, edge_width=config.edge_width)
    x, fg_t, edge_t = img[None], torch.from_numpy(fg.astype(np.int64)), torch.from_numpy(edge.astype(np.int64))
    if config.augment:
        k, flip = int(rng.integers(4)), bool(rng.integers(2))
        x, fg_t, edge_t = (torch.rot90(t, k, dims=(-2, -1)) for t in (x, fg_t, edge_t))
        if flip:
            x, fg_t, edge_t = (torch.flip(t, dims=(-1,)) for t in (x, fg_t, edge_t))
        x = x * float(rng.uniform(0.8, 1.2)) + float(rng.uniform(-0.1, 0.1))
        if rng.random() < 0.5:
            x = x + torch.from_numpy(rng.normal(0, 0.02, size=tuple(x.shape)).astype(np.float32))
        x = x.clamp(0, 1)
    return ((x - 0.5) / 0.5).contiguous(), fg_t.contiguous(), edge_t.contiguous()


def crop_batches(frames: Dataset, *, config: SegmenterConfig, seed: int = 0) -> Iterator[dict[str, torch.Tensor]]:
    """Endless batches ``{"x": (B, 1, S, S), "foreground": (B, S, S), "edge": (B, S, S)}`` of
    ``config.batch_size`` crops, one per frame drawn from ``frames`` (e.g. :func:`mixed_frames`;
    ``set_epoch`` is called at every pass when it exists)."""
    if len(frames) == 0:
        raise UserError("no training frames: the training data holds no frames")
    rng = np.random.default_rng(seed)
    pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    epoch = 0
    while True:
        if hasattr(frames, "set_epoch"):
            frames.set_epoch(epoch)
        for idx in rng.permutation(len(frames)).tolist():
            item = frames[idx]
            pending.append(training_crop(item["image"], item["labels"], config=config, rng=rng))
            if len(pending) == config.batch_size:
                yield {k: torch.stack([p[i] for p in pending]) for i, k in enumerate(("x", "foreground", "edge"))}
                pending = []
        epoch += 1
