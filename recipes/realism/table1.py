"""Table 1 analog: tGAN (preset small) vs a per-frame generator vs a non-learned painter, on
held-out frames of PhC-C2DL-PSC and bacteria-phc, with both normalisation protocols.

Split: the first 70 % of the frames train (PSC 35, bacteria 37), the last 30 % are held out
(PSC 15, bacteria 16). Every method renders the held-out frames' real masks; the rendered video is
compared with the real held-out video (paired SSIM/PSNR, DeepSea perceptual distance, FID/FD on
DeepSea features, temporal and intensity statistics).

    python recipes/realism/table1.py --scale cpu      # ~40 min on 2 cores (3 seeds x 2 datasets x 2 models + super-res)
    python recipes/realism/table1.py --scale gpu      # see RESULTS.md for the GPU run
    python recipes/realism/table1.py --scale cpu --methods full,painter   # tGAN vs painter only (~25 min)
    python recipes/realism/table1.py --scale cpu --methods full,full-nomatch,painter --datasets bacteria
        # + the tGAN without intensity matching (render --intensity-match none), the same models
    python recipes/realism/table1.py --scale cpu --methods full,full-nosmooth,painter --no-train
        # + the tGAN without track smoothing (render --track-smoothing 0), the same models
    python recipes/realism/table1.py --scale cpu --lo-steps 800 --sr-steps 400 --datasets bacteria \
        --methods full,full-nosmooth,painter     # the whole 30-minute budget (RESULTS.md)
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the recipes package of this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from recipes.realism import common as C  # noqa: E402

DATASETS = ["psc", "bacteria"]
METHODS = [("full", "tGAN (small)"), ("full-nomatch", "tGAN, no intensity match"),
           ("full-nocarry", "tGAN, no carry-over"), ("full-nosmooth", "tGAN, no carry-over, no track smoothing"),
           ("cellcrop", "tGAN, cell-centred crops"),
           ("perframe", "per-frame generator"),
           ("painter", "painter"), ("painter-nolineage", "painter, lineage dropped")]


def training_jobs(scale: C.Scale) -> list[C.Job]:
    return C.lowres_jobs(DATASETS, ["full", "perframe"], scale.seeds)


def chosen_datasets(args) -> list[str]:
    datasets = [d for d in args.datasets.split(",") if d]
    unknown = sorted(set(datasets) - set(DATASETS))
    if unknown:
        raise SystemExit(f"error: --datasets {','.join(unknown)}: choose from {','.join(DATASETS)}")
    return datasets


def chosen_methods(args) -> list[str]:
    methods = [m for m in args.methods.split(",") if m]
    known = [m for m, _ in METHODS]
    unknown = sorted(set(methods) - set(known))
    if unknown:
        raise SystemExit(f"error: --methods {','.join(unknown)}: choose from {','.join(known)}")
    return methods


def _add_args(p) -> None:
    p.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated subset of psc,bacteria")
    p.add_argument("--methods", default=",".join(m for m, _ in METHODS),
                   help="comma-separated subset of " + ",".join(m for m, _ in METHODS) + " (rows of the table)")


def main(argv: list[str] | None = None) -> None:
    args, scale, timer, runs = C.start_recipe(
        __doc__, argv,
        lambda scale, a: C.lowres_jobs(chosen_datasets(a), sorted({C.training_variant(m) for m in chosen_methods(a)} - set(C.PAINTERS)),
                                       scale.seeds),
        add_args=_add_args)
    datasets, methods = chosen_datasets(args), chosen_methods(args)
    t_train = timer.seconds()
    tasks = [{"dataset": d, "method": m, "seed": s, "scale": scale.to_dict(), "data_root": args.data_root,
              "keep_frames": s == scale.seeds[0]}
             for d in datasets for m in methods for s in scale.seeds]
    results = C.run_pool(C.render_eval_task, tasks, scale.eval_workers)
    out = {"scale": scale.to_dict(), "datasets": datasets, "methods": methods, "runs": runs, "results": results, "train_seconds": t_train,
           "total_seconds": timer.seconds()}
    C.save_json(C.RESULTS / f"{result_stem(datasets)}-{scale.name}.json", out)
    write_report(out, scale, args.data_root)


def result_stem(datasets: list[str]) -> str:
    """"table1" for every dataset; "table1-bacteria" (...) for a subset, so that a partial re-run
    never overwrites the other datasets' results."""
    return "table1" if sorted(datasets) == sorted(DATASETS) else "table1-" + "-".join(datasets)


def write_report(out: dict, scale: C.Scale, data_root: str) -> None:
    import numpy as np

    stem = result_stem(out.get("datasets", DATASETS))

    lines = [f"# Table 1 analog ({scale.name} scale: {scale.lo_steps} low-res / {scale.sr_steps} super-res steps per run)", ""]
    for d in out.get("datasets", DATASETS):
        res = [r for r in out["results"] if r["task"]["dataset"] == d]
        agg = C.aggregate(res, "method")
        extra = []
        if d == "psc":
            paper = ["tGAN, paper (PhC-C2DL-PSC, full size, days of training)",
                     f"{C.PAPER_PSC['SSIM']}", f"{C.PAPER_PSC['PSNR']}", "not reported", "not reported",
                     f"LPIPS {C.PAPER_PSC['LPIPS']} (not comparable)", "not reported",
                     f"\"FVD\" {C.PAPER_PSC['FVD']} (I3D, not comparable)", "not reported", "not reported", "not reported"]
            extra.append(paper)
        info = C.prepare_dataset(d, scale.data_scale, data_root)
        lines += [f"## {d}: {info['shape'][1]}x{info['shape'][2]} px, {info['n_train']} train / "
                  f"{info['shape'][0] - info['n_train']} held-out frames", ""]
        lines.append(C.markdown_table(agg, [(m, label) for m, label in METHODS if m in out.get("methods", [m])], extra))
        lines.append("")
        steps = {k: v for k, v in out["runs"].items() if k.startswith(d + "/")}
        if steps:
            lines.append("Training runs (steps, seconds): " + "; ".join(
                f"{k.split('/', 1)[1]}: {v['steps']} steps, {v['seconds'] or 0:.0f} s" for k, v in sorted(steps.items())))
            lines.append("")
        # figure: real vs each method, 4 held-out frames, first seed
        frames_dir = C.WORK / "frames" / scale.name
        test = info["test"]
        pick = np.unique(np.linspace(0, test.n_frames - 1, 4).round().astype(int))
        rows = [("real (held out)", test.images[pick])]
        for m, label in METHODS:
            f = frames_dir / f"{d}-{m}-seed{scale.seeds[0]}.npy"
            if f.is_file():
                rows.append((label, np.load(f)[pick]))
        lo, hi = test.intensity_range
        name = f"table1-{d}-{scale.name}.png" if stem == "table1" else f"{stem}-{scale.name}-frames-{d}.png"
        png = C.montage(rows, C.RESULTS / name, lo=lo, hi=hi)
        lines += [f"![{d}]({png.name})", ""]
    lines += [f"Seeds: {list(scale.seeds)} (mean ± sd over seeds, sd with ddof=1). "
              + C.compute_line(out["runs"], out["results"]), ""]
    C.write_markdown(stem, scale, lines)


if __name__ == "__main__":
    main()
