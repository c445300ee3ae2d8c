"""``tgan-aug train-segmenter`` and ``segment``: thin layers over tgan_aug.segment."""

from __future__ import annotations

import json

import click

from tgan_aug.cli.common import device_option, output_option, overwrite_option, quiet_option, seed_option
from tgan_aug.errors import UserError

_INVERT = {None: None, "auto": "auto", "yes": True, "no": False}


@click.command("train-segmenter")
@click.option("--real", "real", multiple=True, type=str,
              help="Real training data with instance masks (CTC folder, store or IMAGES.tif:MASKS.tif). Repeatable.")
@click.option("--synthetic", "synthetic", multiple=True, type=str,
              help="Synthetic training data (a rendered tgan-aug store or CTC folder). Repeatable.")
@click.option("--ratio", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Fraction of training frames drawn from --synthetic (0 = real only, 1 = synthetic only).")
@output_option("New model folder (model.pt + config.json); not needed with --dry-run.", dest="out_dir",
               type=click.Path(file_okay=False), default=None)
@click.option("--preset", type=click.Choice(["tiny", "cpu", "gpu"]), default="cpu", show_default=True,
              help="Training defaults: tiny 10 steps of 2x64 px crops (tests), cpu 200 steps of 4x256 px, gpu 2000 steps of 16x384 px.")
@click.option("--arch", type=click.Choice(["deepsea", "unet"]), default="deepsea", show_default=True,
              help="deepsea: fine-tune the network the deepsea package ships; unet: a narrower copy trained from scratch.")
@click.option("--model", "init", type=click.Path(file_okay=False, exists=True), default=None,
              help="Continue from this segmenter folder instead (its architecture and scale are kept).")
@click.option("--scale", type=click.FloatRange(0.05, 4), default=None,
              help="Resize images by this factor before the network, in training and when segmenting "
                   "(default 1; e.g. 0.5 for cells tens of pixels wide).")
@click.option("--max-steps", type=click.IntRange(1), default=None, help="Optimiser steps (default: preset).")
@click.option("--batch-size", type=click.IntRange(1), default=None, help="Crops per step (default: preset).")
@click.option("--crop", type=click.IntRange(16), default=None, help="Training crop side in network pixels, a multiple of 4 (default: preset).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Adam learning rate (default 1e-4).")
@click.option("--samples-per-epoch", type=click.IntRange(1), default=None, help="Frames per epoch (default: all frames of the pools used).")
@click.option("--invert", type=click.Choice(["auto", "yes", "no"]), default="auto", show_default=True,
              help="Invert intensities: auto = per sequence, when its cells are brighter than the background "
                   "(DeepSea learned dark phase-contrast cells).")
@click.option("--dry-run", is_flag=True, help="Print the resolved training configuration as JSON and exit.")
@quiet_option
@device_option
@seed_option
@overwrite_option
def train_segmenter(real, synthetic, ratio, out_dir, preset, arch, init, scale, max_steps, batch_size, crop, lr,
                    samples_per_epoch, invert, dry_run, quiet, device, seed, overwrite):
    """Train a cell segmenter on real data mixed with synthetic data.

    Fine-tunes DeepSea's segmentation network (foreground + touching-edge heads) from the weights
    the deepsea package ships, or trains a small U-Net from scratch (--arch unet). Every frame's
    masks are the training instances.

    \b
    Example:
      tgan-aug train-segmenter --real data/bacteria-phc --ratio 0 --scale 0.5 -o runs/seg
      tgan-aug train-segmenter --real data/PhC-C2DL-PSC --synthetic synth.zarr --ratio 0.5 -o runs/seg-mix
      tgan-aug segment data/test/01 --model runs/seg -o SEG
    """
    from tgan_aug.cli.common import resolve_device
    from tgan_aug.segment import SegmenterConfig, fit_segmenter

    given = dict(arch=arch, scale=scale, max_steps=max_steps, batch_size=batch_size, crop=crop, lr=lr,
                 samples_per_epoch=samples_per_epoch, invert=_INVERT[invert])
    config = SegmenterConfig.preset(preset, **{k: v for k, v in given.items() if v is not None})
    if dry_run:
        click.echo(json.dumps(config.to_dict(), indent=2))
        return
    if out_dir is None:
        raise UserError("say where to write the model: -o/--output DIR (only --dry-run runs without one)")
    out = fit_segmenter(list(real), list(synthetic), out_dir, ratio=ratio, config=config, init=init,
                        device=resolve_device(device), seed=seed, overwrite=overwrite, progress=not quiet)
    hist = out["history"]
    click.echo(f"wrote {out['model_dir']} ({out['steps']} steps, loss {hist[0]:.4f} -> {hist[-1]:.4f}, {out['seconds']:.0f} s)")


@click.command("segment")
@click.argument("data", type=str)
@output_option("Result folder (CTC: maskTTT.tif + res_track.txt, one-frame tracks; NAME_RES/ subfolders for several sequences).",
               dest="out_dir", type=click.Path(file_okay=False), required=True)
@click.option("--model", type=click.Path(file_okay=False, exists=True), default=None,
              help="Segmenter folder from train-segmenter (default: the weights shipped by the deepsea package).")
@click.option("--scale", type=click.FloatRange(0.05, 4), default=None,
              help="Shipped weights only: resize images by this factor before the network (default 1).")
@click.option("--invert", type=click.Choice(["auto", "yes", "no"]), default=None,
              help="Invert intensities (default: the model's training polarity; shipped weights: auto = the network "
                   "picks the polarity under which its cells are darker than their surroundings).")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Foreground probability threshold (default 0.5).")
@click.option("--min-size", type=click.IntRange(0), default=None, help="Drop objects smaller than this many pixels (default 20).")
@click.option("--split", type=click.Choice(["edges", "watershed"]), default=None,
              help="edges: connected components (touching cells kept apart by the edge head; default); "
                   "watershed: also split merged blobs by a distance-transform watershed.")
@click.option("--sequence", type=str, default=None, help="Only this sequence of DATA (default: all).")
@click.option("--gt", type=click.Path(exists=True), default=None,
              help="Reference masks (CTC dataset or NN_GT/NN_ST folder, store): print SEG, F1 and Dice.")
@click.option("--json", "as_json", is_flag=True, help="With --gt: print the scores as JSON.")
@quiet_option
@device_option
@overwrite_option
def segment(data, out_dir, model, scale, invert, threshold, min_size, split, sequence, gt, as_json, quiet, device, overwrite):
    """Segment the cells of DATA into per-frame instance masks (CTC result folders).

    DATA: a CTC sequence folder (NN/ with tTTT.tif), a CTC dataset folder, a multi-frame TIFF
    or a rendered store. The output is what `track --detections` links.

    \b
    Example:
      tgan-aug segment data/bacteria-phc/01 --scale 0.5 -o SEG --gt data/bacteria-phc/01_GT
      tgan-aug segment data/PhC-C2DL-PSC/02 --model runs/seg -o SEG
      tgan-aug track data/PhC-C2DL-PSC/02 --detections SEG -o RES
    """
    from tgan_aug.cli.common import resolve_device
    from tgan_aug.segment import segment_path

    post = {k: v for k, v in dict(threshold=threshold, min_size=min_size, split=split).items() if v is not None}
    results = segment_path(data, out_dir, model=model, scale=scale, invert=_INVERT[invert], postprocess=post,
                           sequence=sequence, gt=gt, device=str(resolve_device(device)), overwrite=overwrite,
                           progress=not quiet)
    scored = {r["name"]: r["scores"] for r in results if "scores" in r}
    if as_json and scored:
        click.echo(json.dumps(scored, indent=2, sort_keys=True))
        return
    for r in results:
        line = f"wrote {r['path']} ({'inverted' if r['invert'] else 'not inverted'})"
        if "scores" in r:
            s = r["scores"]
            line += f": SEG {s['SEG']:.3f}, F1 {s['F1']:.3f}, Dice {s['Dice']:.3f} ({s['n_pred']} objects, {s['n_ref']} in --gt)"
        click.echo(line)
