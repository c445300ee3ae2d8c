"""Figure 3 analog: one mask sequence rendered with different reference backgrounds.

The PSC tGAN model (preset small) renders the first 8 held-out mask frames three times, with
(A) its training background (what ``tgan-aug render --background auto`` uses), (B) the same
background rotated by 180 degrees, (C) a flat background with a left-to-right illumination ramp.
Metric: Pearson correlation, over pixels at least 5 px away from any cell, between the rendered
frames and each background; a generator that uses its background follows the one it was given
(high correlation with it, lower with the others). The model trained without a background
(``model.use_background=false``) is the control: its output cannot depend on the background.

    python recipes/realism/fig3_backgrounds.py --scale cpu
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

N_FRAMES = 8
BACKGROUNDS = ["A: training", "B: rotated 180", "C: flat + ramp"]
MODELS = [("full", "tGAN (small)"), ("nobg", "tGAN without background (control)")]


def training_jobs(scale: C.Scale) -> list[C.Job]:
    return C.lowres_jobs(["psc"], ["full", "nobg"], scale.seeds)


def backgrounds(checkpoint: Path, size: tuple[int, int]) -> list[np.ndarray]:
    from tgan_aug.render.backgrounds import choose_background
    from tgan_aug.render.engine import Renderer

    r = Renderer.from_checkpoint(checkpoint)
    a, _ = choose_background("auto", bank=r.backgrounds, stats=r.stats, size=size, rng=np.random.default_rng(0))
    b = np.ascontiguousarray(a[::-1, ::-1])
    ramp = np.linspace(-0.35, 0.35, size[1], dtype=np.float32)[None, :]
    c = (np.full(size, float(np.median(a)), np.float32) + ramp).astype(np.float32)
    return [a, b, c]


def far_from_cells(labels: np.ndarray, margin: int = 5) -> np.ndarray:
    from scipy import ndimage as ndi

    return ndi.distance_transform_edt(labels == 0) > margin


def task(t: dict) -> dict:
    C.set_threads()
    t0 = time.time()
    scale = C.Scale(**t["scale"])
    d = C.prepare_dataset("psc", scale.data_scale, t["data_root"])
    from masksynth.augment import time_slice

    masks = time_slice(d["test"].masks, 0, min(N_FRAMES, d["test"].n_frames))
    size = tuple(masks.labels.shape[1:])
    # backgrounds always from the full model of this seed (the control's checkpoint holds the same data)
    bgs = backgrounds(C.merged_checkpoint("psc", "full", t["seed"], scale), size)
    ckpt = C.merged_checkpoint("psc", t["model"], t["seed"], scale)
    far = far_from_cells(masks.labels)
    corr = np.zeros((len(bgs), len(bgs)))
    frames = []
    for i, bg in enumerate(bgs):
        v = render_video(ckpt, masks, seed=t["seed"], device=scale.device, background=bg, name="fig3")
        frames.append(v.images)
        for j, ref in enumerate(bgs):
            cs = [np.corrcoef(f[m].astype(np.float64), ref[m].astype(np.float64))[0, 1]
                  for f, m in zip(v.images, far)]
            corr[i, j] = float(np.nanmean(cs))
    if t.get("keep_frames"):
        p = C.WORK / "frames" / scale.name / f"fig3-{t['model']}-seed{t['seed']}.npy"
        p.parent.mkdir(parents=True, exist_ok=True)
        np.save(p, np.stack(frames))
    own = float(np.mean(np.diag(corr)))
    other = float(np.mean(corr[~np.eye(len(bgs), dtype=bool)]))
    return {"task": {k: v for k, v in t.items() if k != "scale"}, "corr": corr.tolist(), "own": own, "other": other,
            "seconds": time.time() - t0}


def main(argv: list[str] | None = None) -> None:
    args, scale, timer, runs = C.start_recipe(__doc__, argv, lambda scale, _: training_jobs(scale))
    tasks = [{"model": m, "seed": s, "scale": scale.to_dict(), "data_root": args.data_root,
              "keep_frames": s == scale.seeds[0]} for m, _ in MODELS for s in scale.seeds]
    results = C.run_pool(task, tasks, scale.eval_workers)
    out = {"scale": scale.to_dict(), "runs": runs, "results": results, "total_seconds": timer.seconds()}
    C.save_json(C.RESULTS / f"fig3-{scale.name}.json", out)
    report(out, scale, args.data_root)


def report(out: dict, scale: C.Scale, data_root: str) -> None:
    lines = [f"# Figure 3 analog: one mask sequence, different reference backgrounds ({scale.name} scale)", "",
             "Correlation (outside cells, >5 px away) between rendered frames and backgrounds; rows = background "
             "given, columns = background compared with. Mean over seeds " + str(list(scale.seeds)) + ".", ""]
    for m, label in MODELS:
        rs = [r for r in out["results"] if r["task"]["model"] == m]
        if not rs:
            continue
        corr = np.mean([r["corr"] for r in rs], axis=0)
        own = mean_sd([r["own"] for r in rs])
        other = mean_sd([r["other"] for r in rs])
        lines += [f"**{label}**: mean corr. with the given background {format_mean_sd(*own)}, with the other backgrounds {format_mean_sd(*other)}", "",
                  "| given \\ compared | " + " | ".join(BACKGROUNDS) + " |", "|---" * (1 + len(BACKGROUNDS)) + "|"]
        for i, b in enumerate(BACKGROUNDS):
            lines.append(f"| {b} | " + " | ".join(f"{v:.3f}" for v in corr[i]) + " |")
        lines.append("")
    d = C.prepare_dataset("psc", scale.data_scale, data_root)
    lo, hi = d["test"].intensity_range
    rows = []
    for m, label in MODELS:
        f = C.WORK / "frames" / scale.name / f"fig3-{m}-seed{scale.seeds[0]}.npy"
        if f.is_file():
            arr = np.load(f)
            pick = np.unique(np.linspace(0, arr.shape[1] - 1, 4).round().astype(int))
            for i, b in enumerate(BACKGROUNDS):
                rows.append((f"{m} bg {b[0]}", arr[i][pick]))
    if rows:
        png = C.montage(rows, C.RESULTS / f"fig3-{scale.name}.png", lo=lo, hi=hi)
        lines += [f"![fig3]({png.name})", ""]
    lines += [f"Total {out['total_seconds']:.0f} s.", ""]
    C.write_markdown("fig3", scale, lines)


if __name__ == "__main__":
    main()
