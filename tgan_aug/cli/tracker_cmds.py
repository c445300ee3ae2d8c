"""``tgan-aug track``, ``train-tracker``, ``eval-tracking``: thin layers over tgan_aug.trackers."""

from __future__ import annotations

import json

import click

from tgan_aug.cli.common import device_option, overwrite_option, seed_option


@click.command("track")
@click.argument("data", type=str)
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Result folder (CTC: maskTTT.tif + res_track.txt; NAME_RES/ subfolders for several sequences).")
@click.option("--tracker", type=click.Choice(["btrack", "trackastra"]), default="btrack", show_default=True,
              help="Which tracker links the detections.")
@click.option("--model", type=click.Path(file_okay=False, exists=True), default=None,
              help="trackastra model folder (from train-tracker); needed for --tracker trackastra.")
@click.option("--config", "config", type=click.Path(dir_okay=False, exists=True), default=None,
              help="btrack JSON config (default: the shipped tgan_aug/trackers/configs/btrack_cells.json).")
@click.option("--search-radius", type=click.FloatRange(min=0, min_open=True), default=None,
              help="btrack: largest move between frames, pixels (default: from the config, 50).")
@click.option("--mode", type=click.Choice(["greedy", "greedy_nodiv"]), default="greedy", show_default=True,
              help="trackastra linking (greedy needs no ILP solver).")
@click.option("--sequence", type=str, default=None, help="Only this sequence of DATA (default: all).")
@device_option
@overwrite_option
def track(data, out_dir, tracker, model, config, search_radius, mode, sequence, device, overwrite):
    """Track the cells of DATA (images + per-frame masks) and write CTC result folders.

    DATA: IMAGES.tif:MASKS.tif (masks may be any per-frame segmentation), a CTC dataset folder
    or a tgan-aug store. The masks are the detections; their ids are not used.

    \b
    Example:
      tgan-aug track --tracker btrack data/bacteria-phc -o RES
      tgan-aug track --tracker trackastra --model runs/ta data/movie.tif:data/seg.tif -o RES
      tgan-aug eval-tracking --gt data/bacteria-phc/01_GT --res RES
    """
    from tgan_aug.cli.common import resolve_device
    from tgan_aug.trackers.run import track_path

    dev = str(resolve_device(device))
    written = track_path(data, out_dir, tracker=tracker, model=model, config=config, search_radius=search_radius,
                         mode=mode, sequence=sequence, device=dev, overwrite=overwrite)
    for path in written:
        click.echo(f"wrote {path}")


@click.command("train-tracker")
@click.option("--real", "real", multiple=True, type=str,
              help="Real training data (CTC folder, store or IMAGES.tif:MASKS.tif with tracked masks). Repeatable.")
@click.option("--synthetic", "synthetic", multiple=True, type=str,
              help="Synthetic training data (a rendered tgan-aug store or CTC folder). Repeatable.")
@click.option("--ratio", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Fraction of training windows drawn from --synthetic (0 = real only, 1 = synthetic only).")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="New trackastra model folder (config.yaml, model.pt, train_config.yaml, tgan_aug_train.json).")
@click.option("--preset", type=click.Choice(["tiny", "small", "default"]), default="small", show_default=True,
              help="Model size and training defaults (default = trackastra's published settings).")
@click.option("--model", "init", type=click.Path(file_okay=False, exists=True), default=None,
              help="Fine-tune this trackastra model folder instead of training from scratch.")
@click.option("--epochs", type=click.IntRange(1), default=None, help="Training epochs (default: preset).")
@click.option("--max-steps", type=click.IntRange(1), default=None, help="Stop after this many optimiser steps.")
@click.option("--window", type=click.IntRange(2), default=None, help="Frames per training window (default: preset).")
@click.option("--batch-size", type=click.IntRange(1), default=None, help="Windows per step (default: preset).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Learning rate (default: preset).")
@click.option("--samples-per-epoch", type=click.IntRange(1), default=None,
              help="Windows per epoch (default: one pass over the data used).")
@click.option("--augment", type=click.IntRange(0, 3), default=None, help="trackastra feature augmentation level 0-3.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@device_option
@seed_option
@overwrite_option
def train_tracker(real, synthetic, ratio, out_dir, preset, init, epochs, max_steps, window, batch_size, lr,
                  samples_per_epoch, augment, quiet, device, seed, overwrite):
    """Train a trackastra tracker on real data mixed with synthetic data (plain PyTorch loop).

    \b
    Example:
      tgan-aug train-tracker --real data/bacteria-phc --synthetic synth.zarr --ratio 0.5 -o runs/ta --epochs 20
      tgan-aug track --tracker trackastra --model runs/ta data/test -o RES
    """
    from tgan_aug.cli.common import resolve_device
    from tgan_aug.trackers.trackastra_train import TrackastraConfig, fit_trackastra

    overrides = {k: v for k, v in dict(epochs=epochs, max_steps=max_steps, window=window, batch_size=batch_size, lr=lr,
                                       samples_per_epoch=samples_per_epoch, augment=augment).items() if v is not None}
    cfg = TrackastraConfig.preset_config(preset, **overrides)
    out = fit_trackastra(list(real), list(synthetic), out_dir, ratio=ratio, config=cfg, init=init,
                         device=resolve_device(device), seed=seed, overwrite=overwrite, progress=not quiet)
    last = out["history"][-1]["loss"] if out["history"] else float("nan")
    click.echo(f"wrote {out['model_dir']} ({out['steps']} steps, final loss {last:.4f}, {out['seconds']:.0f} s)")


@click.command("eval-tracking")
@click.option("--gt", "gt", type=click.Path(exists=True), required=True,
              help="Ground truth: the NN_GT folder (with TRA/), its TRA folder, or a dataset folder with one NN_GT.")
@click.option("--res", "res", type=click.Path(exists=True, file_okay=False), required=True,
              help="Result folder: maskTTT.tif + res_track.txt.")
@click.option("--json", "as_json", is_flag=True, help="Print all metrics as JSON instead of a Markdown table.")
def eval_tracking(gt, res, as_json):
    """Score a CTC tracking result: MOTA, MT, ML, precision, recall, IDF1, HOTA, TRA, DET, LNK.

    \b
    Example:
      tgan-aug eval-tracking --gt data/bacteria-phc/01_GT --res RES
      tgan-aug eval-tracking --gt data/bacteria-phc/01_GT --res RES --json > scores.json
    """
    from tgan_aug.trackers.metrics import evaluate_ctc, results_table

    scores = evaluate_ctc(gt, res)
    if as_json:
        click.echo(json.dumps(scores, indent=2, sort_keys=True))
    else:
        click.echo(results_table([(str(res), scores)]))
