"""``tgan-aug info | import-ctc | export-ctc``: look at data and move it between CTC folders and stores.

Thin layer over :mod:`tgan_aug.io`: each command parses options and calls one library function.
"""

from __future__ import annotations

import json

import click

from tgan_aug.cli.common import append_option, overwrite_option

_LINK_HELP = (
    "TIFF pairs only: how to get tracks from the masks. auto = use the ids when they look linked "
    "over time, else fail; ids = trust the ids; overlap = link consecutive frames by greedy IoU >= 0.2 "
    "(no divisions)."
)


@click.command()
@click.argument("path", type=str)
@click.option("--sequence", type=str, default=None, help="Only this sequence ('01' in a CTC folder, 'seq000' in a store).")
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON (a list, one object per sequence).")
@click.option("--link", type=click.Choice(["auto", "ids", "overlap"]), default="auto", show_default=True, help=_LINK_HELP)
def info(path: str, sequence: str | None, as_json: bool, link: str) -> None:
    """Show what PATH holds: frames, size, dtypes, cells per frame, tracks, divisions, mean track length.

    PATH is a CTC dataset folder (or its NN / NN_GT / NN_ST folder), a tgan-aug store, or
    IMAGES.tif:MASKS.tif. The lineage is checked against the masks while reading.

    \b
    Example:
      tgan-aug info data/bacteria-phc
      tgan-aug info data/PhC-C2DL-PSC/02_ST --json
      tgan-aug info work/bacteria.zarr --sequence 01
      tgan-aug info img.tif:masks.tif --link overlap
    """
    from tgan_aug.io.info import dataset_info, format_info

    facts = dataset_info(path, sequence=sequence, link=link)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(facts, indent=2))
    else:
        click.echo("\n\n".join(format_info(f) for f in facts))


@click.command("import-ctc")
@click.argument("ctc_dir", type=str)
@click.argument("store", type=str)
@click.option("--sequence", type=str, default=None, help="Import only this CTC sequence (e.g. 01); default: all.")
@click.option("--gt", type=click.Choice(["auto", "GT", "ST"]), default="auto", show_default=True,
              help="Gold (GT) or silver (ST) truth; auto tries GT TRA, ST TRA, ST SEG, GT SEG.")
@click.option("--kind", type=click.Choice(["auto", "TRA", "SEG"]), default="auto", show_default=True,
              help="Tracking masks (TRA + man_track.txt) or segmentation masks with ids linked over time (SEG).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@append_option
@overwrite_option
def import_ctc(ctc_dir: str, store: str, sequence: str | None, gt: str, kind: str, quiet: bool, append: bool,
               overwrite: bool) -> None:
    """Copy the sequences of the CTC dataset CTC_DIR into the zarr store STORE.

    Each sequence keeps its CTC name (01, 02, ...) as its name in the store; the lineage is read
    from man_track.txt (checked against the masks) or derived from mask ids linked over time.

    \b
    Example:
      tgan-aug import-ctc data/bacteria-phc work/bacteria.zarr
      tgan-aug import-ctc data/PhC-C2DL-PSC work/psc.zarr --gt ST --kind SEG
      tgan-aug import-ctc data/bacteria-phc work/bacteria.zarr --overwrite
      tgan-aug import-ctc data/PhC-C2DL-PSC work/bacteria.zarr --append      # add to an existing store
    """
    from tgan_aug.io.convert import import_ctc as run

    names = run(ctc_dir, store, sequence=sequence, gt=gt, kind=kind, overwrite=overwrite, append=append,
                progress=not quiet)  # type: ignore[arg-type]
    click.echo(f"imported {', '.join(names)} into {store}")


@click.command("export-ctc")
@click.argument("store", type=str)
@click.argument("out_dir", type=str)
@click.option("--sequence", "sequences", multiple=True, help="Store sequence to export (repeatable); default: all.")
@click.option("--seg", is_flag=True, help="Also write NN_GT/SEG/man_segTTT.tif (the same dense masks as TRA).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@overwrite_option
def export_ctc(store: str, out_dir: str, sequences: tuple[str, ...], seg: bool, quiet: bool, overwrite: bool) -> None:
    """Write the sequences of the store STORE as a CTC dataset folder OUT_DIR.

    Writes NN/tTTT.tif (images), NN_GT/TRA/man_trackTTT.tif + man_track.txt (and NN_GT/SEG with
    --seg), accepted by py-ctcmetrics and trackastra. Store names that are numbers keep them;
    others (seq000, ...) become 01, 02, ... Files appear only when complete.

    \b
    Example:
      tgan-aug export-ctc work/bacteria.zarr out/bacteria-ctc
      tgan-aug export-ctc work/synth.zarr out/synth-ctc --sequence seq003 --seg --overwrite
    """
    from tgan_aug.io.convert import export_ctc as run

    mapping = run(store, out_dir, sequences=list(sequences) or None, seg=seg, overwrite=overwrite, progress=not quiet)
    click.echo(f"wrote {', '.join(f'{k} -> {out_dir}/{v}' for k, v in mapping.items())}")
