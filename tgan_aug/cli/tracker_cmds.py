"""``tgan-aug track``, ``train-tracker``, ``eval-tracking``: thin layers over tgan_aug.trackers."""

from __future__ import annotations

import json

import click

from tgan_aug.cli.common import device_option, output_option, overwrite_option, quiet_option, seed_option
from tgan_aug.errors import UserError
from tgan_aug.text import plural


@click.command("track")
@click.argument("data", type=str)
@output_option("Result folder (CTC: maskTTT.tif + res_track.txt; NAME_RES/ subfolders for several sequences).",
               dest="out_dir", aliases=("--out",), type=click.Path(file_okay=False), required=True)
@click.option("--tracker", type=click.Choice(["btrack", "trackastra", "deepsea"]), default="btrack", show_default=True,
              help="Which tracker links the detections.")
@click.option("--model", type=click.Path(file_okay=False, exists=True), default=None,
              help="Model folder from train-tracker: needed for trackastra; for deepsea a fine-tuned model "
                   "(default: the weights shipped by the deepsea package).")
@click.option("--config", "config", type=click.Path(dir_okay=False, exists=True), default=None,
              help="btrack JSON config file (default: btrack_cells.json, shipped with tgan-aug in its "
                   "trackers/configs folder).")
@click.option("--search-radius", type=click.FloatRange(min=0, min_open=True), default=None,
              help="btrack: largest move between frames, pixels (default: from the config, 50).")
@click.option("--mode", type=click.Choice(["greedy", "greedy_nodiv", "ilp"]), default="greedy", show_default=True,
              help="trackastra: how cells are linked from frame to frame. greedy: best matches first, a cell may "
                   "divide into two; greedy_nodiv: the same but never a division (for cells that do not divide "
                   "in the movie); ilp: trackastra's global optimisation (best on bacteria-phc; needs "
                   "pip install 'tgan-aug[ilp]'; about a minute per few thousand cells).")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="trackastra greedy modes: smallest predicted link probability that links two cells (default: 0.1; "
                   "trackastra's own track() uses 0.5, which leaves many cells of crowded frames unlinked).")
@click.option("--division-threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="trackastra greedy mode: smallest probability of a cell's second successor, a division "
                   "(default: 0.5; lower values call more divisions, many of them false).")
@click.option("--max-distance", type=click.FloatRange(min=0, min_open=True), default=None,
              help="trackastra: largest move between frames, pixels (default: 256, trackastra's).")
@click.option("--ilp-costs", type=click.Choice(["gt", "deepcell_gt", "deepcell_gt_tuned", "deepcell_res_tuned"]),
              default=None, help="trackastra --mode ilp: trackastra's cost set (default: gt, made for ground-truth "
                                 "masks; deepcell_gt_tuned, where divisions and track starts cost more, linked "
                                 "better than btrack on a segmenter's masks of bacteria-phc, gt worse).")
@click.option("--crop-size", type=click.IntRange(16), default=None,
              help="deepsea: network input size in pixels, a multiple of 4 (default: the model's, 128 as published; "
                   "64 is ~6x faster on CPU but less accurate on crowded or small cells).")
@click.option("--invert", type=click.Choice(["auto", "yes", "no"]), default=None,
              help="deepsea: invert intensities (default: the model's setting, auto = invert when the cells are "
                   "darker than the background, as in phase-contrast bacteria).")
@click.option("--sequence", type=str, default=None, help="Only this sequence of DATA (default: all).")
@click.option("--detections", type=click.Path(file_okay=False, exists=True), default=None,
              help="Folder of per-frame masks (maskTTT.tif, as `tgan-aug segment` writes; NN_RES/ subfolders for "
                   "several sequences) to link instead of DATA's masks; DATA then only needs images.")
@quiet_option
@device_option
@overwrite_option
def track(data, out_dir, tracker, model, config, search_radius, mode, threshold, division_threshold, max_distance, ilp_costs,
          crop_size, invert, sequence, detections, quiet, device, overwrite):
    """Track the cells of DATA (images + per-frame masks) and write CTC result folders.

    DATA: IMAGES.tif:MASKS.tif (masks may be any per-frame segmentation), a CTC dataset folder
    or a tgan-aug store. The masks are the detections; their ids are not used. With
    --detections, DATA may hold images only (a CTC NN/ folder, a multi-frame TIFF).

    \b
    Example:
      tgan-aug track --tracker btrack data/bacteria-phc -o RES
      tgan-aug track --tracker trackastra --model runs/ta data/movie.tif:data/seg.tif -o RES
      tgan-aug track --tracker trackastra --model runs/ta --mode ilp data/bacteria-phc -o RES_ilp
      tgan-aug track --tracker trackastra --model runs/ta --mode ilp --ilp-costs deepcell_gt_tuned \\
          data/bacteria-phc/01 --detections SEG -o RES_seg
      tgan-aug track --tracker deepsea data/PhC-C2DL-PSC -o RES_deepsea
      tgan-aug segment data/bacteria-phc/01 -o SEG && tgan-aug track data/bacteria-phc/01 --detections SEG -o RES
      tgan-aug eval-tracking --gt data/bacteria-phc/01_GT --res RES
    """
    from tgan_aug.cli.common import resolve_device
    from tgan_aug.trackers import TRACKERS
    from tgan_aug.trackers.run import track_path

    kind = TRACKERS[tracker]
    if kind.model == "required" and model is None:
        raise UserError(f"--tracker {tracker} needs --model DIR (a {tracker} model folder; train one with tgan-aug train-tracker)")
    if kind.model == "none" and model is not None:
        takers = " or ".join(n for n, t in TRACKERS.items() if t.model != "none")
        raise UserError(f"--model is for --tracker {takers}; {tracker} takes --config JSON")
    given = dict(config=config, search_radius=search_radius, threshold=threshold, division_threshold=division_threshold,
                 max_distance=max_distance, ilp_costs=ilp_costs, crop_size=crop_size,
                 invert={None: None, "auto": "auto", "yes": True, "no": False}[invert])
    options = _checked_options(tracker, given, "track_options")
    if "mode" in kind.track_options:
        options["mode"] = mode
    written = track_path(data, out_dir, tracker=tracker, model=model, options=options, sequence=sequence,
                         detections=detections, device=str(resolve_device(device)), overwrite=overwrite, progress=not quiet)
    for path in written:
        click.echo(f"wrote {path}")


@click.command("train-tracker")
@click.option("--tracker", type=click.Choice(["trackastra", "deepsea"]), default="trackastra", show_default=True,
              help="Which tracker to train (deepsea: fine-tunes the weights shipped by the deepsea package).")
@click.option("--real", "real", multiple=True, type=str,
              help="Real training data (CTC folder, store or IMAGES.tif:MASKS.tif with tracked masks). Repeatable.")
@click.option("--synthetic", "synthetic", multiple=True, type=str,
              help="Synthetic training data (a rendered tgan-aug store or CTC folder). Repeatable.")
@click.option("--ratio", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Fraction of training windows drawn from --synthetic (0 = real only, 1 = synthetic only).")
@output_option("New model folder (trackastra: config.yaml, model.pt, train_config.yaml, tgan_aug_train.json; "
               "deepsea: model.pt, config.json).", dest="out_dir", aliases=("--out",), type=click.Path(file_okay=False),
               required=True)
@click.option("--preset", type=click.Choice(["tiny", "small", "default"]), default="small", show_default=True,
              help="Model size and training defaults (trackastra default = its published settings; "
                   "deepsea: tiny 5 steps, small 100, default 2000).")
@click.option("--model", "init", type=click.Path(file_okay=False, exists=True), default=None,
              help="Fine-tune this model folder (trackastra: instead of training from scratch; "
                   "deepsea: instead of the shipped weights).")
@click.option("--epochs", type=click.IntRange(1), default=None, help="trackastra: training epochs (default: preset).")
@click.option("--max-steps", type=click.IntRange(1), default=None, help="Stop after this many optimiser steps.")
@click.option("--window", type=click.IntRange(2), default=None, help="trackastra: frames per training window (default: preset).")
@click.option("--batch-size", type=click.IntRange(1), default=None,
              help="Windows per step (deepsea: cell crops per step) (default: preset).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Learning rate (default: preset).")
@click.option("--samples-per-epoch", type=click.IntRange(1), default=None,
              help="Windows per epoch (default: one pass over the data used).")
@click.option("--augment", type=click.IntRange(0, 3), default=None, help="trackastra feature augmentation level 0-3.")
@click.option("--object-weighting", type=click.FloatRange(min=0), default=None,
              help="trackastra: draw training windows in proportion to their cell count ** this "
                   "(default 1: crowded windows as often as they hold cells; 0 = uniform).")
@click.option("--crop-size", type=click.IntRange(16), default=None,
              help="deepsea: network input size, a multiple of 4 (default: the starting model's, 128; 64 trains ~6x faster).")
@quiet_option
@device_option
@seed_option
@overwrite_option
def train_tracker(tracker, real, synthetic, ratio, out_dir, preset, init, epochs, max_steps, window, batch_size, lr,
                  samples_per_epoch, augment, object_weighting, crop_size, quiet, device, seed, overwrite):
    """Train a tracker on real data mixed with synthetic data (plain PyTorch loops).

    trackastra trains from scratch (or fine-tunes --model); deepsea fine-tunes DeepSea's
    pretrained tracker (or --model) on crop pairs of consecutive frames.

    \b
    Example:
      tgan-aug train-tracker --real data/bacteria-phc --synthetic synth.zarr --ratio 0.5 -o runs/ta --epochs 20
      tgan-aug track --tracker trackastra --model runs/ta data/test -o RES
      tgan-aug train-tracker --tracker deepsea --real data/PhC-C2DL-PSC --ratio 0 -o runs/ds --max-steps 100
      tgan-aug track --tracker deepsea --model runs/ds data/test -o RES
    """
    from tgan_aug.cli.common import resolve_device
    from tgan_aug.trackers import TRACKERS

    given = dict(epochs=epochs, max_steps=max_steps, window=window, batch_size=batch_size, lr=lr,
                 samples_per_epoch=samples_per_epoch, augment=augment, object_weighting=object_weighting, crop_size=crop_size)
    options = _checked_options(tracker, given, "train_options")
    out = TRACKERS[tracker].train(list(real), list(synthetic), out_dir, ratio=ratio, preset=preset, init=init,
                                  device=resolve_device(device), seed=seed, overwrite=overwrite, progress=not quiet,
                                  **options)
    click.echo(f"wrote {out.model_dir} ({plural(out.steps, 'step')}, final loss {out.final_loss:.4f}, {out.seconds:.0f} s)")


#: what a training flag that a tracker does not take is replaced by, per tracker
_TRAIN_HINTS = {"deepsea": "DeepSea fine-tuning counts --max-steps on two-frame crop pairs"}


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def _checked_options(tracker: str, given: dict, which: str) -> dict:
    """The options given on the command line (not None) that ``tracker`` takes (its ``which``:
    track_options or train_options); one it does not take is an error naming the flag and its tracker."""
    from tgan_aug.trackers import TRACKERS

    allowed = getattr(TRACKERS[tracker], which)
    for option, value in given.items():
        if value is None or option in allowed:
            continue
        owners = [n for n, t in TRACKERS.items() if option in getattr(t, which)]
        if which == "track_options":  # the owner's whole group of tracking flags
            group = [o for o in getattr(TRACKERS[owners[0]], which) if o not in allowed]
            flags = " and ".join(_flag(o) for o in group)
            raise UserError(f"{flags} {'is' if len(group) == 1 else 'are'} for --tracker {owners[0]}, not {tracker}")
        hint = f"; {_TRAIN_HINTS[tracker]}" if tracker in _TRAIN_HINTS else ""
        raise UserError(f"{_flag(option)} is for --tracker {' or '.join(owners)}{hint}")
    return {k: v for k, v in given.items() if v is not None}


@click.command("eval-tracking")
@click.option("--gt", "gt", type=click.Path(exists=True), required=True,
              help="Ground truth: the NN_GT folder (with TRA/), its TRA folder, or a dataset folder with one NN_GT.")
@click.option("--res", "res", type=click.Path(exists=True, file_okay=False), required=True,
              help="Result folder: maskTTT.tif + res_track.txt, or the folder `track` wrote for several sequences "
                   "(its NN_RES matching --gt NN_GT is scored).")
@click.option("--json", "as_json", is_flag=True, help="Print all metrics as JSON instead of a Markdown table.")
def eval_tracking(gt, res, as_json):
    """Score a CTC tracking result: MOTA, MT, ML, precision, recall, IDF1, HOTA, TRA, DET, LNK and
    the division F1 BC(1).

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
