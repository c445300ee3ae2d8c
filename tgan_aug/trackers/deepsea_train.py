"""Fine-tune DeepSea's tracker on tracked CTC data, real and synthetic, from the shipped weights.

Training pairs come from two-frame windows of :class:`tgan_aug.trackers.dataset.MixedTrackingDataset`
(real and synthetic mixed with a synthetic fraction ``ratio``): for a cell of frame t-1 that
continues in frame t (same track id) or divides (its daughters start at t), the inputs are the
crops of :mod:`deepsea_crops` and the target is that cell's mask in frame t (both daughters after
a division), cropped and resized the same way. Cells that leave or end give no pair. As in
DeepSea, division pairs are over-sampled (``division_weight``) and the loss is cross-entropy +
Dice (both classes, over the batch). Augmentation: flips and 90-degree turns applied to the three
crops alike, contrast/brightness jitter of the cell pixels and mild Gaussian noise.

Defaults suit fine-tuning (DeepSea trained from scratch with RMSprop, lr 1e-3, batch 16): Adam,
lr 1e-4, batch 8 crops, BatchNorm statistics frozen at the shipped values (``freeze_bn``), since
a few hundred crops are too few to re-estimate them.

The result is a model folder (:func:`tgan_aug.trackers.deepsea_net.save_tracker_folder`):
``model.pt`` + ``config.json`` with the tracking settings, this config, the data and the loss
history; ``tgan-aug track --tracker deepsea --model DIR`` uses it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from masksynth.configbase import ConfigBase, configclass
from tgan_aug.errors import UserError
from tgan_aug.fitting import new_output_dir, optimizer_step, run_steps, set_train_mode
from tgan_aug.trackers.deepsea_crops import cell_boxes, cell_pair, normalize_frame, resize_labels, resolve_invert
from tgan_aug.trackers.deepsea_track import DeepSeaTrackConfig

__all__ = [
    "DeepSeaTrainConfig",
    "window_pairs",
    "crop_batches",
    "deepsea_loss",
    "train_step",
    "train_deepsea",
    "fit_deepsea",
    "finetune_and_track_deepsea",
]


@configclass
class DeepSeaTrainConfig(ConfigBase):
    """Fine-tuning settings. Presets: ``tiny`` (tests: 5 steps, batch 4), ``small`` (CPU:
    100 steps of 8 crops), ``default`` (2000 steps of 16 crops, for a GPU).

    lr: Adam learning rate. batch_size: crops per step. max_steps: optimiser steps.
    cells_per_window: most crops taken from one frame pair. division_weight: how much more
    likely a dividing cell is drawn than a continuing one. augment: flips/turns, intensity
    jitter, noise. freeze_bn: keep BatchNorm running statistics (and eval-mode normalisation)
    of the starting weights. samples_per_epoch: two-frame windows per pass of the mixing
    Dataset (None: all windows). grad_clip: gradient-norm clip (0 = off).
    """

    preset: str = "small"
    lr: float = 1e-4
    weight_decay: float = 1e-8
    batch_size: int = 8
    max_steps: int = 100
    cells_per_window: int = 8
    division_weight: float = 10.0
    augment: bool = True
    freeze_bn: bool = True
    samples_per_epoch: int | None = None
    grad_clip: float = 1.0

    PRESETS = {"tiny": {"batch_size": 4, "max_steps": 5, "cells_per_window": 4}, "small": {},
               "default": {"max_steps": 2000, "batch_size": 16}}
    DEFAULT_PRESET = "small"
    WHAT = "DeepSea training config"
    PRESET_WHAT = "DeepSea training"

    def validate(self) -> None:
        if not self.lr > 0:
            raise UserError(f"--lr must be > 0, got {self.lr}")
        if self.batch_size < 1 or self.max_steps < 1 or self.cells_per_window < 1:
            raise UserError(
                f"--batch-size, --max-steps and cells_per_window must be >= 1, got {self.batch_size}, {self.max_steps}, {self.cells_per_window}"
            )
        if self.division_weight < 0:
            raise UserError(f"division_weight must be >= 0, got {self.division_weight}")
        if self.samples_per_epoch is not None and self.samples_per_epoch < 1:
            raise UserError(f"--samples-per-epoch must be >= 1, got {self.samples_per_epoch}")


# ----------------------------------------------------------------------------- training pairs


def _targets(labels0: np.ndarray, labels1: np.ndarray, lineage: np.ndarray) -> dict[int, tuple[list[int], bool]]:
    """Cell of frame 0 -> (its ids in frame 1, divides?) for cells that continue or divide.

    labels0, labels1: (Y, X) track ids of frames 0 and 1; lineage: (N, 4) rows of the window.
    A track that ends at frame 0 with one child starting at frame 1 continues as that child.
    """
    ids0 = set(np.unique(labels0).tolist()) - {0}
    ids1 = set(np.unique(labels1).tolist()) - {0}
    lin = np.asarray(lineage, dtype=np.int64).reshape(-1, 4)
    children: dict[int, list[int]] = {}
    for tid, t0, _, parent in lin.tolist():
        if parent > 0 and t0 == 1 and tid in ids1:
            children.setdefault(parent, []).append(tid)
    out: dict[int, tuple[list[int], bool]] = {}
    for i in sorted(ids0):
        if i in ids1:
            out[i] = ([i], False)
        elif children.get(i):
            out[i] = (sorted(children[i]), len(children[i]) >= 2)
    return out


def window_pairs(
    images: np.ndarray,
    labels: np.ndarray,
    lineage: np.ndarray,
    *,
    track: DeepSeaTrackConfig,
    max_cells: int,
    division_weight: float = 10.0,
    rng: np.random.Generator,
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, bool]]:
    """Training pairs of one two-frame window.

    images: (2, Y, X) float; labels: (2, Y, X) track ids; lineage: (N, 4) rows of the window
    (frame 0 = t-1). ``track.invert == "auto"`` is decided on the window's two frames. At most
    ``max_cells`` cells are drawn without replacement, dividing ones
    ``division_weight`` times as likely. Returns ``[(prev (1,S,S), curr (1,S,S), target (S,S)
    int64 {0,1}, divides)]``.
    """
    labels = np.asarray(labels)
    targets = _targets(labels[0], labels[1], lineage)
    if not targets:
        return []
    ids = list(targets)
    w = np.array([division_weight if targets[i][1] else 1.0 for i in ids], dtype=float)
    w = w + 1e-9
    pick = rng.choice(len(ids), size=min(max_cells, len(ids)), replace=False, p=w / w.sum())
    boxes = cell_boxes(labels[0], window_scale=track.window_scale, min_window=track.min_window)
    invert = resolve_invert(track.invert, images, labels)
    img0 = normalize_frame(images[0], invert=invert)
    img1 = normalize_frame(images[1], invert=invert)
    out = []
    for k in sorted(pick.tolist()):
        i = ids[k]
        prev, curr, lab = cell_pair(img0, labels[0], i, img1, labels[1], boxes[i], size=track.crop_size)
        target = resize_labels(np.isin(lab, targets[i][0]).astype(np.uint8), track.crop_size)
        out.append((prev, curr, target, targets[i][1]))
    return out


def _augment(prev: torch.Tensor, curr: torch.Tensor, target: torch.Tensor, rng: np.random.Generator):
    """Same flip/turn for the three crops; intensity jitter of cell pixels; noise. Inputs in [-1, 1]."""
    k = int(rng.integers(4))
    flip = bool(rng.integers(2))
    out = []
    for x in (prev, curr, target):
        x = torch.rot90(x, k, dims=(-2, -1))
        out.append(torch.flip(x, dims=(-1,)) if flip else x)
    prev, curr, target = out
    res = []
    for x in (prev, curr):
        v = (x + 1) / 2
        cell = v > 0
        gain, offset = float(rng.uniform(0.75, 1.25)), float(rng.uniform(-0.1, 0.1))
        v = torch.where(cell, v * gain + offset, v)
        if rng.random() < 0.5:
            v = v + torch.from_numpy(rng.normal(0, 0.03, size=tuple(v.shape)).astype(np.float32))
        res.append(v.clamp(0, 1) * 2 - 1)
    return res[0], res[1], target


def crop_batches(
    windows,
    *,
    track: DeepSeaTrackConfig,
    config: DeepSeaTrainConfig,
    seed: int = 0,
) -> Iterator[dict[str, torch.Tensor]]:
    """Endless batches of ``config.batch_size`` training crops from a two-frame window dataset.

    windows: a map-style dataset of window dicts (``images`` (2, Y, X), ``labels`` (2, Y, X),
    ``lineage`` (N, 4)), e.g. :class:`MixedTrackingDataset` with ``window=2``; ``set_epoch`` is
    called at every pass when it exists. Yields ``{"prev": (B,1,S,S), "curr": (B,1,S,S),
    "target": (B,S,S) int64, "divides": (B,) bool}``.
    Raises UserError when a whole pass over the windows gives no pair.
    """
    rng = np.random.default_rng(seed)
    pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, bool]] = []
    epoch = 0
    while True:
        if hasattr(windows, "set_epoch"):
            windows.set_epoch(epoch)
        got = 0
        for idx in rng.permutation(len(windows)).tolist():
            item = windows[idx]
            pairs = window_pairs(
                np.asarray(item["images"]), np.asarray(item["labels"]), np.asarray(item["lineage"]),
                track=track, max_cells=config.cells_per_window, division_weight=config.division_weight, rng=rng,
            )
            got += len(pairs)
            for p, c, tgt, div in pairs:
                if config.augment:
                    p, c, tgt = _augment(p, c, tgt, rng)
                pending.append((p, c, tgt, div))
                if len(pending) == config.batch_size:
                    yield {
                        "prev": torch.stack([x[0] for x in pending]),
                        "curr": torch.stack([x[1] for x in pending]),
                        "target": torch.stack([x[2] for x in pending]),
                        "divides": torch.tensor([x[3] for x in pending]),
                    }
                    pending = []
        if got == 0:
            raise UserError("no training pairs: no cell continues or divides between consecutive frames of the training data")
        epoch += 1


# ----------------------------------------------------------------------------- loss and step


def deepsea_loss(logits: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-6) -> torch.Tensor:
    """DeepSea's tracker loss: cross-entropy + (1 - Dice), Dice averaged over the two classes,
    each over the whole batch. logits: (B, 2, S, S); target: (B, S, S) int64 {0, 1}."""
    ce = F.cross_entropy(logits, target)
    probs = F.softmax(logits.float(), dim=1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    sums = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    dice = ((2 * inter + eps) / (sums + eps)).mean()
    return ce + (1 - dice)


def train_step(net: nn.Module, batch: Mapping[str, torch.Tensor], optimizer: torch.optim.Optimizer, *,
               device: str | torch.device = "cpu", grad_clip: float = 1.0) -> dict[str, float]:
    """One optimiser step on a crop batch (see :func:`crop_batches`); returns ``{"loss": float}``."""
    logits = net(batch["prev"].to(device), batch["curr"].to(device))
    loss = deepsea_loss(logits, batch["target"].to(device))
    return {"loss": optimizer_step(net, loss, optimizer, grad_clip=grad_clip, what="DeepSea tracker")}


def train_deepsea(
    windows,
    out_dir: str | Path,
    *,
    config: DeepSeaTrainConfig | None = None,
    track: DeepSeaTrackConfig | None = None,
    init: str | Path | None = None,
    crop_size: int | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fine-tune the DeepSea tracker on a two-frame window dataset and save a model folder.

    windows: map-style dataset of window dicts (see :func:`crop_batches`).
    init: None = start from the shipped weights; a DeepSea model folder = continue from it
        (its tracking settings are kept unless ``track`` is given).
    crop_size: train (and later track) at this network input size instead of the settings'
        (:meth:`DeepSeaTrackConfig.with_crop_size`).
    Returns ``{"model_dir", "history" (loss every step), "steps", "seconds"}``.
    """
    from tgan_aug.trackers.deepsea_net import load_deepsea_tracker, save_tracker_folder

    config = config or DeepSeaTrainConfig.preset("small")
    config.validate()
    out_dir = new_output_dir(out_dir, overwrite)
    if len(windows) == 0:
        raise UserError("no training windows: every sequence has fewer than 2 frames")
    device = torch.device(device)
    net, meta = load_deepsea_tracker(init, device=device)
    if track is None:
        track = DeepSeaTrackConfig.from_dict(meta["track"]) if meta.get("track") else DeepSeaTrackConfig()
    if crop_size is not None:
        track = track.with_crop_size(crop_size)
    track.validate()
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=config.lr, weight_decay=config.weight_decay)
    batches = crop_batches(windows, track=track, config=config, seed=seed)
    start = time.time()
    set_train_mode(net, freeze_bn=config.freeze_bn)
    history = run_steps(lambda b: train_step(net, b, optimizer, device=device, grad_clip=config.grad_clip)["loss"],
                        batches, config.max_steps, desc="fine-tuning deepsea", progress=progress)
    net.eval()
    seconds = time.time() - start
    summary = {"history": history, "steps": len(history), "seconds": seconds, "seed": seed,
               "init": str(init) if init is not None else "deepsea/trained_models/tracker.pth"}
    save_tracker_folder(net, out_dir, track=track, extra={"train": dataclasses.asdict(config), **summary, **(extra or {})})
    return {"model_dir": out_dir, **summary}


def fit_deepsea(
    real: Sequence[Any],
    synthetic: Sequence[Any],
    out_dir: str | Path,
    *,
    ratio: float,
    config: DeepSeaTrainConfig | None = None,
    track: DeepSeaTrackConfig | None = None,
    init: str | Path | None = None,
    crop_size: int | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune DeepSea on real and synthetic data mixed with synthetic fraction ``ratio``.

    real, synthetic: sources for :class:`MixedTrackingDataset` (CTC folders, stores,
    ``IMAGES.tif:MASKS.tif`` with tracked masks, or in-memory TrackedVideo). Windows are two
    frames (t-1, t), uncropped. Writes the model folder ``out_dir`` (:func:`train_deepsea`).
    """
    from tgan_aug.trackers.dataset import MixedTrackingDataset, check_training_request

    config = config or DeepSeaTrainConfig.preset("small")
    config.validate()
    out_dir = check_training_request(real, synthetic, ratio=ratio, out_dir=out_dir, overwrite=overwrite)
    windows = MixedTrackingDataset(real, synthetic, ratio=ratio, window=2, crop=None,
                                   samples_per_epoch=config.samples_per_epoch, seed=seed, as_torch=False)
    extra = {"data": {"real": [str(s) if isinstance(s, (str, Path)) else "<in-memory>" for s in real],
                      "synthetic": [str(s) if isinstance(s, (str, Path)) else "<in-memory>" for s in synthetic],
                      "ratio": ratio, "windows_per_epoch": len(windows)}}
    return train_deepsea(windows, out_dir, config=config, track=track, init=init, crop_size=crop_size, device=device,
                         seed=seed, overwrite=overwrite, progress=progress, extra=extra)


def finetune_and_track_deepsea(
    real: Sequence[Any],
    synthetic: Sequence[Any],
    test: Sequence[tuple[np.ndarray, np.ndarray]],
    out_dir: str | Path,
    *,
    ratio: float,
    config: DeepSeaTrainConfig | None = None,
    track: DeepSeaTrackConfig | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Fine-tune from the shipped weights, then track held-out sequences (for experiment recipes).

    real, synthetic, ratio: training data as in :func:`fit_deepsea` (``ratio=0`` with
    ``synthetic=[]`` for real data only). test: ``[(images (T, Y, X), labels (T, Y, X))]``,
    detections per frame. out_dir: the new model folder.
    Returns ``{"model_dir", "tracked": [TrackedMasks per test sequence], "train": fit summary,
    "track_seconds"}``; score with :func:`tgan_aug.trackers.metrics.evaluate_tracked`.
    """
    from tgan_aug.trackers.deepsea_track import DeepSeaTracker

    summary = fit_deepsea(real, synthetic, out_dir, ratio=ratio, config=config, track=track, device=device,
                          seed=seed, overwrite=overwrite, progress=progress)
    tracker = DeepSeaTracker.from_folder(summary["model_dir"], device=device)
    start = time.time()
    tracked = [tracker.track(images, labels, progress=progress) for images, labels in test]
    return {"model_dir": summary["model_dir"], "tracked": tracked, "train": summary, "track_seconds": time.time() - start}

