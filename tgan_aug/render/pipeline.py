"""The ``render`` job: load masks, pick a renderer (a tGAN checkpoint or the fitted painter), render a
shard into a store, export CTC."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from tgan_aug.errors import UserError

__all__ = ["render"]


def render(
    masks: str | Path,
    out: str | Path,
    *,
    renderer: Literal["tgan", "painter"] = "tgan",
    checkpoint: str | Path | None = None,
    fit: str | Path | None = None,
    background: str = "auto",
    seed: int = 0,
    device: str = "cpu",
    shard: str | None = None,
    ctc: str | Path | None = None,
    overwrite: bool = False,
    batch: int = 4,
    frame_batch: int = 8,
    precision: str = "auto",
    temporal: str = "per-frame",
    intensity_match: str = "auto",
    track_smoothing: float | None = None,
    carry_over: float | None = None,
    sister_junctions: bool = False,
    part_neighbours: bool = False,
    command: str = "tgan-aug render",
    progress: bool = False,
) -> list[str]:
    """Render the tracked masks at ``masks`` (store, CTC folder or TIFF pair) into the store ``out``.

    renderer: "tgan" (the generator pair of ``checkpoint``) or "painter" (the non-learned painter of ``fit``).
    checkpoint: merged checkpoint (None = the shipped pretrained model); tgan only.
    fit: painter only: real data to fit on (CTC folder, store, IMAGES.tif:MASKS.tif) or a saved fit (.npz).
    background, batch, frame_batch, precision, temporal, intensity_match, track_smoothing, carry_over
        (None = the model's default), sister_junctions (``Renderer.close_gaps``), part_neighbours, device: tgan only (the painter paints its fitted background on the CPU; ``frame_batch``
        is its store write size).
    shard: "K/N" renders every N-th sequence (sorted by name) from K; all shards may write to one store.
    ctc: also export each rendered sequence as a CTC folder here (sequence numbers 01, 02, ... follow
        the sorted order of all sequences, so shards do not collide).
    Returns the names of the sequences rendered.
    """
    from tgan_aug.io import load_tracked
    from tgan_aug.io.outputs import removed_on_failure
    from tgan_aug.render.shard import parse_shard, shard_items

    if renderer not in ("tgan", "painter"):
        raise UserError(f"--renderer {renderer!r}: choose tgan or painter")
    if renderer == "painter":
        if fit is None:
            raise UserError("--renderer painter needs --fit DATA (real images + masks to fit on) or --fit FIT.npz (a saved fit)")
        if checkpoint is not None:
            raise UserError("--checkpoint is for --renderer tgan; the painter takes --fit instead")
        if background != "auto":
            raise UserError("--background is for --renderer tgan; the painter paints the background it fitted")
        if temporal != "per-frame":
            raise UserError("--temporal is for --renderer tgan; the painter paints every frame on its own")
        if intensity_match != "auto":
            raise UserError("--intensity-match is for --renderer tgan; the painter paints the intensities it fitted")
        if track_smoothing is not None:
            raise UserError("--track-smoothing is for --renderer tgan; the painter paints every cell's brightness from its fit")
        if carry_over is not None:
            raise UserError("--carry-over is for --renderer tgan; the painter paints every frame on its own")
        if sister_junctions:
            raise UserError("--sister-junctions is for --renderer tgan; the painter always paints sisters' junctions")
        if part_neighbours:
            raise UserError("--part-neighbours is for --renderer tgan; the painter paints every cell's own halo")
        from tgan_aug.render.painter import painter_fit

        params, fit_info = painter_fit(fit)
    else:
        if fit is not None:
            raise UserError("--fit is for --renderer painter; add --renderer painter (or drop --fit to render with the tGAN)")
        from tgan_aug.device import resolve_device
        from tgan_aug.render.engine import Renderer

        if checkpoint is None:
            from tgan_aug.pretrained import pretrained_path

            checkpoint = pretrained_path()
        model = Renderer.from_checkpoint(checkpoint, device=resolve_device(device), temporal=temporal,
                                         intensity_match=intensity_match,
                                         track_smoothing=track_smoothing, carry_over=carry_over,
                                         close_gaps=sister_junctions, part_neighbours=part_neighbours)
    items = load_tracked(masks, images=False)
    if not items:
        raise UserError(f"MASKS {masks}: no sequences found")
    all_names = sorted(name for name, _ in items)
    mine = set(shard_items(all_names, parse_shard(shard)))
    chosen = [(name, data) for name, data in items if name in mine]
    total = sum(getattr(d, "masks", d).labels.shape[0] for _, d in chosen)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="frame", desc="render")
    prov: dict[str, Any] = {"command": command, "source": str(masks), "shard": shard or "0/1"}
    step = None if bar is None else bar.update
    # a failed single run removes the store/CTC folder it created; shards may share a new store, so
    # a failing shard leaves it to the others (its own sequences stay marked incomplete)
    with removed_on_failure(*((out, ctc) if shard is None else ())):
        try:
            if renderer == "painter":
                from tgan_aug.render.painter import paint_to_store

                names = paint_to_store(params, chosen, out, seed=seed, overwrite=overwrite, frame_batch=frame_batch,
                                       provenance={**prov, **fit_info}, progress=step)
            else:
                from tgan_aug.render.engine import render_to_store

                names = render_to_store(model, chosen, out, seed=seed, background=background, batch=batch,
                                        frame_batch=frame_batch, precision=precision, overwrite=overwrite,
                                        provenance={**prov, "renderer": "tgan"}, progress=step)
        finally:
            if bar is not None:
                bar.close()
        if ctc is not None:
            from tgan_aug.io import read_store, write_ctc

            for name in names:
                write_ctc(ctc, read_store(out, name), sequence=f"{all_names.index(name) + 1:02d}", overwrite=overwrite)
    return names
