"""``tgan-aug render``: tracked masks -> rendered video (zarr store, optional CTC folders)."""

from __future__ import annotations

import click

from tgan_aug.cli.common import device_option, geff_option, overwrite_option, parse_size, seed_option


@click.command("render")
@click.argument("masks", type=str)
@click.option("-o", "--output", "output", required=True, type=str, help="Output zarr store (one group per sequence).")
@click.option("--checkpoint", type=str, default=None, help="Merged checkpoint (.pt); default: the shipped pretrained model.")
@click.option("--background", type=str, default="auto", show_default=True,
              help="'auto' (checkpoint background), 'bank' (drawn per sequence from the checkpoint's backgrounds) or an image file.")
@click.option("--shard", type=str, default=None, help="K/N: render every N-th sequence from K (0-based); shards may share one store.")
@click.option("--ctc", "ctc", type=str, default=None, help="Also export CTC folders here.")
@geff_option
@click.option("--batch", type=click.IntRange(1), default=4, show_default=True, help="Sequences rendered together in the low-res stage.")
@click.option("--frame-batch", type=click.IntRange(1), default=8, show_default=True, help="Frames per super-res batch.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True,
              help="auto = bf16 autocast on CUDA, fp32 on CPU.")
@seed_option
@device_option
@overwrite_option
def render(masks, output, checkpoint, background, shard, ctc, geff, batch, frame_batch, precision, seed, device, overwrite):
    """Render tracked masks (store, CTC folder or IMAGES.tif:MASKS.tif) into microscopy video.

    Labels and lineage pass through unchanged; images get the training data's dtype and range.

    \b
    Example:
      tgan-aug synth-masks --density high --frames 20 -o masks.zarr
      tgan-aug render masks.zarr -o video.zarr --checkpoint run/merged.pt --seed 1
      tgan-aug render masks.zarr -o video.zarr --shard 0/2 --ctc video_ctc --geff video_geff
    """
    import sys

    from tgan_aug.render.pipeline import render as run

    names = run(masks, output, checkpoint=checkpoint, background=background, seed=seed, device=device, shard=shard,
                ctc=ctc, overwrite=overwrite, batch=batch, frame_batch=frame_batch, precision=precision,
                command="tgan-aug " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["render"] else "tgan-aug render",
                progress=True)
    click.echo(f"rendered {len(names)} sequence(s) into {output}" + (f" and {ctc}" if ctc else ""))
    if geff is not None:
        from tgan_aug.io.geff_export import export_geff

        export_geff(output, geff, sequences=list(names), overwrite=overwrite)
        click.echo(f"wrote GEFF graphs into {geff}")


@click.command("demo")
@click.argument("out_dir", type=str)
@click.option("--frames", type=click.IntRange(2), default=20, show_default=True, help="Frames per sequence.")
@click.option("--size", type=str, default="256x384", show_default=True, help="Frame size HEIGHTxWIDTH (px).")
@click.option("--sequences", type=click.IntRange(1), default=2, show_default=True, help="Number of sequences.")
@click.option("--checkpoint", type=str, default=None, help="Checkpoint to use instead of the shipped model.")
@seed_option
@device_option
@overwrite_option
def demo(out_dir, frames, size, sequences, checkpoint, seed, device, overwrite):
    """Whole pipeline on the shipped model: high-density masks -> video -> store, CTC, preview, summary.

    \b
    Example:
      tgan-aug demo demo_out
      tgan-aug demo demo_out --frames 10 --size 128x192 --overwrite
    """
    from tgan_aug.render.demo import run_demo

    summary = run_demo(out_dir, seed=seed, device=device, frames=frames, size=parse_size(size, "--size"),
                       sequences=sequences, checkpoint=checkpoint, overwrite=overwrite)
    click.echo(summary.read_text())
