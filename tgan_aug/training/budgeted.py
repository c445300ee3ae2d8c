"""Train both generator stages with fixed budgets on ALL frames and merge them (the recipes' generators).

Unlike :func:`tgan_aug.training.two_stage.train_model` (``tgan-aug train``: held-back frames and a
quality verdict), nothing is held back here: an experiment already splits its data into folds and
evaluates on its own test frames. The library form of::

    tgan-aug train lowres   --data DATA --preset small --max-steps N --max-minutes M
    tgan-aug train superres --data DATA --preset small --lowres-checkpoint runs/00000-lowres-small/checkpoint.pt ...
    (merge the two checkpoints)

:func:`fit_generator` then fits the merged model's carry-over and track smoothing on the last
frames of its training video (what ``tgan-aug train`` does on its held-back frames).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["StageBudget", "train_two_stage", "stage_steps", "fit_generator"]


@dataclass(frozen=True)
class StageBudget:
    """How long each stage trains: optimiser steps and a wall-clock limit (minutes; 0 = none), whichever comes first."""

    lowres_steps: int
    lowres_minutes: float
    superres_steps: int
    superres_minutes: float
    preset: str = "small"


def train_two_stage(data: str | Path, out: str | Path, *, budget: StageBudget, seed: int, device: str = "cpu",
                    deepsea_invert: bool = False, data_scale: float = 1.0) -> Path:
    """Train the low-res then the super-res generator on ``data`` (a store or CTC folder) and merge them.

    Run folders go to ``out/runs``; the merged checkpoint is ``out/generator.pt`` (written
    atomically, and returned at once when it exists: the step is resumable). Samples every 100
    steps, one checkpoint at the end of each stage. deepsea_invert: cells brighter than the
    background (the DeepSea perceptual loss inverts).
    """
    from tgan_aug.training import TrainConfig
    from tgan_aug.training.checkpoint import merge_checkpoints
    from tgan_aug.training.loop import train as train_stage

    out = Path(out)
    merged = out / "generator.pt"
    if merged.is_file():
        return merged
    runs = out / "runs"
    common = dict(seed=seed, data_scale=data_scale, deepsea_invert=deepsea_invert)
    lo_cfg = TrainConfig.preset(budget.preset, stage="lowres", **common)
    lo_cfg.max_steps, lo_cfg.max_minutes = budget.lowres_steps, budget.lowres_minutes
    lo_cfg.sample_every, lo_cfg.ckpt_every = 100, max(1, budget.lowres_steps)
    lo_dir = train_stage(lo_cfg, data=str(data), out_dir=runs, device=device, progress=False)
    sr_cfg = TrainConfig.preset(budget.preset, stage="superres", lowres_checkpoint=str(lo_dir / "checkpoint.pt"), **common)
    sr_cfg.max_steps, sr_cfg.max_minutes = budget.superres_steps, budget.superres_minutes
    sr_cfg.sample_every, sr_cfg.ckpt_every = 100, max(1, budget.superres_steps)
    sr_dir = train_stage(sr_cfg, data=str(data), out_dir=runs, device=device, progress=False)
    tmp = out / "generator.pt.tmp"
    merge_checkpoints(lo_dir / "checkpoint.pt", sr_dir / "checkpoint.pt", tmp)
    os.replace(tmp, merged)
    return merged


def stage_steps(checkpoint: str | Path) -> dict[str, int]:
    """Steps the two stages of a merged checkpoint reached (time limits may stop them early):
    ``{"generator_lowres_steps", "generator_superres_steps"}``."""
    from tgan_aug.training.checkpoint import load_checkpoint

    ckpt = load_checkpoint(checkpoint)
    return {"generator_lowres_steps": int(ckpt.get("step") or 0), "generator_superres_steps": int(ckpt.get("step_superres") or 0)}


def fit_generator(checkpoint: str | Path, video, *, seed: int, device: str = "cpu") -> tuple[Path, dict]:
    """Fit carry-over and track smoothing of a merged generator on the last frames of ``video`` (its
    training TrackedVideo; :func:`tgan_aug.render.temporal_fit.fit_on_last_frames`) and store them in
    ``<checkpoint stem>-fitted.pt`` next to it, as ``render``'s defaults (written atomically; an
    existing file is returned at once: the step is resumable).

    Returns ``(model to render, info)``: info is ``{"carry_over": alpha, "track_smoothing": beta}``,
    or ``{"temporal_fit": why not}`` with the unfitted checkpoint when the frames hold too few
    cells followed over two frames (it then renders with the defaults of a model without a fit).
    """
    from tgan_aug.errors import UserError
    from tgan_aug.render.temporal_fit import fit_on_last_frames
    from tgan_aug.training.checkpoint import fitted_temporal, load_checkpoint, save_checkpoint, with_temporal_fit

    checkpoint = Path(checkpoint)
    out = checkpoint.with_name(checkpoint.stem + "-fitted.pt")
    if out.is_file():
        return out, fitted_temporal(load_checkpoint(out))
    try:
        fit = fit_on_last_frames(checkpoint, video, name="training-tail", seed=seed, device=device)
    except UserError as exc:
        return checkpoint, {"temporal_fit": f"not fitted: {exc}"}
    tmp = out.with_name(out.name + ".tmp")
    save_checkpoint(tmp, with_temporal_fit(load_checkpoint(checkpoint), fit))
    os.replace(tmp, out)
    return out, {"carry_over": fit.carry_over, "track_smoothing": fit.track_smoothing}
