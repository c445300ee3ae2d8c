"""``tgan-aug train lowres|superres``: train the two generator stages (thin layer over tgan_aug.training)."""

from __future__ import annotations

import click

from tgan_aug.cli.common import device_option, seed_option, workers_option


def _common_options(func):
    options = [
        click.option("--data", "data", type=str, default=None,
                     help="Training data: zarr store, CTC folder, or IMAGES.tif:MASKS.tif (needs images with masks)."),
        click.option("--sequence", type=str, default=None, help="Only this sequence of the data (default: all)."),
        click.option("--preset", type=click.Choice(["paper", "small", "tiny"]), default="small", show_default=True,
                     help="Model and training preset."),
        click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), default="runs", show_default=True,
                     help="Folder for numbered run folders (NNNNN-<stage>-<preset>/, never reused)."),
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
                     help="Override any config key (JSON values), e.g. --set w_l1=5 --set model.base_channels=16. Repeatable."),
        click.option("--dry-run", is_flag=True, help="Print the resolved configuration as JSON and exit."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
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
    if max_steps is not None:
        cfg.max_steps = max_steps
    if max_minutes is not None:
        cfg.max_minutes = max_minutes
    cfg = cfg.with_overrides(list(overrides))
    if resume is not None and dry_run:  # a resumed run uses the checkpoint's config
        from tgan_aug.training import load_checkpoint

        cfg = TrainConfig.from_dict(load_checkpoint(resume)["config"])
        if max_steps is not None:
            cfg.max_steps = max_steps
    if dry_run:
        click.echo(cfg.to_json())
        return
    if data is None:
        raise UserError(f"--data is required: give the training data (zarr store, CTC folder or IMAGES.tif:MASKS.tif) for 'tgan-aug train {stage}'")
    from tgan_aug.training.loop import train as run_training

    run_dir = run_training(cfg, data=data, out_dir=out_dir, device=device, resume=resume, sequence=sequence,
                           workers=workers, max_steps=max_steps, max_minutes=max_minutes, progress=not quiet)
    click.echo(f"run folder: {run_dir}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def train() -> None:
    """Train the generator: 'lowres' (video stage) first, then 'superres'.

    \b
    Example:
      tgan-aug train lowres --data data/01 --preset small -o runs/
      tgan-aug train superres --data data/01 --preset small -o runs/
      torchrun --nproc_per_node 2 -m tgan_aug.cli train lowres --data data/01 --preset paper
    """


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
              help="Low-res checkpoint whose outputs are used as inputs with probability p_lowres_input.")
def superres(**kwargs) -> None:
    """Train the super-resolution generator: (downsampled real frame, mask) -> real frame.

    \b
    Example:
      tgan-aug train superres --data ctc/01 --preset small -o runs/
      tgan-aug train superres --data ctc/01 --preset small --lowres-checkpoint runs/00000-lowres-small/checkpoint.pt
    """
    _run("superres", **kwargs)
