"""``tgan-aug evaluate``: realism metrics of FAKE video against REAL video, as a report."""

from __future__ import annotations

import json

import click

from tgan_aug.cli.common import device_option, output_option, overwrite_option, quiet_option, seed_option


@click.command("evaluate")
@click.option("--real", "real", required=True, help="REAL data: zarr store, CTC folder, or IMAGES.tif:MASKS.tif.")
@click.option("--fake", "fake", required=True, help="FAKE (rendered) data, same forms as --real.")
@output_option("Report folder (report.md, metrics.json, panels/, plots/). Default: no files, table on stdout.",
               dest="out_dir", aliases=("--out",), type=click.Path(file_okay=False), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout (instead of the table).")
@click.option("--protocol", type=click.Choice(["strict", "paper-minmax"]), default="strict", show_default=True,
              help="strict: REAL's recorded intensity range; paper-minmax: per-frame min-max (the tGAN paper's script; hides brightness errors).")
@click.option("--unpaired", is_flag=True, help="Skip paired metrics even when REAL and FAKE share masks.")
@click.option("--real-sequence", default=None, help="Sequence of REAL to use (e.g. 01, seq000); default all.")
@click.option("--fake-sequence", default=None, help="Sequence of FAKE to use; default all (matched by name).")
@click.option("--preset", type=click.Choice(["default", "fast"]), default="default", show_default=True, help="fast: quarter-size DeepSea features, no length curve.")
@click.option("--feature-scale", type=float, default=None, help="Resize factor before DeepSea features  [default: 0.5, fast: 0.25].")
@click.option("--invert", type=click.Choice(["auto", "yes", "no"]), default="auto", show_default=True,
              help="Invert intensities for DeepSea (it expects dark cells); auto: when REAL's cells are brighter than its background.")
@click.option("--clip-length", type=click.IntRange(2), default=8, show_default=True, help="Frames per clip for FD/KID-DeepSea-clip.")
@click.option("--flow", type=click.Choice(["dis", "farneback"]), default="dis", show_default=True, help="Optical flow for the warping error.")
@click.option("--baseline", type=click.Choice(["none", "painter"]), default="none", show_default=True,
              help="painter: also evaluate the non-learned painter fitted on REAL, painting FAKE's masks (about doubles the time).")
@click.option("--vgg19-weights", type=click.Path(dir_okay=False), default=None, help="Local torchvision VGG19 state dict: enables VGG19-perceptual.")
@click.option("--inception-weights", type=click.Path(dir_okay=False), default=None, help="Local Inception-v3 state dict: enables the FID-Inception metric.")
@quiet_option
@device_option
@seed_option
@overwrite_option
def evaluate(real, fake, out_dir, as_json, protocol, unpaired, real_sequence, fake_sequence, preset, feature_scale, invert,
             clip_length, flow, baseline, vgg19_weights, inception_weights, quiet, device, seed, overwrite):
    """Measure how realistic FAKE video is against REAL: paired (SSIM, PSNR, DeepSea perceptual),
    distribution (FID/KID on DeepSea features, per frame and per clip), temporal (warping error,
    per-cell flicker, 2-frame flicker "frame parity", drift over the whole video) and microscopy
    statistics. Runs offline.

    \b
    Example:
      tgan-aug evaluate --real data/ctc/01_GT --fake rendered.zarr -o report/
      tgan-aug evaluate --real real.zarr --fake fake.zarr --json > metrics.json
      tgan-aug evaluate --real real.zarr --fake fake.zarr --protocol paper-minmax -o paper_protocol/
      tgan-aug evaluate --real data/ctc/01_GT --fake rendered.zarr --baseline painter
    """
    from tgan_aug.cli.common import resolve_device
    from tgan_aug.metrics import EvalConfig, evaluate_paths, metric_specs

    overrides = dict(protocol=protocol, paired="no" if unpaired else "auto", invert=invert, clip_length=clip_length, flow=flow,
                     vgg19_weights=vgg19_weights, inception_weights=inception_weights, device=str(resolve_device(device)), seed=seed)
    if feature_scale is not None:
        overrides["feature_scale"] = feature_scale
    cfg = EvalConfig.preset(preset, **overrides)
    result = evaluate_paths(real, fake, out_dir=out_dir, config=cfg, real_sequence=real_sequence, fake_sequence=fake_sequence,
                            overwrite=overwrite, progress=not (as_json or quiet), baseline=baseline)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    specs = metric_specs(clip_length=clip_length)
    for name, seq in result["sequences"].items():
        click.echo(f"{name} (paired: {seq['info']['paired']}, protocol: {seq['info']['protocol']})")
        painter = seq["info"].get("painter_baseline")
        if painter is not None:
            click.echo(f"  {'metric':<28} {'value':>12} {'painter':>12}")
        for key, val in seq["metrics"].items():
            better = specs[key].better if key in specs else ""
            base = "" if painter is None else f" {_num(painter.get(key)):>12}"
            click.echo(f"  {key:<28} {_num(val):>12}{base}" + (f"  ({better} is better)" if better != "match" else ""))
        for note in seq["notes"]:
            click.echo(f"  note: {note}")
    if out_dir:
        click.echo(f"report: {out_dir}/report.md")


def _num(val) -> str:
    return "n/a" if val is None else f"{val:.4g}"
