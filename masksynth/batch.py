"""Many sequences at once: what the ``synth-masks`` / ``augment-masks`` / ``stats`` commands call.

Pure in-memory functions (no file I/O): the CLI loads inputs and writes outputs.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

import numpy as np

from masksynth.augment import augment_tracked, split_time
from masksynth.calibrate import calibrate
from masksynth.config import SynthConfig
from masksynth.shapes import ShapeBank
from masksynth.stats import compare_stats, merge_stats, sequence_stats, stats_table
from masksynth.synth import make_bank, synthesize
from masksynth.tracked import TrackedMasks

__all__ = ["plan_synthesis", "synthesize_many", "augment_sequences", "stats_report", "merge_stats"]

#: explicit field -> calibrated fields it replaces (speed_mean: the measured step lengths;
#: division_rate: the timer division model)
SUPERSEDES = {"speed_mean": ("speed_quantiles",), "division_rate": ("cycle_quantiles",)}


def plan_synthesis(
    base: SynthConfig,
    *,
    overrides: dict[str, Any] | None = None,
    calibrate_from: TrackedMasks | None = None,
    shapes_from: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[SynthConfig, ShapeBank]:
    """Resolve the config and shape bank of a synthesis run.

    base: preset config. calibrate_from: real sequence whose measured parameters replace the
    base's (and whose cells form the shape bank unless ``shapes_from`` is given). overrides:
    fields the user set explicitly; they win over calibration (a speed drops the measured step
    lengths, a division rate the measured cell cycles: see ``SUPERSEDES``). shapes_from: real labels
    (Y, X)/(T, Y, X) for the shape bank. Returns (config, bank).
    """
    bank: ShapeBank | None = None
    cfg = base
    if calibrate_from is not None:
        cfg, bank = calibrate(calibrate_from, base=base, shapes=shapes_from is None, seed=seed)
    if overrides:
        # an explicit speed or division rate replaces the measured distribution it would be ignored for
        dropped = {f: None for k in overrides for f in SUPERSEDES.get(k, ()) if f not in overrides}
        cfg = SynthConfig.from_dict({**cfg.to_dict(), **dropped, **overrides})
    if shapes_from is not None:
        bank = ShapeBank.from_labels(shapes_from, source="--shapes-from")
    return cfg, (bank if bank is not None else make_bank(cfg))


def synthesize_many(
    config: SynthConfig,
    *,
    sequences: int,
    seed: int,
    shapes: ShapeBank | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, TrackedMasks]]:
    """Yield (index, sequence) for ``sequences`` sequences; sequence k uses seed (seed, k), so each
    one is reproducible on its own and independent of how many are made."""
    for k in range(sequences):
        yield k, synthesize(config, seed=(seed, k), shapes=shapes, progress=progress)


def augment_sequences(
    masks: TrackedMasks,
    *,
    copies: int = 1,
    seed: int = 0,
    split: int | None = None,
    stride: int | None = None,
    rotate: bool = True,
    flips: bool = True,
    crop_size: tuple[int, int] | None = None,
    morph_prob: float = 0.0,
) -> list[tuple[str, TrackedMasks]]:
    """Augmented versions of one sequence: optional temporal split into windows of ``split``
    frames (every ``stride``), then ``copies`` random copies of each part (rot90/flips/crop/
    per-cell morphology, see :func:`augment_tracked`). Returns [(suffix, masks)] with suffixes
    like ``p00_a01`` (part, copy). Copy a of part p is seeded with (seed, p, a)."""
    parts = split_time(masks, split, stride=stride) if split else [masks]
    out = []
    for p, part in enumerate(parts):
        for a in range(copies):
            rng = np.random.default_rng([int(seed), p, a])
            aug = augment_tracked(part, rng=rng, rotate=rotate, flips=flips, crop_size=crop_size,
                                  morph_prob=morph_prob)
            out.append((f"p{p:02d}_a{a:02d}", aug))
    return out


def stats_report(sources: Sequence[tuple[str, Sequence[TrackedMasks]]]) -> str:
    """Markdown table comparing sources (each a name and its sequences, pooled) against the first."""
    stats = [merge_stats([sequence_stats(m) for m in seqs]) for _, seqs in sources]
    return stats_table(compare_stats(stats, names=[n for n, _ in sources]))
