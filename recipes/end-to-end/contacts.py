#!/usr/bin/env python
"""How each renderer of the end-to-end experiment draws touching cells: contact contrast per fold.

For each fold of a finished (or partly run) ``end_to_end.py`` work folder, with the fold's own
generator (``generator/generator-fitted.pt``) and its synthetic masks (made again, deterministic):

- ``real limited``: the fold's real frames; ``real test``: the test frames (the dense colony);
- ``tgan``: the experiment's render (``synthetic_tgan.zarr``; for bacteria with sister junctions
  and parted neighbours: the generators see the cut between sisters closed and two background
  pixels between other cells, :func:`tgan_aug.contacts.cell_foreground`);
- ``tgan, gaps open``: the same generator, seed and masks rendered without sister junctions (the
  cut as background, ``tgan-aug render``'s default), neighbours parted as in the experiment;
- ``tgan, not parted``: the same with sister junctions and without parting (session 20's render);
- ``painter`` / ``painter-nolineage``: the painter fitted on the fold, as in the experiment.

Give the run's ``--set`` overrides that change the synthetic masks (e.g. ``--set synth_frames=1.5``),
so the masks made again are the run's.

Score: :func:`tgan_aug.metrics.microscopy.contact_contrast` (0 = touching cells look merged,
1 = as the background around the cells) at the contacts between sisters and between other cells,
pooled over a video's sequences by their contact pixels, in the fold's real 0.5-99.5 % intensity
range. Real bacteria: sisters ~0.2 (a dark junction), others ~0.7 (a bright halo line). The masks'
side: the share of other (non-sister) neighbour pair-frames less than ``NEIGHBOUR_GAP`` (2) background
pixels apart, in the real fold, the synthetic masks and what the generator sees after parting
(:func:`masksynth.stats.neighbour_gaps`). Cell contrast: background mean minus cell mean
(:func:`tgan_aug.metrics.microscopy.mask_stats`, same range) of the masksynth colony in each
rendering, of the fold's and the test's real frames (bacteria: dark cells, > 0; ~0 = cells the
segmenter cannot see). Writes ``contacts.md``, ``contacts.json``, ``contacts.png`` (per fold, the
same crowded patch of the last synthetic sequence in each rendering, next to a real one) and
``colony.jpg`` (per fold, the colony's last frame in each rendering, outlined, next to the fold's
last real frame; one intensity range per fold) to ``--results``.

Usage (from the repository root)::

    python recipes/end-to-end/contacts.py --work recipes/end-to-end/work --results recipes/end-to-end/results/cpu
    python recipes/end-to-end/contacts.py --set synth_frames=1.5 --results recipes/end-to-end/results/cpu-s23-seq
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tgan_aug.experiment import with_overrides
from tgan_aug.fold_data import COLONY_PREFIX, DATASETS, load_dataset, split_fold, synthetic_masks

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


#: contact kinds of the table (:func:`tgan_aug.contacts.contact_pixels`)
PAIRS = ("sisters", "others")
#: the experiment's render with one option changed: (name, store in the fold's work folder, option)
CONTROLS = (("tgan, gaps open", "synthetic_tgan_gaps_open.zarr", {"sister_junctions": False}),
            ("tgan, not parted", "synthetic_tgan_not_parted.zarr", {"part_neighbours": False}))


def close_share(masks: list, *, parted: bool = False) -> float:
    """Share of non-sister neighbour pair-frames of ``masks`` (TrackedMasks) less than NEIGHBOUR_GAP
    pixels apart; ``parted``: after :func:`tgan_aug.contacts.cell_foreground`'s parting."""
    from masksynth import TrackedMasks
    from masksynth.stats import neighbour_gaps
    from tgan_aug.contacts import NEIGHBOUR_GAP, cell_foreground

    gaps = []
    for m in masks:
        if parted:
            fg = cell_foreground(m.labels, m.lineage, close_sisters=False, part_neighbours=True)
            m = TrackedMasks(np.where(fg, m.labels, 0), m.lineage, validate=False)
        gaps.append(neighbour_gaps(m, pairs="others"))
    gaps = np.concatenate(gaps)
    return float(np.mean(gaps < NEIGHBOUR_GAP)) if gaps.size else float("nan")


def pooled_contrast(videos: list, data_range: tuple[float, float], pairs: str) -> float:
    """Contact contrast of several TrackedVideo at one kind of contact, weighted by their contact pixels."""
    from tgan_aug.contacts import contact_pixels
    from tgan_aug.metrics.microscopy import contact_contrast

    vals, weights = [], []
    for v in videos:
        c = contact_contrast(v.images, v.labels, data_range=data_range, lineage=v.masks.lineage, pairs=pairs)
        if np.isfinite(c):
            vals.append(c)
            weights.append(int(contact_pixels(v.labels, v.masks.lineage, pairs=pairs).sum()))
    return float(np.average(vals, weights=weights)) if vals else float("nan")


def colony_index(vids: dict[str, list]) -> int | None:
    """Index of the first masksynth colony (``synth_*``) in :func:`fold_videos`' lists; None without one."""
    return next((k for k, (name, _) in enumerate(vids["sequence names"]) if name.startswith(COLONY_PREFIX)), None)


def cell_contrast(video, data_range: tuple[float, float]) -> float:
    """Background mean minus cell mean of a TrackedVideo, in ``data_range`` units (dark cells: > 0)."""
    from tgan_aug.metrics.microscopy import mask_stats

    stats = mask_stats(video.images, video.labels, data_range=data_range)
    return float(stats["outside_mean"] - stats["inside_mean"])


def colony_figure(per_fold: dict[int, dict[str, list]], names: list[str], path: Path,
                  data_range: dict[int, tuple[float, float]]) -> Path:
    """An image (PNG or JPEG by ``path``'s suffix): one row per fold, the fold's last real frame,
    then the last frame of its masksynth colony (the first sequence named ``synth_*``) in each
    rendering of ``names``, in the fold's ``data_range``, every cell outlined in its colour, each
    tile titled. Frames of another size are padded white."""
    import cv2

    from tgan_aug.preview import overlay_outlines, to_uint8, write_image

    rows = []
    for fold, vids in sorted(per_fold.items()):
        colony = colony_index(vids)
        shown = [("real limited", vids["real limited"][0]), *((n, vids[n][colony]) for n in names)]
        tiles = []
        for name, v in shown:
            tile = overlay_outlines(to_uint8(v.images[-1], data_range[fold]), v.labels[-1])
            for colour, width in (((0, 0, 0), 3), ((255, 255, 255), 1)):
                cv2.putText(tile, f"fold {fold}: {name}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, width, cv2.LINE_AA)
            tiles.append(tile)
        h, w = max(t.shape[0] for t in tiles), max(t.shape[1] for t in tiles)
        tiles = [np.pad(t, ((0, h - t.shape[0] + 6), (0, w - t.shape[1] + 6), (0, 0)), constant_values=255) for t in tiles]
        rows.append(np.concatenate(tiles, axis=1))
    width = max(r.shape[1] for r in rows)
    write_image(path, np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]))
    return path


def fold_videos(dataset: str, fold: int, work: Path, profile: str, prof) -> dict[str, list]:
    """Every rendering of fold ``fold`` as {name: [TrackedVideo]} (see the module docstring), the
    synthetic masks made with ``prof`` (the run's profile ``profile`` and its overrides), and
    ``"sequence names"``: [(name, TrackedMasks)] of the synthetic sequences, in the lists' order."""
    import torch

    from tgan_aug.baselines.painter import fit_painter, paint
    from tgan_aug.io import read_store
    from tgan_aug.render.video import render_items

    spec = DATASETS[dataset]
    _, video = load_dataset(spec, root=REPO)
    split = split_fold(video, fold, min_fold=prof.min_fold)
    fdir = work / profile / dataset / f"fold{fold}"
    masks = synthetic_masks(split.limited.masks, layout=spec.layout, seed=fold, **prof.mask_options())
    out = {"real limited": [split.limited], "real test": [split.test], "sequence names": masks}
    store = fdir / "synthetic_tgan.zarr"
    out["tgan"] = [read_store(store, name) for name, _ in masks]
    ckpt = fdir / "generator" / "generator-fitted.pt"
    if not ckpt.is_file():
        ckpt = fdir / "generator" / "generator.pt"
    torch.set_num_threads(1)
    for name, store, options in CONTROLS:  # resumable, as the experiment's own render
        options = {"sister_junctions": spec.sister_junctions, "part_neighbours": spec.part_neighbours, **options}
        out[name] = [video for _, video in render_items(ckpt, list(masks), fdir / store, seed=fold, **options,
                                                        frame_batch=prof.render_frame_batch,
                                                        provenance={"command": "recipes/end-to-end/contacts.py"})]
    params = fit_painter([split.limited])
    for painter, lineage in (("painter", True), ("painter-nolineage", False)):
        out[painter] = [paint(m, params, seed=fold + k, lineage=lineage) for k, (_, m) in enumerate(masks)]
    return out


def patch_figure(per_fold: dict[int, dict[str, list]], path: Path, data_range: dict[int, tuple[float, float]]) -> Path:
    """A PNG grid: per fold and rendering, a 96x96 patch around the most crowded spot of the last
    synthetic sequence (the real test frames for "real test") at three frames, enlarged 3x."""
    import cv2

    from tgan_aug.contacts import contact_pixels
    from tgan_aug.preview import to_uint8, write_rows

    rows = []
    for fold, vids in sorted(per_fold.items()):
        for name in ("real test", "tgan, not parted", "tgan", "painter"):
            images, labels = vids[name][-1].images, vids[name][-1].labels
            ts = np.unique(np.linspace(images.shape[0] // 2, images.shape[0] - 1, 3).round().astype(int))
            cy, cx = np.argwhere(contact_pixels(labels[ts[-1]])).mean(axis=0).astype(int)
            y0 = int(np.clip(cy - 48, 0, max(labels.shape[1] - 96, 0)))
            x0 = int(np.clip(cx - 48, 0, max(labels.shape[2] - 96, 0)))
            patches = to_uint8(images[ts, y0:y0 + 96, x0:x0 + 96], data_range[fold])
            rows.append((f"fold {fold}: {name}", np.stack([cv2.resize(p, (3 * p.shape[1], 3 * p.shape[0]),
                                                                       interpolation=cv2.INTER_NEAREST) for p in patches])))
    return write_rows(path, rows, intensity_range=(0, 255), frames=3, max_width=1800)


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__[__doc__.index("Usage (from"):].replace("::", ":"))
    ap.add_argument("--dataset", default="bacteria", choices=list(DATASETS))
    ap.add_argument("--folds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--results", type=Path, default=HERE / "results" / "cpu")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="the run's profile overrides (JSON value), e.g. --set synth_frames=1.5 (repeatable)")
    args = ap.parse_args(argv)
    from end_to_end import PROFILES  # the experiment's profile: same synthetic masks

    prof = with_overrides(PROFILES[args.profile], args.overrides)
    rows, per_fold, ranges, gap_rows, colony_rows = {}, {}, {}, {}, {}
    for fold in args.folds:
        vids = fold_videos(args.dataset, fold, args.work, args.profile, prof)
        names = [n for n in vids if n != "sequence names"]
        lim = vids["real limited"][0].images
        data_range = (float(np.percentile(lim, 0.5)), float(np.percentile(lim, 99.5)))
        rows[fold] = {name: {pairs: pooled_contrast(vids[name], data_range, pairs) for pairs in PAIRS} for name in names}
        colony = colony_index(vids)
        colony_rows[fold] = {n: cell_contrast(vids[n][0 if n.startswith("real") else colony], data_range)
                             for n in names if colony is not None or n.startswith("real")}
        synthetic = [v.masks for v in vids["tgan"]]
        gap_rows[fold] = {"real limited": close_share([vids["real limited"][0].masks]), "synthetic masks": close_share(synthetic),
                          "as the generator sees them (parted)": close_share(synthetic, parted=True)}
        per_fold[fold], ranges[fold] = vids, data_range
        print(f"fold {fold}: " + ", ".join(f"{k} {v['sisters']:.3f} / {v['others']:.3f}" for k, v in rows[fold].items()), flush=True)
    names = list(next(iter(rows.values())))
    lines = [f"# Contact contrast of the end-to-end renderings ({args.dataset}, profile {args.profile})\n",
             "At the contacts between sisters / between other cells: 0 = they look merged, 1 = as the background "
             "around the cells (`tgan_aug.metrics.microscopy.contact_contrast`, in the fold's real 0.5-99.5 % range).\n",
             "| fold | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for fold, r in rows.items():
        lines.append(f"| {fold} | " + " | ".join(f"{r[n]['sisters']:.2f} / {r[n]['others']:.2f}" for n in names) + " |")
    cell = lambda vals: f"{np.nanmean(vals):.2f} ± {np.nanstd(vals, ddof=1):.2f}" if len(vals) > 1 else f"{vals[0]:.2f}"  # noqa: E731
    lines.append("| mean ± sd | " + " | ".join(" / ".join(cell([r[n][p] for r in rows.values()]) for p in PAIRS)
                                             for n in names) + " |")
    kinds = list(next(iter(gap_rows.values())))
    lines += ["", "Share of other (non-sister) neighbour pair-frames less than 2 background pixels apart in the masks "
              "(`masksynth.stats.neighbour_gaps`):\n", "| fold | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    lines += [f"| {fold} | " + " | ".join(f"{r[k]:.3f}" for k in kinds) + " |" for fold, r in gap_rows.items()]
    shown = list(next(iter(colony_rows.values())))
    lines += ["", "Cell contrast, background mean minus cell mean in the fold's real 0.5-99.5 % range (dark cells: > 0; "
              "~0: cells a segmenter cannot see): the real frames, and the masksynth colony in each rendering:\n",
              "| fold | " + " | ".join(shown) + " |", "|---|" + "---|" * len(shown)]
    lines += [f"| {fold} | " + " | ".join(f"{r.get(k, float('nan')):.2f}" for k in shown) + " |" for fold, r in colony_rows.items()]
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "contacts.md").write_text("\n".join(lines) + "\n")
    (args.results / "contacts.json").write_text(json.dumps({"contrast": rows, "close_neighbours": gap_rows,
                                                            "cell_contrast": colony_rows}, indent=2))
    patch_figure(per_fold, args.results / "contacts.png", ranges)
    if any(len(r) > 2 for r in colony_rows.values()):
        colony_figure(per_fold, [n for n in names if not n.startswith("real")], args.results / "colony.jpg", ranges)
    print("\n".join(lines))
    return args.results


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(HERE))
    main()
