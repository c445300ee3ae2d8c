"""``tgan-aug info | import-ctc | export-ctc | export-geff | import-geff``: look at data and move it
between CTC folders, GEFF graphs and stores.

Thin layer over :mod:`tgan_aug.io`: each command parses options and calls one library function.
"""

from __future__ import annotations

import json

import click

from tgan_aug.cli.common import (append_option, geff_option, output_option, overwrite_option, positional_or_output,
                                 quiet_option)

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
@click.argument("store", type=str, required=False)
@output_option("The zarr store to write (instead of the positional STORE).")
@click.option("--sequence", type=str, default=None, help="Import only this CTC sequence (e.g. 01); default: all.")
@click.option("--gt", type=click.Choice(["auto", "GT", "ST"]), default="auto", show_default=True,
              help="Gold (GT) or silver (ST) truth; auto tries GT TRA, ST TRA, ST SEG, GT SEG.")
@click.option("--kind", type=click.Choice(["auto", "TRA", "SEG"]), default="auto", show_default=True,
              help="Tracking masks (TRA + man_track.txt) or segmentation masks with ids linked over time (SEG).")
@quiet_option
@append_option
@overwrite_option
def import_ctc(ctc_dir: str, store: str | None, output: str | None, sequence: str | None, gt: str, kind: str, quiet: bool,
               append: bool, overwrite: bool) -> None:
    """Copy the sequences of the CTC dataset CTC_DIR into the zarr store STORE.

    Each sequence keeps its CTC name (01, 02, ...) as its name in the store; the lineage is read
    from man_track.txt (checked against the masks) or derived from mask ids linked over time.

    \b
    Example:
      tgan-aug import-ctc data/bacteria-phc work/bacteria.zarr
      tgan-aug import-ctc data/PhC-C2DL-PSC -o work/psc.zarr --gt ST --kind SEG
      tgan-aug import-ctc data/bacteria-phc work/bacteria.zarr --overwrite
      tgan-aug import-ctc data/PhC-C2DL-PSC work/bacteria.zarr --append      # add to an existing store
    """
    from tgan_aug.io.convert import import_ctc as run

    store = positional_or_output(store, output, "STORE")
    names = run(ctc_dir, store, sequence=sequence, gt=gt, kind=kind, overwrite=overwrite, append=append,
                progress=not quiet)  # type: ignore[arg-type]
    click.echo(f"imported {', '.join(names)} into {store}")


@click.command("export-ctc")
@click.argument("store", type=str)
@click.argument("out_dir", type=str, required=False)
@output_option("The CTC dataset folder to write (instead of the positional OUT_DIR).")
@click.option("--sequence", "sequences", multiple=True, help="Store sequence to export (repeatable); default: all.")
@click.option("--seg", is_flag=True, help="Also write NN_GT/SEG/man_segTTT.tif (the same dense masks as TRA).")
@geff_option
@quiet_option
@overwrite_option
def export_ctc(store: str, out_dir: str | None, output: str | None, sequences: tuple[str, ...], seg: bool,
               geff: str | None, quiet: bool, overwrite: bool) -> None:
    """Write the sequences of the store STORE as a CTC dataset folder OUT_DIR.

    Writes NN/tTTT.tif (images), NN_GT/TRA/man_trackTTT.tif + man_track.txt (and NN_GT/SEG with
    --seg), accepted by py-ctcmetrics and trackastra. Store names that are numbers keep them;
    others (seq000, ...) become 01, 02, ... Files appear only when complete.

    \b
    Example:
      tgan-aug export-ctc work/bacteria.zarr out/bacteria-ctc
      tgan-aug export-ctc work/synth.zarr -o out/synth-ctc --sequence seq003 --seg --overwrite
      tgan-aug export-ctc work/synth.zarr out/synth-ctc --geff out/synth-geff
    """
    from tgan_aug.io.convert import export_ctc as run

    out_dir = positional_or_output(out_dir, output, "OUT_DIR")
    if geff is not None:  # a GEFF clash fails before the CTC folder is written
        from tgan_aug.io.geff_export import check_geff_targets

        check_geff_targets(store, geff, sequences=list(sequences) or None, overwrite=overwrite)
    mapping = run(store, out_dir, sequences=list(sequences) or None, seg=seg, overwrite=overwrite, progress=not quiet)
    click.echo(f"wrote {', '.join(f'{k} -> {out_dir}/{v}' for k, v in mapping.items())}")
    if geff is not None:
        _export_geff(store, geff, list(mapping), overwrite=overwrite, quiet=quiet)


def _export_geff(store: str, out_dir: str, sequences: list[str] | None, *, overwrite: bool, quiet: bool) -> None:
    from tgan_aug.io.geff_export import export_geff as run

    written = run(store, out_dir, sequences=sequences, overwrite=overwrite, progress=not quiet)
    click.echo(f"wrote GEFF {', '.join(str(p) for p in written.values())}")


@click.command("export-geff")
@click.argument("store", type=str)
@click.argument("out_dir", type=str, required=False)
@output_option("The folder to write the graphs into (instead of the positional OUT_DIR).")
@click.option("--sequence", "sequences", multiple=True, help="Store sequence to export (repeatable); default: all.")
@quiet_option
@overwrite_option
def export_geff(store: str, out_dir: str | None, output: str | None, sequences: tuple[str, ...], quiet: bool,
                overwrite: bool) -> None:
    """Write the lineage graphs of the store STORE as GEFF into the folder OUT_DIR.

    Each sequence NAME becomes OUT_DIR/NAME/ holding tracks.geff (one node per cell and frame
    with t, y, x, area, track_id, lineage_id; edges for continuation and division) and labels
    (the track-id masks the graph points to). motile-tracker, traccuracy, ultrack, trackastra
    and napari-geff read it; the geff package validates it before it is kept.

    \b
    Example:
      tgan-aug export-geff work/bacteria.zarr out/bacteria-geff
      tgan-aug export-geff work/synth.zarr -o out/synth-geff --sequence seq003 --overwrite
    """
    out_dir = positional_or_output(out_dir, output, "OUT_DIR")
    _export_geff(store, out_dir, list(sequences) or None, overwrite=overwrite, quiet=quiet)


@click.command("import-geff")
@click.argument("geff", type=str)
@click.argument("store", type=str, required=False)
@output_option("The zarr store to write (instead of the positional STORE).")
@click.option("--labels", type=str, default=None,
              help="The label image (zarr array or OME-Zarr image); default: the graph's related_objects "
                   "labels entry, else a sibling 'segmentation' or 'labels'.")
@click.option("--seg-prop", type=str, default=None,
              help="Node property holding each node's label value; default: the related object's "
                   "node_prop, else seg_id, label, then the tracklet property.")
@click.option("--name", type=str, default=None,
              help="Sequence name in the store; default: the exported name, else the next seqNNN.")
@quiet_option
@append_option
@overwrite_option
def import_geff(geff: str, store: str | None, output: str | None, labels: str | None, seg_prop: str | None, name: str | None,
                quiet: bool, append: bool, overwrite: bool) -> None:
    """Read the GEFF graph GEFF with its label image into the store STORE as one tracked sequence.

    A run of nodes linked frame to frame is one track; a division (or a gap in time) starts new
    tracks whose parent is the track before. Merges are refused; the result is checked with the
    CTC rules. Graphs from trackastra, motile-tracker, ultrack and export-geff are read.

    \b
    Example:
      tgan-aug import-geff out/bacteria-geff/01/tracks.geff work/again.zarr
      tgan-aug import-geff run.zarr/tracking_graph.geff -o work/ta.zarr --labels run.zarr/segmentation
    """
    from tgan_aug.io.geff_import import import_geff as run

    flag = "STORE" if store is not None else "-o/--output"
    store = positional_or_output(store, output, "STORE")
    written = run(geff, store, name=name, labels=labels, seg_prop=seg_prop, append=append, overwrite=overwrite,
                  flag=flag, progress=not quiet)
    click.echo(f"imported {geff} into {store} as {written}")
