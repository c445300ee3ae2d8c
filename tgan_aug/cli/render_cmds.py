"""``tgan-aug render``: tracked masks -> rendered video (zarr store, optional CTC folders), with the
tGAN or the fitted painter; ``tgan-aug fit-painter``: keep a painter fit as a small file; ``demo``."""

from __future__ import annotations

import click

from tgan_aug.cli.common import (Option, device_option, geff_option, output_option, overwrite_option, parse_size,
                                 positional_or_output, quiet_option, seed_option)
from tgan_aug.errors import UserError
from tgan_aug.pretrained import DEFAULT_MODEL
from tgan_aug.text import plural


def model_checkpoint(model: str | None, checkpoint: str | None, *, renderer: str = "tgan") -> str | None:
    """The checkpoint that ``--model NAME`` or ``--checkpoint CKPT`` (exclusive) picks; None = the default model."""
    if model is None:
        return checkpoint
    if checkpoint is not None:
        raise UserError("give --model NAME (a shipped model) or --checkpoint CKPT (your own), not both")
    if renderer != "tgan":
        raise UserError("--model is for --renderer tgan; the painter takes --fit instead")
    from tgan_aug.pretrained import resolve_model

    return str(resolve_model(model, flag="--model"))


@click.command("render")
@click.argument("masks", type=str)
@output_option("Output zarr store (one group per sequence).", required=True)
@click.option("--renderer", type=click.Choice(["tgan", "painter"]), default="tgan", show_default=True,
              help="tgan: the trained generator pair; painter: the non-learned painter fitted with --fit (CPU, seconds, no training).")
@click.option("--fit", "fit", type=str, default=None,
              help="Painter only: real data to fit on (CTC folder, store, IMAGES.tif:MASKS.tif) or a fit saved by 'tgan-aug fit-painter' (.npz).")
@click.option("--model", "model", type=str, default=None, cls=Option, shown_default=DEFAULT_MODEL,
              help="tgan only: a shipped model by name (see 'tgan-aug models').")
@click.option("--checkpoint", type=str, default=None, help="tgan only: merged checkpoint (.pt) from 'tgan-aug train' instead of a shipped --model.")
@click.option("--background", type=str, default="auto", show_default=True,
              help="'auto' (checkpoint background), 'bank' (drawn per sequence from the checkpoint's backgrounds) or an image file.")
@click.option("--shard", type=str, default=None, help="K/N: render every N-th sequence from K (0-based); shards may share one store.")
@click.option("--ctc", "ctc", type=str, default=None, help="Also export CTC folders here.")
@geff_option
@click.option("--batch", type=click.IntRange(1), default=4, show_default=True, help="Sequences rendered together in the low-res stage.")
@click.option("--frame-batch", type=click.IntRange(1), default=8, show_default=True, help="Frames per super-res batch.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True,
              help="Number format of the network's arithmetic: bf16 (16-bit) is faster on a GPU and changes pixel "
                   "values very slightly, fp32 (32-bit) is the exact reference; auto = bf16 on a GPU, fp32 on CPU.")
@click.option("--temporal", type=click.Choice(["per-frame", "autoregressive"]), default="per-frame", show_default=True,
              help="tgan only. per-frame: every frame made from its own mask with the sequence's style, noise and "
                   "background (steady cell brightness, no drift); autoregressive: the previous masks and the previous "
                   "rendered frame are fed back, as in training (cells flicker with their motion: README 'Shipped models').")
@click.option("--intensity-match", type=click.Choice(["auto", "training", "none"]), default="auto", show_default=True,
              help="tgan only. training: map each sequence's intensities (one monotone map per sequence, fitted on 8 of "
                   "its frames) onto the training data's intensity quantiles stored in the checkpoint; auto: that when the "
                   "checkpoint stores them, else none; none: the generator's raw output (README 'Intensity matching').")
@click.option("--track-smoothing", type=click.FloatRange(0.0, 1.0, max_open=True), default=None,
              help="tgan only. Weight (beta, 0..1) of a cell's earlier brightness in the moving average its mean "
                   "intensity follows along its track: steadier cells, texture kept; 0 = off. Default when the "
                   "intensities are matched (see --intensity-match): the beta 'tgan-aug train' fitted on its held-back "
                   "frames and stored in the model file, or 0.3 for a model without one; unmatched: 0 "
                   "(README 'Track smoothing').")
@click.option("--carry-over", type=click.FloatRange(0.0, 1.0, max_open=True), default=None,
              help="tgan only. Weight (alpha, 0..1) of the previous frame, moved with each cell, blended into the cells "
                   "and their halos (local contrast kept): textures move with the cells instead of being redrawn every "
                   "frame; 0 = off. Default when the intensities are matched: the alpha 'tgan-aug train' fitted on its "
                   "held-back frames, else 0 (README 'Carry-over').")
@click.option("--sister-junctions", is_flag=True, default=False,
              help="tgan only. Close the cut between two daughters (from the masks' lineage) before the generator sees "
                   "them, so it draws one body with a dark junction, as bacteria in phase contrast look after dividing; "
                   "leave off for nuclei, whose daughters part (README 'Sisters' junctions').")
@click.option("--part-neighbours", is_flag=True, default=False,
              help="tgan only. Keep two background pixels between cells that are not sisters where their masks touch "
                   "or lie one pixel apart, in what the generator sees, so it draws the line that parts real neighbours "
                   "(masksynth colonies whose cells touch; README 'Sisters' junctions').")
@quiet_option
@seed_option
@device_option
@overwrite_option
def render(masks, output, renderer, fit, model, checkpoint, background, shard, ctc, geff, batch, frame_batch, precision,
           temporal, intensity_match, track_smoothing, carry_over, sister_junctions, part_neighbours, quiet, seed, device, overwrite):
    """Render tracked masks (store, CTC folder or IMAGES.tif:MASKS.tif) into microscopy video.

    Labels and lineage pass through unchanged; images get the training (or fitted) data's dtype and range.

    \b
    Example:
      tgan-aug synth-masks --density high --frames 20 -o masks.zarr
      tgan-aug render masks.zarr -o video.zarr --model hela-small --seed 1
      tgan-aug render masks.zarr -o video.zarr --checkpoint run/model.pt
      tgan-aug render masks.zarr -o video.zarr --checkpoint run/model.pt --track-smoothing 0 --carry-over 0   # unlinked labels
      tgan-aug render colony.zarr -o video.zarr --checkpoint bacteria/model.pt --sister-junctions --part-neighbours
      tgan-aug render masks.zarr -o video.zarr --shard 0/2 --ctc video_ctc --geff video_geff
      tgan-aug render masks.zarr -o painted.zarr --renderer painter --fit data/PhC-C2DL-PSC --seed 1
    """
    import sys

    from tgan_aug.render.pipeline import render as run

    checkpoint = model_checkpoint(model, checkpoint, renderer=renderer)
    names = run(masks, output, renderer=renderer, checkpoint=checkpoint, fit=fit, background=background, seed=seed, device=device, shard=shard,
                ctc=ctc, overwrite=overwrite, batch=batch, frame_batch=frame_batch, precision=precision,
                temporal=temporal, intensity_match=intensity_match, track_smoothing=track_smoothing,
                carry_over=carry_over, sister_junctions=sister_junctions, part_neighbours=part_neighbours, command="tgan-aug " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["render"] else "tgan-aug render",
                progress=not quiet)
    click.echo(f"rendered {plural(len(names), 'sequence')} into {output}" + (f" and {ctc}" if ctc else ""))
    if geff is not None:
        from tgan_aug.io.geff_export import export_geff

        export_geff(output, geff, sequences=list(names), overwrite=overwrite, progress=not quiet)
        click.echo(f"wrote GEFF graphs into {geff}")


@click.command("fit-painter")
@click.argument("data", type=str)
@output_option("Fit file to write (.npz; a few hundred KB).", required=True)
@click.option("--sequence", type=str, default=None, help="Fit on this sequence only (e.g. 01); default: every sequence with images.")
@overwrite_option
def fit_painter(data, output, sequence, overwrite):
    """Fit the non-learned painter on real DATA (images + masks) and save the fit, for
    'tgan-aug render --renderer painter --fit FIT.npz'.

    \b
    Example:
      tgan-aug fit-painter data/PhC-C2DL-PSC -o psc-painter.npz
      tgan-aug render masks.zarr -o painted.zarr --renderer painter --fit psc-painter.npz
    """
    from tgan_aug.render.painter import save_painter_fit

    path = save_painter_fit(data, output, sequence=sequence, overwrite=overwrite)
    click.echo(f"painter fit of {data} saved to {path}")


@click.command("demo")
@click.argument("out_dir", type=str, required=False)
@output_option("The folder to write (instead of the positional OUT_DIR).")
@click.option("--frames", type=click.IntRange(2), default=20, show_default=True, help="Frames per sequence.")
@click.option("--size", type=str, default="256x384", show_default=True, help="Frame size HEIGHTxWIDTH (px).")
@click.option("--sequences", type=click.IntRange(1), default=2, show_default=True, help="Number of sequences.")
@click.option("--model", "model", type=str, default=None, cls=Option, shown_default=DEFAULT_MODEL,
              help="Shipped model (see 'tgan-aug models'); masks are made like its data.")
@click.option("--checkpoint", type=str, default=None, help="Your own model file instead of a shipped --model (masks: high-density preset).")
@quiet_option
@seed_option
@device_option
@overwrite_option
def demo(out_dir, output, frames, size, sequences, model, checkpoint, quiet, seed, device, overwrite):
    """Whole pipeline on a shipped model: masks like its data -> video -> store, CTC, preview
    (MP4, strips, real | synthetic comparison), summary.

    \b
    Example:
      tgan-aug demo demo_out
      tgan-aug demo -o demo_out --frames 10 --size 128x192 --overwrite
      tgan-aug demo demo_out --model hela-small
    """
    from tgan_aug.render.demo import run_demo

    summary = run_demo(positional_or_output(out_dir, output, "OUT_DIR"), seed=seed, device=device, frames=frames,
                       size=parse_size(size, "--size"), sequences=sequences, model=model, checkpoint=checkpoint, overwrite=overwrite,
                       progress=not quiet)
    click.echo(summary.read_text())
