"""Entry points: synthesize a tracked mask sequence from a :class:`SynthConfig` and a seed."""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np

from masksynth.config import SynthConfig
from masksynth.dynamics import MaskSimulator
from masksynth.shapes import ShapeBank
from masksynth.tracked import TrackedMasks, validate_tracked

__all__ = ["synthesize", "iter_synthesize", "make_bank", "sequence_rng"]


def sequence_rng(seed: int | Sequence[int]) -> np.random.Generator:
    """The numpy Generator of one sequence: ``seed`` is an int or a tuple such as (seed, index)."""
    return np.random.default_rng(list(seed) if isinstance(seed, (tuple, list)) else int(seed))


def make_bank(config: SynthConfig, shapes: ShapeBank | np.ndarray | None = None) -> ShapeBank:
    """The shape bank to use: ``shapes`` as given (a bank, or label masks (Y, X)/(T, Y, X) to
    extract shapes from), else procedural shapes from ``config`` (shape_kind, mean_area, area_cv)."""
    if shapes is None:
        return ShapeBank.procedural(kind=config.shape_kind, mean_area=config.mean_area, area_cv=config.area_cv)
    if isinstance(shapes, ShapeBank):
        return shapes
    return ShapeBank.from_labels(np.asarray(shapes))


def iter_synthesize(
    config: SynthConfig,
    *,
    seed: int | Sequence[int],
    shapes: ShapeBank | np.ndarray | None = None,
) -> tuple[MaskSimulator, Iterator[np.ndarray]]:
    """Streaming synthesis: returns (simulator, frames) where ``frames`` yields ``config.frames``
    (Y, X) uint16 label images; after exhausting it, ``simulator.lineage()`` gives the lineage.
    Use this to write frames as they come (e.g. with a store writer) for long sequences."""
    config.validate()
    sim = MaskSimulator(config, rng=sequence_rng(seed), bank=make_bank(config, shapes))
    return sim, sim.frames(config.frames)


def synthesize(
    config: SynthConfig,
    *,
    seed: int | Sequence[int],
    shapes: ShapeBank | np.ndarray | None = None,
    validate: bool = True,
    progress: Callable[[int], None] | None = None,
) -> TrackedMasks:
    """Synthesize one tracked mask sequence.

    config: what to make (size, frames, density, layout, motion, divisions; see :class:`SynthConfig`).
    seed: int or tuple of ints (e.g. (seed, sequence_index)); the same seed and config give the
        same output bit for bit.
    shapes: a :class:`ShapeBank`, or real label masks (Y, X)/(T, Y, X) to take cell shapes from;
        None = procedural shapes.
    validate: check the CTC rules on the result (:func:`validate_tracked`).
    progress: called with 1 after each frame (e.g. ``tqdm.update``).

    Returns :class:`TrackedMasks`: labels (T, Y, X) uint16 (0 = background, value = track id),
    lineage (N, 4) int64. Raises :class:`tgan_aug.errors.UserError` for impossible requests.
    """
    sim, frames = iter_synthesize(config, seed=seed, shapes=shapes)
    h, w = config.size
    labels = np.empty((config.frames, h, w), dtype=np.uint16)
    for t, frame in enumerate(frames):
        labels[t] = frame
        if progress is not None:
            progress(1)
    lineage = sim.lineage()
    if validate:
        validate_tracked(labels, lineage)
    return TrackedMasks(labels, lineage, validate=False)
