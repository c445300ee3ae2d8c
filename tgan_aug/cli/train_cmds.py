"""``tgan-aug train``: one command to a model (both stages + quality check), and the two stages
``train lowres`` / ``train superres`` for experts (thin layer over tgan_aug.training)."""

from __future__ import annotations

import json
import sys

import click

from tgan_aug.cli.common import (device_option, output_option, overwrite_option, parse_size, quiet_option, seed_option,
                                 workers_option)

_SET_HELP = ("Advanced: --dry-run prints the training settings; this changes one that has no option of its own, by "
             "name{what} (values are JSON). Repeatable.")


def _common_options(func):
    options = [
        click.option("--data", "data", type=str, default=None,
                     help="Training data: zarr store, CTC folder, or IMAGES.tif:MASKS.tif (needs images with masks)."),
        click.option("--sequence", type=str, default=None, help="Only this sequence of the data (default: all)."),
        click.option("--preset", type=click.Choice(["paper", "small", "tiny"]), default="small", show_default=True,
                     help="Model and training preset."),
        output_option("Folder for numbered run folders (like 00000-lowres-small/, never reused).", dest="out_dir",
                      aliases=("--out",), type=click.Path(file_okay=False), default="runs", show_default=True),
        click.option("--resume", type=click.Path(dir_okay=False), default=None,
                     help="Continue from this checkpoint.pt (its config is used; a new run folder is made)."),
        click.option("--max-steps", type=click.IntRange(1), default=None, help="Stop after this many steps in total (default: preset)."),
        click.option("--max-minutes", type=click.FloatRange(0), default=None, help="Stop after this many minutes (0 = no limit)."),
        click.option("--batch-size", type=click.IntRange(1), default=None, help="Clips per step (default: preset)."),
        click.option("--perceptual", type=click.Choice(["auto", "deepsea", "vgg19", "feature_matching", "none"]),
                     default=None, help="Perceptual-loss features (default auto: DeepSea when installed, else D feature matching)."),
        click.option("--vgg19-weights", type=click.Path(dir_okay=False, exists=True), default=None,
                     help="Local ImageNet VGG19 state-dict file for --perceptual vgg19."),
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help=_SET_HELP.format(what=", e.g. --set w_l1=5 or --set model.base_channels=16")),
        click.option("--dry-run", is_flag=True, help="Print the resolved configuration as JSON and exit."),
        quiet_option,
        device_option,
        seed_option,
        workers_option,
    ]
    for opt in reversed(options):
        func = opt(func)
    return func


def _run(stage: str, *, data, sequence, preset, out_dir, resume, max_steps, max_minutes, batch_size, perceptual,
         vgg19_weights, overrides, dry_run, quiet, device, seed, workers, lowres_checkpoint=None) -> None:
    from tgan_aug.errors import UserError
    from tgan_aug.training import TrainConfig

    cfg = TrainConfig.preset(preset, stage=stage, seed=seed)
    if batch_size is not None:
        cfg.batch_size = batch_size
    if perceptual is not None:
        cfg.perceptual = perceptual
    if vgg19_weights is not None:
        cfg.vgg19_weights = str(vgg19_weights)
        if perceptual is None:
            cfg.perceptual = "vgg19"
    if lowres_checkpoint is not None:
        cfg.lowres_checkpoint = str(lowres_checkpoint)
    cfg = cfg.with_overrides(list(overrides))
    if dry_run:  # the very resolver the run uses (resumed checkpoints, limits)
        from tgan_aug.training.checkpoint import resolve_run_config

        click.echo(resolve_run_config(cfg, resume=resume, max_steps=max_steps, max_minutes=max_minutes)[0].to_json())
        return
    if data is None:
        raise UserError(f"--data is required: give the training data (zarr store, CTC folder or IMAGES.tif:MASKS.tif) for 'tgan-aug train {stage}'")
    from tgan_aug.training.loop import train as run_training

    run_dir = run_training(cfg, data=data, out_dir=out_dir, device=device, resume=resume, sequence=sequence,
                           workers=workers, max_steps=max_steps, max_minutes=max_minutes, progress=not quiet)
    click.echo(f"run folder: {run_dir}")


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", type=str, default=None,
              help="Training data: zarr store, CTC folder, or IMAGES.tif:MASKS.tif (images with masks).")
@output_option("Run folder to create (model.pt, quality.json, summary.md, stages/).", dest="run_dir", aliases=("--out",),
               type=click.Path(file_okay=False), default=None)
@click.option("--preset", type=click.Choice(["paper", "small", "tiny"]), default="small", show_default=True,
              help="Model and training preset.")
@click.option("--minutes", type=click.FloatRange(0, min_open=True), default=None,
              help="Training budget for both stages (default: the preset's step counts).")
@click.option("--split", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=2 / 3, show_default="0.67",
              help="Share of --minutes for the low-res stage; the super-res stage gets the rest.")
@click.option("--lo-steps", type=click.IntRange(1), default=None, help="Low-res stage steps (default: preset; unlimited under --minutes).")
@click.option("--sr-steps", type=click.IntRange(1), default=None, help="Super-res stage steps (default: preset; unlimited under --minutes).")
@click.option("--size", type=str, default=None, help="Output frame size HEIGHTxWIDTH (px, working resolution; low-res is half). Default: preset.")
@click.option("--holdout", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.15, show_default=True,
              help="Fraction of each sequence's last frames held back from training for the quality check.")
@click.option("--sequence", type=str, default=None, help="Only this sequence of the data (default: all).")
@click.option("--init", "init", type=str, default=None, metavar="NAME|MODEL.pt",
              help="Fine-tune: start both stages from a shipped model ('tgan-aug models') or a model.pt of the same preset.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help=_SET_HELP.format(what=" in both stages, e.g. --set data_scale=0.5"))
@click.option("--dry-run", is_flag=True, help="Print both stages' resolved configurations as JSON and exit.")
@quiet_option
@overwrite_option
@device_option
@seed_option
@workers_option
@click.pass_context
def train(ctx: click.Context, data, run_dir, preset, minutes, split, lo_steps, sr_steps, size, holdout, sequence, init,
          overrides, dry_run, quiet, overwrite, device, seed, workers) -> None:
    """Train a model in one command: low-res stage, super-res stage, one model file, a quality verdict.

    Writes RUN/model.pt (what 'tgan-aug render --checkpoint' takes), RUN/quality.json and
    RUN/summary.md. The last --holdout of every sequence is not trained on; on those frames a
    quality check asks: are cells drawn where the masks are (Dice of an Otsu segmentation vs the
    real frames'), with the real contrast and intensities? The run ends with PASSED or NOT PASSED
    and what to do; a model that draws no cells exits with code 3.

    Experts can run the stages one by one: 'train lowres', then 'train superres' (see their --help).

    \b
    Example:
      tgan-aug train --data ctc/ -o run/ --minutes 60
      tgan-aug train --data img.tif:masks.tif -o run/ --lo-steps 400 --sr-steps 200 --size 128x192
      tgan-aug train --data ctc/ -o run/ --init hela-small --minutes 10   # fine-tune a shipped model
      tgan-aug render masks.zarr -o video.zarr --checkpoint run/model.pt
      tgan-aug train lowres --data ctc/ --preset small -o runs/      # the stages one by one
    """
    from click.core import ParameterSource

    if ctx.invoked_subcommand is not None:
        given = [getattr(p, "public_opts", p.opts)[-1] for p in ctx.command.params
                 if p.name and ctx.get_parameter_source(p.name) not in (ParameterSource.DEFAULT, None)]
        if given:
            raise click.UsageError(f"options before '{ctx.invoked_subcommand}' ({', '.join(given)}) belong to the one-command "
                                   f"'tgan-aug train'; put the options after '{ctx.invoked_subcommand}'")
        return
    from tgan_aug.errors import UserError
    from tgan_aug.training.two_stage import plan_stages, train_model

    shape = parse_size(size, "--size")
    plan = dict(preset=preset, seed=seed, minutes=minutes, split=split, lo_steps=lo_steps, sr_steps=sr_steps, size=shape,
                holdout=holdout, overrides=list(overrides), init=init)
    if dry_run:
        from tgan_aug.training.data import read_sources

        sources = read_sources(data, sequence=sequence) if data is not None else None
        cfgs = plan_stages(**plan, sources=sources)
        click.echo(json.dumps({k: c.to_dict() for k, c in cfgs.items()}, indent=2, sort_keys=True))
        return
    if data is None or run_dir is None:
        raise UserError("give --data DATA and -o RUN to train a model (or a stage subcommand: 'tgan-aug train lowres --help')")
    result = train_model(data, run_dir, **plan, sequence=sequence, device=device, workers=workers, overwrite=overwrite,
                         progress=not quiet, log=(lambda msg: None) if quiet else (lambda msg: click.echo(msg, err=True)))
    verdict = result.report.verdict()
    click.echo(f"model: {result.model}")
    if result.report.passed:
        click.echo(f"quality check {verdict}")
    else:
        click.secho(f"WARNING: quality check {verdict}", fg="red", bold=True, err=True)
    click.echo(f"details: {result.run_dir / 'summary.md'}")
    if result.exit_code:  # SystemExit passes through click's non-standalone main unchanged
        sys.exit(result.exit_code)


@train.command("lowres")
@_common_options
def lowres(**kwargs) -> None:
    """Train the low-resolution video generator (with discriminator and FlowNet).

    Writes runs/NNNNN-lowres-PRESET/ with config.json, metrics.jsonl, checkpoint.pt,
    samples/*.png (masks | real | generated) and loss.png.

    \b
    Example:
      tgan-aug train lowres --data ctc/01 --preset small -o runs/ --max-minutes 30
      tgan-aug train lowres --data img.tif:masks.tif --preset tiny --max-steps 3
      tgan-aug train lowres --preset paper --dry-run
      tgan-aug train lowres --data ctc/01 --resume runs/00000-lowres-small/checkpoint.pt --max-steps 8000
    """
    _run("lowres", **kwargs)


@train.command("superres")
@_common_options
@click.option("--lowres-checkpoint", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A trained low-res stage (its checkpoint.pt): part of the time (the share is the setting "
                   "p_lowres_input, see --dry-run) the super-res stage is trained on this generator's own output "
                   "instead of a downsampled real frame, so it learns to sharpen what the low-res stage really draws.")
def superres(**kwargs) -> None:
    """Train the super-resolution generator: (downsampled real frame, mask) -> real frame.

    \b
    Example:
      tgan-aug train superres --data ctc/01 --preset small -o runs/
      tgan-aug train superres --data ctc/01 --preset small --lowres-checkpoint runs/00000-lowres-small/checkpoint.pt
    """
    _run("superres", **kwargs)
