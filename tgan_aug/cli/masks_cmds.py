"""``tgan-aug synth-masks | augment-masks | stats``: tracked mask sequences from masksynth.

Thin layer over :mod:`masksynth.batch`: options are parsed here, inputs are read with
:func:`tgan_aug.io.load.load_tracked` and outputs written with ``write_store`` / ``write_ctc``.
"""

from __future__ import annotations

from typing import Any

import click
from masksynth.config import SynthConfig

from tgan_aug.cli.common import (Option, append_option, geff_option, output_option, overwrite_option, parse_size,
                                 quiet_option, seed_option)
from tgan_aug.errors import UserError
from tgan_aug.text import plural


def _masks_of(data):
    return data.masks if hasattr(data, "masks") else data


def _load_masks(path: str, flag: str):
    from tgan_aug.io.load import load_tracked

    try:
        loaded = load_tracked(path, images=False)
    except FileNotFoundError:
        raise UserError(f"{flag} {path}: no such file or folder") from None
    return [(name, _masks_of(data)) for name, data in loaded]


def _explicit(ctx: click.Context, name: str) -> bool:
    src = ctx.get_parameter_source(name)
    return src is not None and src.name in ("COMMANDLINE", "ENVIRONMENT")


def _check_outputs(output: str | None, ctc: str | None, geff: str | None = None, *, append: bool = False,
                   overwrite: bool = False) -> None:
    from tgan_aug.io.store import check_store_target

    if output is None and ctc is None and geff is None:
        raise UserError("say where to write: -o/--output STORE.zarr and/or --ctc OUT_DIR (or --geff OUT_DIR)")
    if output is not None:
        check_store_target(output, append=append, overwrite=overwrite, flag="-o/--output")


@click.command("synth-masks")
@click.option("--density", type=click.Choice(["low", "mid", "high"]), default="mid", show_default=True,
              help="First-frame coverage preset: low 8%, mid 22%, high 45% of the pixels.")
@click.option("--layout", type=click.Choice(["flat", "colony"]), default="flat", show_default=True,
              help="flat = uniform placement; colony = clustered around random centres. With --calibrate-from "
                   "and no --layout: one colony where the data's founders are when its dividing cells start "
                   "in one cluster, else flat.")
@click.option("--frames", type=click.IntRange(1), default=30, show_default=True, help="Frames per sequence.")
@click.option("--size", "size", type=str, default="512x768", show_default=True, help="Frame size HEIGHTxWIDTH (px).")
@click.option("--sequences", type=click.IntRange(1), default=1, show_default=True, help="Number of sequences.")
@click.option("--cells", type=click.IntRange(0), default=None, help="Exact number of cells in frame 0 (overrides --density).")
@click.option("--coverage", type=click.FloatRange(0, 0.9, min_open=True, max_open=True), default=None,
              help="Fraction of pixels covered in frame 0 (overrides --density).")
@click.option("--division-rate", type=click.FloatRange(0, 1), default=None, cls=Option,
              shown_default=str(SynthConfig.division_rate),
              help="Division probability per cell and frame for cells above the size threshold.")
@click.option("--min-gap", type=click.IntRange(0, 16), default=None, cls=Option, shown_default=str(SynthConfig.min_gap),
              help="Background pixels kept between cells.")
@click.option("--border", type=click.Choice(["open", "reflect"]), default=None, cls=Option,
              shown_default=SynthConfig.border,
              help="open: cells leave/enter (tracks end/start); reflect: cells stay inside.")
@click.option("--speed", type=click.FloatRange(0), default=None,
              help="Mean speed in px/frame (default by --density: low 3, mid 2, high 1.5; half that with --layout colony).")
@click.option("--shapes-from", type=str, default=None,
              help="Take cell shapes from these real masks (CTC folder, store or IMAGES.tif:MASKS.tif).")
@click.option("--calibrate-from", type=str, default=None,
              help="Measure areas, speeds, turning, density and divisions on this real tracked data and use "
                   "them (explicit flags still win); its cells become the shape bank unless --shapes-from.")
@click.option("--like", "like", type=str, default=None,
              help="Masks like a shipped model's training data (see 'tgan-aug models'): its real cell shapes "
                   "(shape bank), density, motion and divisions, at the model's pixel scale (explicit flags still win).")
@output_option("zarr store to write (sequences seq000, seq001, ...).")
@click.option("--ctc", "ctc_dir", type=str, default=None, help="Also/instead write a CTC dataset folder (01, 02, ...).")
@geff_option
@quiet_option
@seed_option
@append_option
@overwrite_option
@click.pass_context
def synth_masks(ctx: click.Context, density: str, layout: str, frames: int, size: str, sequences: int,
                cells: int | None, coverage: float | None, division_rate: float | None, min_gap: int | None,
                border: str | None, speed: float | None, shapes_from: str | None, calibrate_from: str | None,
                like: str | None, output: str | None, ctc_dir: str | None, geff: str | None, quiet: bool, seed: int,
                append: bool, overwrite: bool) -> None:
    """Synthesize tracked cell mask sequences with exact track ids and lineage.

    Cells (real shapes from --shapes-from, or procedural ellipses, rods and blobs) are placed
    without overlap, then move, rotate, change shape, divide and cross the borders frame by
    frame; no two cells ever share a pixel. Every sequence passes the CTC checks. The same
    --seed gives the same output, bit for bit.

    \b
    Example:
      tgan-aug synth-masks --density high --layout colony --frames 30 --size 512x768 \\
          --sequences 4 --seed 0 -o masks.zarr
      tgan-aug synth-masks --cells 200 --division-rate 0.02 --ctc out/synth-ctc
      tgan-aug synth-masks --calibrate-from data/bacteria-phc -o bact.zarr --ctc out/bact-ctc
      tgan-aug synth-masks --like hela-small --frames 20 --size 256x384 -o nuclei.zarr
      tgan-aug synth-masks --cells 100 --frames 20 -o synth.zarr --geff out/synth-geff
    """
    import tqdm

    from masksynth.batch import plan_synthesis, synthesize_many

    _check_outputs(output, ctc_dir, geff, append=append, overwrite=overwrite)
    hw = parse_size(size, "--size")
    overrides: dict[str, Any] = {}
    explicit = {
        "frames": frames, "cells": cells, "coverage": coverage, "division_rate": division_rate,
        "min_gap": min_gap, "border": border, "speed_mean": speed,
    }
    if calibrate_from is None or _explicit(ctx, "size"):
        overrides["size"] = hw
    if calibrate_from is None or _explicit(ctx, "frames"):
        overrides["frames"] = frames
    if _explicit(ctx, "layout"):  # wins over the founders' layout calibration measures
        overrides["layout"] = layout
    for key, value in explicit.items():
        if key != "frames" and value is not None:
            overrides[key] = value
    if cells is not None and coverage is not None:
        raise UserError("give --cells or --coverage, not both")
    fitted = calibrate_from is not None or like is not None  # the data's density unless --density is given
    if cells is not None or coverage is not None or (fitted and _explicit(ctx, "density")):
        overrides.setdefault("cells", cells)
        overrides.setdefault("coverage", coverage)
    base = SynthConfig.preset(density, layout)
    profile = None
    if like is not None:
        if calibrate_from is not None:
            raise UserError("give --like NAME (a shipped model's data) or --calibrate-from DATA, not both")
        from masksynth.profile import like_config
        from tgan_aug.pretrained import model_profile, model_entry

        model_entry(like, flag="--like")  # a wrong name lists the shipped models
        profile = model_profile(like)
        base = like_config(profile, size=hw, frames=frames, density=density, layout=layout)
    calib = _load_masks(calibrate_from, "--calibrate-from")[0][1] if calibrate_from else None
    shapes = _load_masks(shapes_from, "--shapes-from")[0][1].labels if shapes_from else None
    cfg, bank = plan_synthesis(base, overrides=overrides, calibrate_from=calib, shapes_from=shapes, seed=seed)
    if profile is not None and shapes is None:
        bank = profile.bank

    from tgan_aug.io.ctc import write_ctc
    from tgan_aug.io.geff_export import write_geff_sequence
    from tgan_aug.io.outputs import removed_on_failure
    from tgan_aug.io.store import write_store

    bar = tqdm.tqdm(total=cfg.frames * sequences, unit="frame", disable=quiet, desc="synth-masks")
    provenance = {"command": "synth-masks", "seed": seed, "config": cfg.to_dict(),
                  "shapes_from": shapes_from, "calibrate_from": calibrate_from, "like": like}
    written = []
    with removed_on_failure(output, ctc_dir, geff):  # a failed run leaves no partial store or folder it created
        try:
            for k, masks in synthesize_many(cfg, sequences=sequences, seed=seed, shapes=bank, progress=bar.update):
                if output is not None:
                    write_store(output, masks, name=f"seq{k:03d}", overwrite=overwrite,
                                provenance={**provenance, "sequence_index": k})
                if ctc_dir is not None:
                    write_ctc(ctc_dir, masks, sequence=f"{k + 1:02d}", overwrite=overwrite)
                if geff is not None:
                    write_geff_sequence(geff, f"seq{k:03d}", masks.labels, masks.lineage, overwrite=overwrite,
                                        facts={"provenance": {**provenance, "sequence_index": k}})
                s = masks.summary()
                written.append(f"seq{k:03d}: {s['cells_per_frame_mean']:.0f} cells/frame, {plural(s['tracks'], 'track')}, "
                               f"{plural(s['divisions'], 'division')}")
        finally:
            bar.close()
    where = " and ".join(x for x in (output, ctc_dir, geff) if x)
    click.echo(f"wrote {plural(sequences, 'sequence')} of {cfg.frames}x{cfg.size[0]}x{cfg.size[1]} to {where}")
    for line in written:
        click.echo("  " + line)


@click.command("augment-masks")
@click.argument("input_path", metavar="IN", type=str)
@output_option("zarr store to write.")
@click.option("--ctc", "ctc_dir", type=str, default=None, help="Also/instead write a CTC dataset folder.")
@click.option("--copies", type=click.IntRange(1), default=1, show_default=True, help="Random copies of each (part of a) sequence.")
@click.option("--split", type=click.IntRange(1), default=None, help="Split each sequence into windows of this many frames.")
@click.option("--stride", type=click.IntRange(1), default=None, help="Frames between window starts [default: --split].")
@click.option("--crop", "crop_size", type=str, default=None, help="Random crop HEIGHTxWIDTH (px); tracks cut by it are split correctly.")
@click.option("--rotate/--no-rotate", default=True, show_default=True, help="Random rotation by 0/90/180/270 degrees.")
@click.option("--flip/--no-flip", "flips", default=True, show_default=True, help="Random up-down / left-right mirror.")
@click.option("--morph-prob", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Per-track probability of a 1-px erosion or dilation (whole track, no flicker).")
@quiet_option
@seed_option
@append_option
@overwrite_option
def augment_masks(input_path: str, output: str | None, ctc_dir: str | None, copies: int, split: int | None,
                  stride: int | None, crop_size: str | None, rotate: bool, flips: bool, morph_prob: float,
                  quiet: bool, seed: int, append: bool, overwrite: bool) -> None:
    """Augment real tracked masks IN (CTC folder, store or IMAGES.tif:MASKS.tif), keeping ids
    and lineage valid: rotations, flips, crops, temporal splitting, per-cell erosion/dilation.

    Only the masks are augmented (images are not carried over). Output sequences are named
    <input sequence>_pPP_aAA (part, copy) in the store and numbered 01, 02, ... in --ctc.

    \b
    Example:
      tgan-aug augment-masks data/bacteria-phc -o aug.zarr --copies 4 --crop 512x512
      tgan-aug augment-masks data/PhC-C2DL-PSC --split 10 --morph-prob 0.3 --ctc out/psc-aug
    """
    import tqdm

    from masksynth.batch import augment_sequences
    from tgan_aug.io.ctc import write_ctc
    from tgan_aug.io.outputs import removed_on_failure
    from tgan_aug.io.store import write_store

    _check_outputs(output, ctc_dir, append=append, overwrite=overwrite)
    crop_hw = parse_size(crop_size, "--crop")
    inputs = _load_masks(input_path, "IN")
    n_ctc = 0
    total = 0
    with removed_on_failure(output, ctc_dir):
        for name, masks in tqdm.tqdm(inputs, desc="augment-masks", unit="seq", disable=quiet):
            outs = augment_sequences(masks, copies=copies, seed=seed, split=split, stride=stride, rotate=rotate,
                                     flips=flips, crop_size=crop_hw, morph_prob=morph_prob)
            for suffix, aug in outs:
                if output is not None:
                    write_store(output, aug, name=f"{name}_{suffix}", overwrite=overwrite,
                                provenance={"command": "augment-masks", "source": input_path, "sequence": name,
                                            "seed": seed, "part_copy": suffix})
                if ctc_dir is not None:
                    n_ctc += 1
                    write_ctc(ctc_dir, aug, sequence=f"{n_ctc:02d}", overwrite=overwrite)
                total += 1
    where = " and ".join(x for x in (output, ctc_dir) if x)
    click.echo(f"wrote {plural(total, 'augmented sequence')} to {where}")


@click.command("stats")
@click.argument("paths", nargs=-1, required=True, metavar="PATH [PATH...]")
def stats(paths: tuple[str, ...]) -> None:
    """Statistics of tracked mask data side by side, with the Kolmogorov-Smirnov distance of
    each to the first PATH (e.g. real data first, then synthetic): cell areas, elongation,
    displacement and turning per frame, coverage, cells per frame, division rate, track length.

    Each PATH is a CTC folder, a store (all its sequences pooled) or IMAGES.tif:MASKS.tif.
    Prints a Markdown table: median (mean) per source, KS distance (0 = same distribution).

    \b
    Example:
      tgan-aug stats data/bacteria-phc bact.zarr
      tgan-aug stats real.zarr synth-low.zarr synth-high.zarr
    """
    from masksynth.batch import stats_report

    sources = []
    for p in paths:
        sources.append((p.rstrip("/").split("/")[-1] or p, [m for _, m in _load_masks(p, "PATH")]))
    click.echo(stats_report(sources))
