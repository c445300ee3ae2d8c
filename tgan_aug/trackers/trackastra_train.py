"""Train trackastra's ``TrackingTransformer`` with a plain PyTorch loop (no lightning).

The loss is trackastra's association loss, re-implemented from its training script: for every
pair of detections (i, j) in a window, a binary target says whether j belongs to the lineage of
i (same track, ancestor or descendant). The prediction is the transformer's logit matrix; the
loss is ``0.01 * BCE-with-logits(logits) + BCE(causal-normalised probabilities)`` (the second
term only when ``causal_norm != "none"``; the normalisation is trackastra's
``blockwise_causal_norm``: a softmax over the detections of one frame, with a "none of them"
option for ``quiet_softmax``). Each entry is weighted ``1`` (no link), ``2`` for a link of a
track that continues on both sides (one parent, one child: ``block_sum == 2``) and
``1 + div_upweight`` at divisions (``block_sum > 2``), and only pairs with
``0 < t_j - t_i <= delta_cutoff`` between non-padded detections count. Each window's loss is
normalised by its number of counted pairs, and windows are averaged with weights
``(pairs) ** 0.2`` (larger windows count a little more), as in trackastra.

The model folder is trackastra's own (``config.yaml`` + ``model.pt`` + ``train_config.yaml``),
so ``trackastra.model.Trackastra.from_folder(DIR)`` loads it; ``tgan_aug_train.json`` next to
them records the resolved configuration, the data and the loss history.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from masksynth.configbase import ConfigBase, check_choice, choices_of, configclass
from tgan_aug.errors import UserError, require
from tgan_aug.fitting import new_output_dir, optimizer_step
from tgan_aug.trackers.registry import import_trackastra

__all__ = [
    "TrackastraConfig",
    "association_loss",
    "build_model",
    "train_trackastra",
    "save_model_folder",
    "fit_trackastra",
]

CausalNorm = Literal["none", "linear", "softmax", "quiet_softmax"]
CAUSAL_NORMS = choices_of(CausalNorm)
FORMAT_VERSION = 1


@configclass
class TrackastraConfig(ConfigBase):
    """Model and optimisation settings; presets ``tiny`` (tests), ``small`` (CPU), ``default``
    (trackastra's published training defaults: d_model 256, 6 + 6 layers, window 10).

    Model fields follow ``TrackingTransformer``; ``window`` is the number of frames per
    training window (and the model's temporal context). ``epochs`` or ``max_steps`` stop
    training (``max_steps`` wins when set). ``samples_per_epoch`` None = one pass over the data.
    """

    preset: str = "small"
    # model (TrackingTransformer)
    window: int = 6
    d_model: int = 128
    nhead: int = 4
    num_encoder_layers: int = 3
    num_decoder_layers: int = 3
    dropout: float = 0.0
    pos_embed_per_dim: int = 32
    feat_embed_per_dim: int = 8
    spatial_pos_cutoff: int = 256
    attn_positional_bias: str = "rope"
    attn_positional_bias_n_spatial: int = 16
    causal_norm: CausalNorm = "quiet_softmax"
    features: str = "wrfeat"
    # optimisation
    lr: float = 1e-4
    weight_decay: float = 0.01
    batch_size: int = 8
    epochs: int = 20
    max_steps: int | None = None
    warmup_epochs: int = 1
    grad_clip: float = 1.0
    # loss
    delta_cutoff: int = 2
    div_upweight: float = 2.0
    # data
    augment: int = 0
    samples_per_epoch: int | None = None
    object_weighting: float = 1.0  # windows drawn in proportion to their detections ** this (0 = uniform)

    PRESETS = {
        "tiny": dict(window=4, d_model=32, num_encoder_layers=1, num_decoder_layers=1, batch_size=4, epochs=30, lr=1e-3, pos_embed_per_dim=16, feat_embed_per_dim=4),
        "small": {},
        "default": dict(window=10, d_model=256, num_encoder_layers=6, num_decoder_layers=6, augment=3, epochs=100, warmup_epochs=10),
    }
    DEFAULT_PRESET = "small"
    WHAT = "trackastra config"
    PRESET_WHAT = "trackastra"

    def validate(self) -> None:
        if self.window < 2:
            raise UserError(f"window must be >= 2 frames, got {self.window}")
        if self.d_model % self.nhead:
            raise UserError(f"d_model ({self.d_model}) must be divisible by nhead ({self.nhead})")
        check_choice(self.causal_norm, CausalNorm, "causal_norm")
        if self.epochs < 1 and not self.max_steps:
            raise UserError(f"--epochs must be >= 1 (or give --max-steps), got {self.epochs}")
        if self.max_steps is not None and self.max_steps < 1:
            raise UserError(f"--max-steps must be >= 1, got {self.max_steps}")
        if self.delta_cutoff < 1:
            raise UserError(f"delta_cutoff must be >= 1 frame, got {self.delta_cutoff}")

    def model_kwargs(self, feat_dim: int) -> dict[str, Any]:
        """Keyword arguments of ``TrackingTransformer`` (2D: coord_dim 2)."""
        return dict(
            coord_dim=2,
            feat_dim=feat_dim,
            d_model=self.d_model,
            nhead=self.nhead,
            num_encoder_layers=self.num_encoder_layers,
            num_decoder_layers=self.num_decoder_layers,
            dropout=self.dropout,
            pos_embed_per_dim=self.pos_embed_per_dim,
            feat_embed_per_dim=self.feat_embed_per_dim,
            window=self.window,
            spatial_pos_cutoff=self.spatial_pos_cutoff,
            attn_positional_bias=self.attn_positional_bias,
            attn_positional_bias_n_spatial=self.attn_positional_bias_n_spatial,
            causal_norm=self.causal_norm,
        )


#: Feature dimension of trackastra's 2D feature sets (CTCData.feat_dim).
FEAT_DIM_2D = {"none": 0, "wrfeat": 7, "regionprops": 7, "regionprops2": 6}


def association_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    timepoints: torch.Tensor,
    padding_mask: torch.Tensor,
    *,
    causal_norm: CausalNorm = "quiet_softmax",
    delta_cutoff: int = 2,
    div_upweight: float = 2.0,
) -> torch.Tensor:
    """trackastra's association loss (see the module docstring).

    logits: (B, N, N) float, the transformer output. target: (B, N, N) {0, 1} float, the
    association matrix (``CTCData`` ``assoc_matrix``). timepoints: (B, N) long, -1 = padding.
    padding_mask: (B, N) bool, True = padded token. Returns a scalar tensor.
    """
    import_trackastra()
    from trackastra.utils import blockwise_causal_norm, blockwise_sum

    eps = torch.finfo(torch.float32).eps
    target = target.float()
    fp16 = torch.finfo(torch.float16)
    logits = logits.clamp(fp16.min, fp16.max)
    invalid = padding_mask.unsqueeze(1) | padding_mask.unsqueeze(2)
    logits = logits.masked_fill(invalid, 0)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
    if causal_norm != "none":
        probs = torch.stack([
            blockwise_causal_norm(a, t, mode=causal_norm, mask_invalid=m) for a, t, m in zip(logits, timepoints, invalid)
        ])
        loss = 0.01 * loss + torch.nn.functional.binary_cross_entropy(probs.float(), target, reduction="none")
    with torch.no_grad():
        links_out = torch.stack([blockwise_sum(a, t, dim=-1) for a, t in zip(target, timepoints)])
        links_in = torch.stack([blockwise_sum(a, t, dim=-2) for a, t in zip(target, timepoints)])
        block = target * (links_out + links_in)
        weight = 1 + 1.0 * (block == 2) + div_upweight * (block > 2)
    dt = timepoints.unsqueeze(1) - timepoints.unsqueeze(2)  # [b, i, j] = t_j - t_i
    mask = ((dt > 0) & (dt <= delta_cutoff) & ~invalid).float()
    pairs = mask.sum(dim=(1, 2))
    per_window = (loss * weight * mask).sum(dim=(1, 2)) / (pairs + eps)
    prefactor = pairs.pow(0.2)
    return (per_window * prefactor / (prefactor.sum() + eps)).sum()


def build_model(config: TrackastraConfig, *, init: str | Path | None = None):
    """A fresh ``TrackingTransformer`` for ``config``, or the one in the model folder ``init``
    (fine-tuning: its architecture wins; ``config``'s model fields are ignored)."""
    require("trackastra", "trackers")
    import_trackastra()
    from trackastra.model import TrackingTransformer

    if init is not None:
        init = Path(init)
        if not (init / "config.yaml").is_file() or not (init / "model.pt").is_file():
            raise UserError(f"--model {init} is not a trackastra model folder (config.yaml + model.pt)")
        return TrackingTransformer.from_folder(init, map_location="cpu")
    if config.features not in FEAT_DIM_2D:
        raise UserError(f"features {config.features!r} not supported; choose one of {', '.join(FEAT_DIM_2D)}")
    return TrackingTransformer(**config.model_kwargs(FEAT_DIM_2D[config.features]))


def save_model_folder(model, out_dir: str | Path, config: TrackastraConfig, *, extra: dict[str, Any] | None = None) -> Path:
    """Write trackastra's model folder: ``config.yaml`` + ``model.pt`` (``TrackingTransformer.save``)
    and ``train_config.yaml`` (the training arguments ``Trackastra`` reads, e.g. ``features``),
    plus ``tgan_aug_train.json`` (format version, resolved config, ``extra``)."""
    import yaml

    out_dir = Path(out_dir)
    model.save(out_dir)
    train_args = dataclasses.asdict(config) | {"ndim": 2, "model": None, "detection_folders": ["TRA"]}
    train_args["window"] = int(model.config["window"])
    with open(out_dir / "train_config.yaml", "w") as f:
        yaml.safe_dump(train_args, f)
    meta = {"format_version": FORMAT_VERSION, "config": dataclasses.asdict(config), **(extra or {})}
    (out_dir / "tgan_aug_train.json").write_text(json.dumps(meta, indent=2, default=str))
    return out_dir


def _lr_factor(epoch: int, warmup: int, epochs: int, final: float = 0.001) -> float:
    """Linear warm-up from 1 % then cosine decay to ``final`` (trackastra's schedule, per epoch)."""
    if epoch < warmup:
        return 0.01 + 0.99 * epoch / max(warmup, 1)
    rel = (epoch - warmup) / max(epochs - warmup + 1, 1)
    return 0.5 * (1 + math.cos(math.pi * rel)) * (1 - final) + final


def _train_step(model, batch: dict[str, torch.Tensor], optimizer, config: TrackastraConfig, device) -> dict[str, float]:
    """One optimisation step on a padded batch; returns ``{"loss": float, "tokens": float}``."""
    feats = batch["features"].to(device) if batch.get("features") is not None else None
    coords = batch["coords"].to(device)
    target = batch["assoc_matrix"].to(device)
    timepoints = batch["timepoints"].to(device)
    padding = batch["padding_mask"].to(device).bool()
    logits = model(coords, feats, padding_mask=padding)
    loss = association_loss(
        logits, target, timepoints, padding,
        causal_norm=config.causal_norm, delta_cutoff=config.delta_cutoff, div_upweight=config.div_upweight,
    )
    value = optimizer_step(model, loss, optimizer, grad_clip=config.grad_clip, what="trackastra", fix="lr")
    return {"loss": value, "tokens": float((~padding).sum())}


def train_trackastra(
    data: Dataset,
    out_dir: str | Path,
    *,
    config: TrackastraConfig | None = None,
    init: str | Path | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    extra: dict[str, Any] | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    snapshot_steps: Sequence[int] = (),
) -> dict[str, Any]:
    """Train (or fine-tune, with ``init``) a TrackingTransformer on ``data`` and save it.

    data: a map-style dataset of trackastra ``CTCData`` items (e.g.
        :func:`tgan_aug.trackers.dataset.trackastra_training_data`); ``set_epoch(e)`` is called
        each epoch when it exists.
    out_dir: the model folder to create (must be new or empty unless ``overwrite``).
    snapshot_steps: after each of these optimiser steps, the model as it is then is saved as a
        model folder ``out_dir/snapshots/step_NNNNNN`` (to score quality against training steps;
        the learning-rate schedule is the one of the whole run).
    Returns ``{"model_dir", "history" (per-epoch mean loss), "steps", "seconds", "snapshots"
    (step -> folder)}``.
    """
    import_trackastra()
    from trackastra.data import collate_sequence_padding
    from tqdm import tqdm

    config = config or TrackastraConfig.preset("small")
    config.validate()
    out_dir = new_output_dir(out_dir, overwrite)
    if len(data) == 0:
        raise UserError("no training windows: the data has fewer frames than the window; lower --window")
    torch.manual_seed(seed)
    np.random.seed(seed)
    device = torch.device(device)
    model = build_model(config, init=init).to(device)
    if init is not None:  # the architecture comes from the loaded model
        for key in ("window", "d_model", "nhead", "num_encoder_layers", "num_decoder_layers", "causal_norm"):
            setattr(config, key, model.config[key])
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(data) / config.batch_size)
    epochs = config.epochs if not config.max_steps else math.ceil(config.max_steps / steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda e: _lr_factor(e, min(config.warmup_epochs, epochs), epochs)
    )
    generator = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    snapshots: dict[int, Path] = {}
    snapshot_steps = {int(s) for s in snapshot_steps}
    step, start = 0, time.time()
    model.train()
    for epoch in range(epochs):
        if hasattr(data, "set_epoch"):
            data.set_epoch(epoch)
        loader = DataLoader(
            data, batch_size=config.batch_size, shuffle=not hasattr(data, "set_epoch"),
            collate_fn=collate_sequence_padding, generator=generator,
        )
        losses = []
        for batch in tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=False):
            losses.append(_train_step(model, batch, optimizer, config, device)["loss"])
            step += 1
            if step in snapshot_steps:
                snapshots[step] = _save_snapshot(model, out_dir / "snapshots" / f"step_{step:06d}", config,
                                                 {"step": step, "seed": seed, "seconds_so_far": time.time() - start})
            if config.max_steps and step >= config.max_steps:
                break
        scheduler.step()
        record = {"epoch": epoch, "step": step, "loss": float(np.mean(losses)), "lr": optimizer.param_groups[0]["lr"]}
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, record)
        if config.max_steps and step >= config.max_steps:
            break
    model.eval()
    seconds = time.time() - start
    meta = {"history": history, "steps": step, "seconds": seconds, "seed": seed, "init": str(init) if init else None}
    save_model_folder(model.cpu(), out_dir, config, extra={**meta, **(extra or {})})
    return {"model_dir": out_dir, **meta, "snapshots": snapshots}


def _save_snapshot(model, folder: Path, config: TrackastraConfig, extra: dict[str, Any]) -> Path:
    """Save a model folder of ``model`` in the middle of training (weights copied to the CPU)."""
    import copy

    folder.mkdir(parents=True, exist_ok=True)
    save_model_folder(copy.deepcopy(model).cpu().eval(), folder, config, extra=extra)
    return folder


def fit_trackastra(
    real: list,
    synthetic: list,
    out_dir: str | Path,
    *,
    ratio: float,
    config: TrackastraConfig | None = None,
    init: str | Path | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    overwrite: bool = False,
    workdir: str | Path | None = None,
    progress: bool = True,
    snapshot_steps: Sequence[int] = (),
) -> dict[str, Any]:
    """Train trackastra on real and synthetic data mixed with synthetic fraction ``ratio``.

    real, synthetic: sources (paths read through ``tgan_aug.io.load_tracked`` or in-memory
    :class:`~masksynth.tracked.TrackedVideo`). The sources are exported as CTC folders (into
    ``workdir``, default a temporary folder removed afterwards), loaded with trackastra's
    ``CTCData`` and mixed by :func:`tgan_aug.trackers.dataset.trackastra_training_data`; then
    :func:`train_trackastra` writes the model folder ``out_dir`` (and the ``snapshot_steps``
    snapshots under it). Returns its summary dict.
    """
    import tempfile

    from tgan_aug.trackers.dataset import check_training_request, trackastra_training_data

    config = config or TrackastraConfig.preset("small")
    config.validate()
    out_dir = check_training_request(real, synthetic, ratio=ratio, out_dir=out_dir, overwrite=overwrite)
    window = config.window
    if init is not None:
        window = int(build_model(config, init=init).config["window"])
    with tempfile.TemporaryDirectory(prefix="tgan_aug_trackastra_") as tmp:
        data = trackastra_training_data(
            real, synthetic, ratio=ratio, workdir=Path(workdir or tmp), window=window,
            features=config.features, augment=config.augment, samples_per_epoch=config.samples_per_epoch, seed=seed,
            object_weighting=config.object_weighting,
        )
        extra = {
            "data": {"real": [str(s) if isinstance(s, (str, Path)) else "<in-memory>" for s in real],
                     "synthetic": [str(s) if isinstance(s, (str, Path)) else "<in-memory>" for s in synthetic],
                     "ratio": ratio, "windows_per_epoch": len(data)},
        }
        return train_trackastra(data, out_dir, config=config, init=init, device=device, seed=seed,
                                overwrite=overwrite, progress=progress, extra=extra, snapshot_steps=snapshot_steps)
