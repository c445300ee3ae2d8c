"""Train the segmenter: fine-tune DeepSea's shipped network (or a narrow U-Net from scratch)
on frames of real and synthetic sequences, and save a model folder.

The loss is DeepSea's segmentation loss: cross-entropy + (1 - Dice) on the foreground head plus
``edge_weight`` x cross-entropy on the touching-edge head (:mod:`tgan_aug.segment.data`). Adam,
BatchNorm statistics frozen at the starting weights when fine-tuning (``freeze_bn``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tgan_aug.fitting import new_output_dir, optimizer_step, run_steps, set_train_mode
from tgan_aug.segment.config import PostprocessConfig, SegmenterConfig
from tgan_aug.segment.data import crop_batches, mixed_frames
from tgan_aug.trackers.deepsea_train import deepsea_loss

__all__ = ["segmentation_loss", "train_step", "train_segmenter", "fit_segmenter"]


def segmentation_loss(net: nn.Module, batch: Mapping[str, torch.Tensor], *, edge_weight: float = 5.0,
                      device: str | torch.device = "cpu") -> torch.Tensor:
    """DeepSea's loss on a crop batch (:func:`tgan_aug.segment.data.crop_batches`): foreground
    CE + (1 - Dice) + ``edge_weight`` x edge CE. Returns a scalar tensor."""
    fg_logits, edge_logits = net(batch["x"].to(device))
    loss = deepsea_loss(fg_logits, batch["foreground"].to(device))
    if edge_weight > 0:
        loss = loss + edge_weight * F.cross_entropy(edge_logits, batch["edge"].to(device))
    return loss


def train_step(net: nn.Module, batch: Mapping[str, torch.Tensor], optimizer: torch.optim.Optimizer, *,
               config: SegmenterConfig, device: str | torch.device = "cpu") -> dict[str, float]:
    """One optimiser step; returns ``{"loss": float}``."""
    loss = segmentation_loss(net, batch, edge_weight=config.edge_weight, device=device)
    return {"loss": optimizer_step(net, loss, optimizer, grad_clip=config.grad_clip, what="segmentation")}


def train_segmenter(
    frames,
    out_dir: str | Path,
    *,
    config: SegmenterConfig | None = None,
    postprocess: PostprocessConfig | None = None,
    init: str | Path | None = None,
    invert: bool = False,
    device: str | torch.device = "cpu",
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train on a frame dataset (items ``image`` (Y, X) in [0, 1], ``labels`` (Y, X); see
    :func:`tgan_aug.segment.data.mixed_frames`) and write the model folder ``out_dir``.

    init: None = the network ``config.arch`` names (DeepSea's shipped weights or a fresh U-Net);
        a segmenter folder = continue from its weights (its architecture, scale and width are kept).
    invert: whether the training frames were inverted (saved as the model's default polarity).
    Returns ``{"model_dir", "history" (loss per step), "steps", "seconds", "seed"}``.
    """
    from tgan_aug.segment.nets import build_network, load_segmenter_folder, save_segmenter_folder

    config = config or SegmenterConfig.preset("cpu")
    postprocess = postprocess or PostprocessConfig()
    out_dir = new_output_dir(out_dir, overwrite)
    device = torch.device(device)
    torch.manual_seed(seed)
    if init is not None:
        net, meta = load_segmenter_folder(init)
        start_cfg = SegmenterConfig.from_dict(meta["config"])
        config = config.replace(arch=start_cfg.arch, width=start_cfg.width, scale=start_cfg.scale)
    else:
        net = build_network(config)
    net = net.to(device)
    freeze_bn = config.freeze_bn and (config.arch == "deepsea" or init is not None)  # a fresh net learns its statistics
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    batches = crop_batches(frames, config=config, seed=seed)
    start = time.time()
    set_train_mode(net, freeze_bn=freeze_bn)
    history = run_steps(lambda b: train_step(net, b, optimizer, config=config, device=device)["loss"], batches,
                        config.max_steps, desc=f"training segmenter ({config.arch})", progress=progress)
    net.eval()
    summary = {"history": history, "steps": len(history), "seconds": time.time() - start, "seed": seed,
               "init": str(init) if init is not None else ("deepsea/trained_models/segmentation.pth" if config.arch == "deepsea" else "random")}
    save_segmenter_folder(net, out_dir, config=config, postprocess=postprocess, invert=invert, extra={**summary, **(extra or {})})
    return {"model_dir": out_dir, **summary}


def fit_segmenter(
    real: Sequence[Any],
    synthetic: Sequence[Any],
    out_dir: str | Path,
    *,
    ratio: float,
    config: SegmenterConfig | None = None,
    postprocess: PostprocessConfig | None = None,
    init: str | Path | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a segmenter on real and synthetic data mixed with synthetic fraction ``ratio``.

    real, synthetic: sources (CTC folders, stores, ``IMAGES.tif:MASKS.tif``, in-memory
    TrackedVideo); every frame's masks are the training instances. Writes ``out_dir``
    (:func:`train_segmenter`); the model's default polarity is that of most training frames.
    """
    from tgan_aug.trackers.dataset import check_training_request

    config = config or SegmenterConfig.preset("cpu")
    out_dir = check_training_request(real, synthetic, ratio=ratio, out_dir=out_dir, overwrite=overwrite)
    frames = mixed_frames(real, synthetic, ratio=ratio, invert=config.invert, samples_per_epoch=config.samples_per_epoch, seed=seed)
    seqs = [s for pool in frames.pools.values() for s in pool]
    inverted = sum(len(s) for s in seqs if s.invert)
    data = {"real": [str(s) if isinstance(s, (str, Path)) else "<in-memory>" for s in real],
            "synthetic": [str(s) if isinstance(s, (str, Path)) else "<in-memory>" for s in synthetic],
            "ratio": ratio, "frames_per_epoch": len(frames),
            "sequences": {s.name: {"frames": len(s), "inverted": s.invert} for s in seqs}}
    return train_segmenter(frames, out_dir, config=config, postprocess=postprocess, init=init,
                           invert=2 * inverted > sum(len(s) for s in seqs), device=device, seed=seed,
                           overwrite=overwrite, progress=progress, extra={"data": data})
