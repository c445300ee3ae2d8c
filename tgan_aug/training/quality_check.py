"""Render held-back frames with a model and run the quality check on them (:mod:`quality` holds the measures).

Held-back frames (``TrainConfig.holdout``, the last frames of every sequence, never trained on) are
cut to a size the generators take (a centred crop, a multiple of the output-size multiple, at most
twice the training crop) and at most ``max_frames`` per sequence. Each gets its training
sequence's reference background. Three renderers are checked the way they are used:

- the low-res stage: the low-res frames as ``tgan-aug render`` makes them (every frame from its own
  mask, ``--temporal per-frame``), compared with the real frames downsampled to low-res;
- the super-res stage: upscaling the low-res model's rollout (or, without one, the downsampled real
  frames), one style and noise per sequence;
- the final model file: :func:`tgan_aug.render.engine.render_frames`, the code ``tgan-aug render`` runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tgan_aug.training.data import ImageStats, Sequence, binary_resize, image_resize, prepare_sequences
from tgan_aug.training.quality import QualityReport, QualityThresholds, assess, measure

__all__ = ["HeldOut", "held_out_frames", "prepare_held_out", "stage_quality", "model_quality", "save_quality_grid", "quality_record"]


@dataclass
class HeldOut:
    """Held-back frames at working resolution: per sequence ``images`` (T, H, W) float32 in [-1, 1],
    ``masks`` (T, H, W) bool and ``backgrounds`` (H, W) float32 in [-1, 1]."""

    names: list[str]
    images: list[np.ndarray]
    masks: list[np.ndarray]
    backgrounds: list[np.ndarray]

    @property
    def n_frames(self) -> int:
        return sum(int(v.shape[0]) for v in self.images)


def held_out_frames(seqs: list[Sequence], *, multiple: int, max_size: tuple[int, int], max_frames: int = 8,
                    max_sequences: int = 4) -> HeldOut:
    """Crop held-back sequences (from ``prepare_sequences`` with the training backgrounds) for the check.

    multiple: frame sizes are cut down to multiples of this (the output size's multiple, 2 * 2**depth).
    max_size: (H, W) upper bound of the crop (pixels at working resolution).
    """
    out = HeldOut([], [], [], [])
    for s in seqs[:max_sequences]:
        H = min(s.images.shape[1], max_size[0]) // multiple * multiple
        W = min(s.images.shape[2], max_size[1]) // multiple * multiple
        y0, x0 = (s.images.shape[1] - H) // 2, (s.images.shape[2] - W) // 2
        t = np.unique(np.linspace(0, s.n_frames - 1, min(max_frames, s.n_frames)).round().astype(int))
        crop = (slice(y0, y0 + H), slice(x0, x0 + W))
        out.names.append(s.name)
        out.images.append(np.ascontiguousarray(s.images[t][:, crop[0], crop[1]]))
        out.masks.append(np.ascontiguousarray(s.masks[t][:, crop[0], crop[1]]))
        out.backgrounds.append(np.ascontiguousarray(s.background[crop]))
    return out


def prepare_held_out(held_sources: list[tuple[str, np.ndarray, np.ndarray]], cfg: Any, stats: ImageStats,
                     backgrounds: dict[str, np.ndarray]) -> HeldOut:
    """Held-back sources (``split_holdout``) -> :class:`HeldOut` at the training's working scale and
    intensity mapping (``stats``), with the training sequences' ``backgrounds`` (name -> (Y, X)).

    cfg: the stage's :class:`~tgan_aug.training.config.TrainConfig` (crop size, model multiple).
    """
    seqs, _ = prepare_sequences(held_sources, crop=cfg.crop_size, data_scale=stats.scale, percentiles=cfg.percentiles,
                                stats=stats, backgrounds=backgrounds)
    return held_out_frames(seqs, multiple=2 * cfg.model.size_multiple,
                           max_size=(2 * cfg.crop_size[0], 2 * cfg.crop_size[1]))


def _seeded(seed: int, i: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(np.random.SeedSequence([int(seed), 5151, i]).generate_state(1)[0]))


def _device(net: torch.nn.Module) -> torch.device:
    return next(net.parameters()).device


@torch.no_grad()
def _lowres_rollout(G: torch.nn.Module, masks_lr: np.ndarray, bg_lr: np.ndarray, gen: torch.Generator) -> np.ndarray:
    """(T, h, w) masks + (h, w) background -> (T, h, w) low-res frames in [-1, 1], made as ``tgan-aug
    render`` makes them (its default ``--temporal per-frame``)."""
    from tgan_aug.training.steps import generate_lowres_frames

    dev = _device(G)
    m = torch.from_numpy(masks_lr.astype(np.float32))[None].to(dev)
    bg = torch.from_numpy(bg_lr.astype(np.float32))[None].to(dev)
    return generate_lowres_frames(G, m, bg, generator=gen).float()[0].cpu().numpy()


@torch.no_grad()
def _superres(G: torch.nn.Module, lowres: np.ndarray, masks: np.ndarray, gen: torch.Generator) -> np.ndarray:
    """(T, h, w) low-res frames + (T, H, W) masks -> (T, H, W), one style and noise for the whole sequence."""
    dev = _device(G)
    T, H, W = masks.shape
    w = G.mapping(G.make_z(1, generator=gen).to(dev))
    noise = G.make_noise(1, gen, size=(H, W), device=dev)
    noise = [n.expand(T, *n.shape[1:]) for n in noise] if isinstance(noise, list) else noise
    lr = torch.from_numpy(lowres.astype(np.float32))[:, None].to(dev)
    m = torch.from_numpy(masks.astype(np.float32))[:, None].to(dev)
    return G(lr, m, w.expand(T, -1), noise).float()[:, 0].cpu().numpy()


def _lowres_inputs(held: HeldOut, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    H, W = held.masks[i].shape[1:]
    size = (H // 2, W // 2)
    return binary_resize(held.masks[i], size), image_resize(held.images[i], size), image_resize(held.backgrounds[i], size)


def stage_quality(stage: str, G: torch.nn.Module, held: HeldOut, *, seed: int = 0, lowres_G: torch.nn.Module | None = None,
                  thresholds: QualityThresholds | None = None,
                  lowres_cache: dict[int, tuple[np.ndarray, torch.Tensor]] | None = None,
                  ) -> tuple[QualityReport, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Quality of one training stage's (EMA) generator on the held-back frames.

    stage: "lowres" (G is the low-res generator; compared at low-res) or "superres" (G upscales
    ``lowres_G``'s rollout, or the downsampled real frames when ``lowres_G`` is None).
    lowres_cache: a dict kept by the caller across calls of the super-res stage: the frozen
    ``lowres_G``'s rollouts (and the random state after them) are computed once, not at every check.
    Returns the report and (masks, real, rendered) of the first sequence, (1, L, H, W), for a sample grid.
    """
    fakes, reals, masks, bgs = [], [], [], []
    for i in range(len(held.names)):
        m_lr, real_lr, bg_lr = _lowres_inputs(held, i)
        gen = _seeded(seed, i)
        if stage == "lowres":
            fakes.append(_lowres_rollout(G, m_lr, bg_lr, gen))
            reals.append(real_lr)
            masks.append(m_lr)
            bgs.append(bg_lr)
        else:
            if lowres_G is None:
                lowres = real_lr
            elif lowres_cache is not None and i in lowres_cache:
                lowres, state = lowres_cache[i]
                gen.set_state(state)  # the super-res noise and style draws follow as without the cache
            else:
                lowres = _lowres_rollout(lowres_G, m_lr, bg_lr, gen)
                if lowres_cache is not None:
                    lowres_cache[i] = (lowres, gen.get_state())
            fakes.append(_superres(G, lowres, held.masks[i], gen))
            reals.append(held.images[i])
            masks.append(held.masks[i])
            bgs.append(held.backgrounds[i])
    report = assess(measure(fakes, reals, masks, bgs), thresholds)
    return report, _grid_arrays(masks[0], reals[0], fakes[0])


def model_quality(checkpoint: str | Path, held: HeldOut, *, seed: int = 0, device: str | torch.device = "cpu",
                  thresholds: QualityThresholds | None = None) -> tuple[QualityReport, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Quality of a model file (both generators) rendering the held-back masks as ``tgan-aug render`` does
    (without carry-over and track smoothing: the masks are binary)."""
    from tgan_aug.render.engine import Renderer, render_frames, sequence_seed

    # the held-back masks here are binary (no track ids): carry-over and track smoothing, which
    # follow tracks, would treat all cells as one; the check measures single frames anyway
    renderer = Renderer.from_checkpoint(checkpoint, device=device, track_smoothing=0.0, carry_over=0.0)
    fakes = []
    for name, m, bg in zip(held.names, held.masks, held.backgrounds):
        chunks = [c[0] for _, c in render_frames(renderer, [m.astype(np.uint8)], [bg], [sequence_seed(seed, name)],
                                                 precision="fp32")]
        fakes.append(np.concatenate(chunks))
    report = assess(measure(fakes, held.images, held.masks, held.backgrounds), thresholds)
    return report, _grid_arrays(held.masks[0], held.images[0], fakes[0])


def _grid_arrays(masks: np.ndarray, real: np.ndarray, fake: np.ndarray, n: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.unique(np.linspace(0, masks.shape[0] - 1, min(n, masks.shape[0])).round().astype(int))
    return masks[t][None].astype(np.float32), real[t][None], fake[t][None]


def save_quality_grid(path: str | Path, report: QualityReport, arrays: tuple[np.ndarray, np.ndarray, np.ndarray],
                      *, label: str = "held-back frames") -> Path:
    """Sample grid (masks | real | rendered) of held-back frames titled with the report's headline."""
    from tgan_aug.training.plots import save_sample_grid

    return save_sample_grid(path, *arrays, title=f"{label}: {report.headline()}")


def quality_record(stage: str, step: int, report: QualityReport) -> dict[str, Any]:
    """A metrics.jsonl record: ``quality/<measure>`` values, the verdict flags and the step."""
    rec: dict[str, Any] = {"step": int(step), "quality_stage": stage, "quality/passed": report.passed,
                           "quality/no_cells": report.no_cells}
    rec.update({f"quality/{k}": float(v) for k, v in report.values.items()})
    return rec
