"""Figure 4 analog: realism versus generated video length (10-50 frames) on PhC-C2DL-PSC.

The tGAN (autoregressive), the per-frame generator and the painter render all 50 frames of the
PSC masks in one pass (frames 0-34 are the training frames' masks, 35-49 held out: the curve is
about drift with length, not about generalisation). For each length n = 10, 20, ..., 50 the
metrics are taken over the first n frames: SSIM/PSNR (strict and per-frame min-max) and the DeepSea
perceptual distance averaged over those frames, FID-DeepSea / FD-DeepSea-clip8 from
``tgan-aug evaluate``'s length curve (its lengths 12, 22, 31, 40, 50).

    python recipes/realism/fig4_length.py --scale cpu
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

METHODS = [("full", "tGAN (small)"), ("perframe", "per-frame generator"), ("painter", "painter")]
LENGTHS = [10, 20, 30, 40, 50]


def training_jobs(scale: C.Scale) -> list[C.Job]:
    return C.lowres_jobs(["psc"], ["full", "perframe"], scale.seeds)


def task(t: dict) -> dict:
    C.set_threads()
    t0 = time.time()
    scale = C.Scale(**t["scale"])
    d = C.prepare_dataset("psc", scale.data_scale, t["data_root"])
    real = d["full"]
    if t["method"] == "painter":
        fake = C.paint_masks("psc", scale, real.masks, seed=t["seed"], data_root=t["data_root"])
    else:
        ckpt = C.merged_checkpoint("psc", t["method"], t["seed"], scale)
        fake = render_video(ckpt, real.masks, seed=t["seed"], device=scale.device, name="psc-full")
    from tgan_aug.metrics import paired as pm

    rng = real.intensity_range
    per = {
        "SSIM-strict": pm.ssim_frames(real.images, fake.images, data_range=rng, protocol="strict"),
        "PSNR-strict": pm.psnr_frames(real.images, fake.images, data_range=rng, protocol="strict"),
        "SSIM-minmax": pm.ssim_frames(real.images, fake.images, data_range=rng, protocol="paper-minmax"),
        "PSNR-minmax": pm.psnr_frames(real.images, fake.images, data_range=rng, protocol="paper-minmax"),
    }
    ev = C.evaluate(real, fake, device=scale.device, curve_points=5, families=("paired", "distribution"))
    curves = {k: [float(np.mean(v[:n])) for n in LENGTHS if n <= len(v)] for k, v in per.items()}
    return {"task": {k: v for k, v in t.items() if k != "scale"}, "per_frame": {k: v.tolist() for k, v in per.items()},
            "cumulative": curves, "eval_curve": ev["curves"].get("metric_vs_length", {}), "seconds": time.time() - t0}


def main(argv: list[str] | None = None) -> None:
    args, scale, timer, runs = C.start_recipe(__doc__, argv, lambda scale, _: training_jobs(scale))
    tasks = [{"method": m, "seed": s, "scale": scale.to_dict(), "data_root": args.data_root}
             for m, _ in METHODS for s in scale.seeds]
    results = C.run_pool(task, tasks, scale.eval_workers)
    out = {"scale": scale.to_dict(), "runs": runs, "lengths": LENGTHS, "results": results, "total_seconds": timer.seconds()}
    C.save_json(C.RESULTS / f"fig4-{scale.name}.json", out)
    report(out, scale)


def report(out: dict, scale: C.Scale) -> None:
    import cv2

    from tgan_aug.metrics.plots import line_plot

    keys = [("SSIM-strict", "SSIM (strict) up", "cumulative"), ("SSIM-minmax", "SSIM (min-max) up", "cumulative"),
            ("FID-DeepSea", "FID-DeepSea down", "eval_curve"), ("FD-DeepSea-clip8", "FD-DeepSea-clip8 down", "eval_curve")]
    lines = [f"# Figure 4 analog: metric vs generated length, PhC-C2DL-PSC ({scale.name} scale)", ""]
    panels = []
    for k, title, src in keys:
        table = {}
        for m, label in METHODS:
            rs = [r for r in out["results"] if r["task"]["method"] == m]
            if not rs:
                continue
            if src == "cumulative":
                xs = out["lengths"][: len(rs[0]["cumulative"][k])]
                ys = np.array([r["cumulative"][k] for r in rs], dtype=float)
            else:
                xs = rs[0]["eval_curve"].get("length", [])
                ys = np.array([[np.nan if v is None else v for v in r["eval_curve"].get(k, [])] for r in rs], dtype=float)
            if ys.size == 0:
                continue
            mu = np.nanmean(ys, axis=0)
            sd = np.nanstd(ys, axis=0, ddof=1) if ys.shape[0] > 1 else np.zeros_like(mu)
            table[label] = (list(xs), mu, sd)
        if not table:
            continue
        path = C.WORK / "plots" / f"fig4-{k}-{scale.name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        line_plot({lab: (np.array(xs, float), mu) for lab, (xs, mu, _) in table.items()}, path, title=title,
                  xlabel="frames generated", size=(420, 300))
        panels.append(cv2.imread(str(path)))
        xs0 = next(iter(table.values()))[0]
        lines += [f"**{title.replace(' up', ' ↑').replace(' down', ' ↓')}** over the first n frames "
                  f"(mean ± sd over seeds {list(scale.seeds)})", "",
                  "| method | " + " | ".join(f"n={int(x)}" for x in xs0) + " |",
                  "|---" * (1 + len(xs0)) + "|"]
        for label, (xs, mu, sd) in table.items():
            lines.append(f"| {label} | " + " | ".join(f"{a:.3f} ± {b:.3f}" for a, b in zip(mu, sd)) + " |")
        lines.append("")
    png = C.RESULTS / f"fig4-{scale.name}.png"
    if panels:
        h = max(p.shape[0] for p in panels)
        row = np.concatenate([np.pad(p, ((0, h - p.shape[0]), (0, 0), (0, 0)), constant_values=255) for p in panels], axis=1)
        png.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(png), row)
        lines += [f"![fig4]({png.name})", ""]
    lines += [f"Total {out['total_seconds']:.0f} s.", ""]
    C.write_markdown("fig4", scale, lines)


if __name__ == "__main__":
    main()
