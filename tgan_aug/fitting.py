"""Pieces every small training loop here shares (the segmenter, DeepSea's and trackastra's
trackers): a new-or-empty output folder, BatchNorm-frozen train mode, one checked optimiser step,
and the step loop with its progress bar. The GAN has its own loop (:mod:`tgan_aug.training.loop`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tgan_aug.errors import UserError

__all__ = ["new_output_dir", "set_train_mode", "optimizer_step", "run_steps"]


def new_output_dir(out_dir: str | Path, overwrite: bool) -> Path:
    """``Path(out_dir)`` after checking that it is new or empty (or ``overwrite``); UserError otherwise."""
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not overwrite:
        raise UserError(f"-o {out_dir} exists and is not empty; choose a new folder or pass --overwrite")
    return out_dir


def set_train_mode(net: nn.Module, *, freeze_bn: bool) -> None:
    """``net.train()``, keeping BatchNorm layers in eval mode (their running statistics) when ``freeze_bn``."""
    net.train()
    if freeze_bn:
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()


def optimizer_step(net: nn.Module, loss: torch.Tensor, optimizer: torch.optim.Optimizer, *, grad_clip: float,
                   what: str, fix: str = "--lr") -> float:
    """Backward + (clipped, when ``grad_clip`` > 0) step on a scalar ``loss``; returns it as a float.
    A non-finite loss raises RuntimeError naming ``what`` and the setting to lower (``fix``)."""
    if not torch.isfinite(loss):
        raise RuntimeError(f"{what} loss is not finite; lower the learning rate ({fix})")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
    optimizer.step()
    return float(loss.detach())


def run_steps(step: Callable[[Any], float], batches: Iterable[Any], steps: int, *, desc: str, progress: bool) -> list[float]:
    """Call ``step(batch)`` for ``steps`` batches with a tqdm bar; returns the losses it returned."""
    from tqdm import tqdm

    history: list[float] = []
    batches = iter(batches)
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        history.append(step(next(batches)))
        bar.set_postfix(loss=f"{history[-1]:.4f}")
    return history
