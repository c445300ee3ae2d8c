"""Render masks with a merged checkpoint into videos a program keeps working with: in memory
(:func:`render_video`) or through a store that makes the step resumable (:func:`render_items`).

``tgan-aug render`` (:mod:`tgan_aug.render.pipeline`) is the same engine reading and writing files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from masksynth.tracked import TrackedMasks, TrackedVideo

__all__ = ["render_video", "render_items"]


def render_video(checkpoint: str | Path, masks: TrackedMasks, *, seed: int, device: str = "cpu",
                 background: np.ndarray | None = None, name: str = "seq", temporal: str = "per-frame",
                 intensity_match: str = "auto", track_smoothing: float | None = None,
                 carry_over: float | None = None) -> TrackedVideo:
    """Render one mask sequence in memory; returns a TrackedVideo in the training data's dtype and range.

    masks: labels (T, Y, X) uint16 + lineage (unchanged in the result). seed, name: the sequence's
    seed is ``sequence_seed(seed, name)``, as in ``tgan-aug render``. background: optional (Y, X)
    float32 in [-1, 1] (default: the checkpoint's training background, centre crop, as
    ``tgan-aug render --background auto``). temporal: as ``tgan-aug render --temporal``
    (:class:`~tgan_aug.render.engine.Renderer`). intensity_match: as ``tgan-aug render --intensity-match``
    ("auto" | "training" | "none", :mod:`tgan_aug.render.intensity`). track_smoothing: as ``tgan-aug
    render --track-smoothing`` (None = the default: when the intensities are matched the model's fitted
    beta, or 0.3 for a model without one; else 0;
    :mod:`tgan_aug.render.track_smoothing`). carry_over: as ``tgan-aug render --carry-over`` (None = the
    model's fitted alpha for matched intensities, else 0; :mod:`tgan_aug.render.carry_over`).
    Rendered in fp32 whatever the device.
    """
    from tgan_aug.render.backgrounds import choose_background, fit_background
    from tgan_aug.render.engine import Renderer, render_frames, sequence_seed

    r = Renderer.from_checkpoint(checkpoint, device=device, temporal=temporal, intensity_match=intensity_match,
                                 track_smoothing=track_smoothing, carry_over=carry_over)
    size = tuple(masks.labels.shape[1:])
    s = sequence_seed(seed, name)
    if background is None:
        bg, _ = choose_background("auto", bank=r.backgrounds, stats=r.stats, size=size, rng=np.random.default_rng([s, 1]))
    else:
        bg = fit_background(background, size)
    frames = [chunk[0] for _, chunk in render_frames(r, [masks.labels], [bg], [s], precision="fp32")]
    images = r.stats.denormalise(np.concatenate(frames))
    return TrackedVideo(masks, images, intensity_range=tuple(r.stats.intensity_range),
                        provenance={"checkpoint": str(checkpoint), "seed": seed, "temporal": temporal,
                                    "intensity_match": r.intensity_desc, "track_smoothing": r.track_smoothing,
                                    "carry_over": r.carry_over, "temporal_source": r.temporal_source})


def render_items(checkpoint: str | Path, items: list[tuple[str, Any]], store: str | Path, *, seed: int,
                 device: str = "cpu", frame_batch: int = 8, provenance: dict[str, Any] | None = None,
                 sister_junctions: bool = False, part_neighbours: bool = False) -> list[tuple[str, TrackedVideo]]:
    """Render ``[(name, TrackedMasks)]`` into the zarr ``store`` (as ``tgan-aug render``) and read them back.

    Resumable: a finished render leaves ``STORE.done`` next to the store, and a later call with
    that marker present only reads the store. Background ``auto``, 4 sequences per low-res batch,
    ``frame_batch`` frames per super-res batch, precision ``auto``; ``sister_junctions`` and
    ``part_neighbours`` as ``tgan-aug render --sister-junctions --part-neighbours``.
    """
    from tgan_aug.io import read_store
    from tgan_aug.render.engine import Renderer, render_to_store

    store = Path(store)
    marker = store.parent / (store.name + ".done")
    if not marker.is_file():
        renderer = Renderer.from_checkpoint(checkpoint, device=device, close_gaps=sister_junctions,
                                            part_neighbours=part_neighbours)
        render_to_store(renderer, items, store, seed=seed, background="auto", batch=4, frame_batch=frame_batch,
                        precision="auto", overwrite=True, provenance=provenance or {})
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("{}")
    return [(name, read_store(store, name)) for name, _ in items]
