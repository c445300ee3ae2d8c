"""Figure 5 analog: high-density synthetic masks (flat and colony) rendered by the PSC model.

``synth-masks --density high`` (45 % of frame 0 covered; real PSC frames are ~3 % covered) with
real PSC cell shapes (``--shapes-from`` the training frames), at the PSC working size, is rendered
by the PSC tGAN (preset small, 3 seeds), by the same tGAN trained without style/noise injection
(the best renderer of the Table 5 ablation at the CPU budget) and by the painter. Separability: a fixed classical
segmentation (Gaussian smoothing, background subtraction, triangle threshold, distance-transform
watershed) of each rendered frame is compared with the masks that made it: foreground Dice,
instance F1 at IoU > 0.5, and the fraction of cells merged with a neighbour (their best-matching
segment is also the best match of another cell). The same segmentation on the real held-out PSC
frames against their silver-truth masks is the reference.

Equivalent CLI for the masks:
    tgan-aug synth-masks --density high --layout flat --frames F --size HxW --shapes-from TRAIN_CTC --seed 0

    python recipes/realism/fig5_density.py --scale cpu
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: import the recipes package of this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from recipes.realism import common as C  # noqa: E402
from tgan_aug.render.video import render_video  # noqa: E402
from tgan_aug.experiment import format_mean_sd, mean_sd  # noqa: E402

LAYOUTS = ["flat", "colony"]
METHODS = [("full", "tGAN (small)"), ("nostyle", "tGAN without style/noise"), ("painter", "painter")]


def training_jobs(scale: C.Scale) -> list[C.Job]:
    return C.lowres_jobs(["psc"], [m for m, _ in METHODS if m != "painter"], scale.seeds)


def synth_masks(layout: str, scale: C.Scale, data_root: str):
    """High-density tracked masks at the PSC working size, cached in work/synth."""
    from masksynth import SynthConfig, synthesize
    from tgan_aug.io.ctc import read_ctc, write_ctc

    d = C.prepare_dataset("psc", scale.data_scale, data_root)
    out = C.WORK / "synth" / f"psc-s{scale.data_scale:g}-{layout}-{scale.synth_frames}"
    if not (out / "01_GT").is_dir():
        train = read_ctc(d["train_dir"], sequence="01", images=False)
        cfg = SynthConfig.preset("high", layout, size=tuple(d["shape"][1:]), frames=scale.synth_frames)
        masks = synthesize(cfg, seed=(0, 0), shapes=train.labels)
        write_ctc(out, masks, sequence="01", overwrite=True)
    return read_ctc(out, sequence="01", images=False)


def segment(img: np.ndarray, *, bright: bool, cell_area: float) -> np.ndarray:
    """Classical instance segmentation of one frame: (Y, X) -> (Y, X) int32 labels."""
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_triangle
    from skimage.segmentation import watershed

    x = ndi.gaussian_filter(img.astype(np.float32), 1.0)
    x = x - ndi.gaussian_filter(x, 6 * np.sqrt(cell_area))
    if not bright:
        x = -x
    fg = x > threshold_triangle(x)
    fg = ndi.binary_opening(fg)
    dist = ndi.distance_transform_edt(fg)
    lab, _ = ndi.label(fg)
    md = max(2, int(0.25 * np.sqrt(cell_area)))
    peaks = peak_local_max(dist, min_distance=md, labels=lab, exclude_border=False)
    markers = np.zeros(img.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    seg = watershed(-dist, markers, mask=fg)
    sizes = np.bincount(seg.ravel())
    small = sizes < max(4, 0.2 * cell_area)
    small[0] = False
    seg[small[seg]] = 0
    return seg.astype(np.int32)


def match(gt: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Foreground Dice, instance F1 at IoU > 0.5 and merged-cell fraction for one frame."""
    g = gt.astype(np.int64).ravel()
    p = pred.astype(np.int64).ravel()
    _, g = np.unique(g, return_inverse=True)
    _, p = np.unique(p, return_inverse=True)
    ng, npred = g.max() + 1, p.max() + 1
    cont = np.bincount(g * npred + p, minlength=ng * npred).reshape(ng, npred)
    gfg, pfg = gt.ravel() > 0, pred.ravel() > 0
    dice = 2 * (gfg & pfg).sum() / max(gfg.sum() + pfg.sum(), 1)
    has_g0 = bool((gt == 0).any())
    has_p0 = bool((pred == 0).any())
    inter = cont[int(has_g0):, int(has_p0):]
    area_g = cont[int(has_g0):].sum(1)
    area_p = cont[:, int(has_p0):].sum(0)
    n_g, n_p = inter.shape
    if n_g == 0:
        return {"dice": float(dice), "f1": float("nan"), "merged": float("nan"), "n_cells": 0, "n_segments": int(n_p)}
    iou = inter / np.maximum(area_g[:, None] + area_p[None, :] - inter, 1)
    tp = int((iou > 0.5).sum())
    f1 = 2 * tp / max(n_g + n_p, 1)
    if n_p:
        best = inter.argmax(1)
        ok = inter.max(1) >= 0.5 * area_g
        counts = np.bincount(best[ok], minlength=n_p)
        merged = float((ok & (counts[best] >= 2)).sum() / n_g)
    else:
        merged = 0.0
    return {"dice": float(dice), "f1": float(f1), "merged": merged, "n_cells": int(n_g), "n_segments": int(n_p)}


def score(images: np.ndarray, labels: np.ndarray, cell_area: float) -> dict[str, float]:
    rows = [match(lab, segment(img, bright=True, cell_area=cell_area)) for img, lab in zip(images, labels)]
    return {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}


def median_cell_area(labels: np.ndarray) -> float:
    areas = np.concatenate([np.bincount(f.ravel())[1:] for f in labels])
    return float(np.median(areas[areas > 0]))


def task(t: dict) -> dict:
    C.set_threads()
    t0 = time.time()
    scale = C.Scale(**t["scale"])
    d = C.prepare_dataset("psc", scale.data_scale, t["data_root"])
    area = median_cell_area(d["test"].masks.labels)
    if t["layout"] == "real":
        v = d["test"]
    else:
        masks = synth_masks(t["layout"], scale, t["data_root"])
        if t["method"] == "painter":
            v = C.paint_masks("psc", scale, masks, seed=t["seed"], data_root=t["data_root"])
        else:
            v = render_video(C.merged_checkpoint("psc", t["method"], t["seed"], scale), masks, seed=t["seed"],
                               device=scale.device, name=f"synth-{t['layout']}")
        if t.get("keep_frames"):
            p = C.WORK / "frames" / scale.name / f"fig5-{t['layout']}-{t['method']}-seed{t['seed']}.npy"
            p.parent.mkdir(parents=True, exist_ok=True)
            np.save(p, v.images)
    s = score(v.images, v.masks.labels, area)
    cover = float((v.masks.labels[0] > 0).mean())
    return {"task": {k: x for k, x in t.items() if k != "scale"}, "scores": s, "coverage": cover, "seconds": time.time() - t0}


def main(argv: list[str] | None = None) -> None:
    args, scale, timer, runs = C.start_recipe(__doc__, argv, lambda scale, _: training_jobs(scale))
    for layout in LAYOUTS:
        synth_masks(layout, scale, args.data_root)
    tasks = [{"layout": "real", "method": "real", "seed": 0, "scale": scale.to_dict(), "data_root": args.data_root}]
    tasks += [{"layout": lay, "method": m, "seed": s, "scale": scale.to_dict(), "data_root": args.data_root,
               "keep_frames": s == scale.seeds[0]}
              for lay in LAYOUTS for m, _ in METHODS for s in (scale.seeds if m != "painter" else scale.seeds[:1])]
    results = C.run_pool(task, tasks, scale.eval_workers)
    out = {"scale": scale.to_dict(), "runs": runs, "results": results, "total_seconds": timer.seconds()}
    C.save_json(C.RESULTS / f"fig5-{scale.name}.json", out)
    report(out, scale, args.data_root)


def report(out: dict, scale: C.Scale, data_root: str) -> None:
    lines = [f"# Figure 5 analog: high-density synthetic masks rendered by the PSC model ({scale.name} scale)", "",
             "| masks | renderer | coverage of frame 0 | foreground Dice ↑ | instance F1 (IoU>0.5) ↑ | cells merged ↓ | cells/frame |",
             "|---|---|---|---|---|---|---|"]
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in out["results"]:
        groups.setdefault((r["task"]["layout"], r["task"]["method"]), []).append(r)
    names = dict(METHODS, real="real frames (reference)")
    for (lay, m), rs in groups.items():
        cells = [format_mean_sd(*mean_sd([r["scores"][k] for r in rs])) for k in ("dice", "f1", "merged")]
        lines.append(f"| {lay if lay != 'real' else 'PSC held-out (silver truth)'} | {names.get(m, m)} (n={len(rs)}) | "
                     f"{rs[0]['coverage']:.2f} | " + " | ".join(cells) + f" | {np.mean([r['scores']['n_cells'] for r in rs]):.0f} |")
    lines.append("")
    d = C.prepare_dataset("psc", scale.data_scale, data_root)
    lo, hi = d["test"].intensity_range
    rows = []
    for lay in LAYOUTS:
        masks = synth_masks(lay, scale, data_root)
        pick = np.unique(np.linspace(0, masks.n_frames - 1, 3).round().astype(int))
        rows.append((f"{lay} masks", (masks.labels[pick] > 0).astype(np.float32) * (hi - lo) + lo))
        for m, label in METHODS:
            f = C.WORK / "frames" / scale.name / f"fig5-{lay}-{m}-seed{scale.seeds[0]}.npy"
            if f.is_file():
                rows.append((f"{lay} {m}", np.load(f)[pick]))
    png = C.montage(rows, C.RESULTS / f"fig5-{scale.name}.png", lo=lo, hi=hi)
    lines += [f"![fig5]({png.name})", "", f"Seeds {list(scale.seeds)} for the tGAN (painter: seed {scale.seeds[0]}). "
              f"Total {out['total_seconds']:.0f} s.", ""]
    C.write_markdown("fig5", scale, lines)


if __name__ == "__main__":
    main()
