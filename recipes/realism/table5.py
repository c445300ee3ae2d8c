"""Table 5 analog (ablation) on PhC-C2DL-PSC: the tGAN (preset small) without the flow loss,
without the reference background, without style/noise injection, without the discriminator's
attention; same split, rendering and evaluation as Table 1.

    python recipes/realism/table5.py --scale cpu                     # ~45 min on 2 cores (training), 2 min evaluation
    python recipes/realism/table5.py --scale cpu --lo-steps 1000 --variants full,nostyle   # a longer budget
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the recipes package of this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from recipes.realism import common as C  # noqa: E402

DATASET = "psc"
VARIANTS = [
    ("full", "tGAN (small), all parts"),
    ("noflow", "no flow loss (w_flow=0)"),
    ("nobg", "no reference background"),
    ("nostyle", "no style/noise injection"),
    ("noattn", "no discriminator attention"),
]


def training_jobs(scale: C.Scale, variants: list[str] | None = None) -> list[C.Job]:
    return C.lowres_jobs([DATASET], variants or [v for v, _ in VARIANTS], scale.seeds)


def chosen_variants(args) -> list[str]:
    names = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(names) - {v for v, _ in VARIANTS})
    if unknown:
        raise SystemExit(f"error: --variants {','.join(unknown)}: choose from {','.join(v for v, _ in VARIANTS)}")
    return names


def main(argv: list[str] | None = None) -> None:
    args, scale, timer, runs = C.start_recipe(
        __doc__, argv, lambda scale, a: training_jobs(scale, chosen_variants(a)),
        add_args=lambda p: p.add_argument("--variants", default=",".join(v for v, _ in VARIANTS),
                                          help="comma-separated subset of " + ",".join(v for v, _ in VARIANTS)))
    variants = [(v, label) for v, label in VARIANTS if v in chosen_variants(args)]
    t_train = timer.seconds()
    # Table 1's evaluations of the full model come back from the evaluation cache (common.render_eval_task)
    tasks = [{"dataset": DATASET, "method": v, "seed": s, "scale": scale.to_dict(), "data_root": args.data_root,
              "keep_frames": s == scale.seeds[0]}
             for v, _ in variants for s in scale.seeds]
    results = C.run_pool(C.render_eval_task, tasks, scale.eval_workers)
    out = {"scale": scale.to_dict(), "runs": runs, "results": results, "train_seconds": t_train,
           "total_seconds": timer.seconds()}
    C.save_json(C.RESULTS / f"table5-{scale.name}.json", out)
    agg = C.aggregate(results, "method")
    lines = [f"# Table 5 analog: ablation on PhC-C2DL-PSC ({scale.name} scale)", "",
             C.markdown_table(agg, variants), "",
             "Training runs (steps, seconds): " + "; ".join(
                 f"{k.split('/', 1)[1]}: {v['steps']} steps, {v['seconds'] or 0:.0f} s" for k, v in sorted(runs.items())), "",
             f"Seeds: {list(scale.seeds)} (mean ± sd, ddof=1). " + C.compute_line(runs, results), ""]
    png = figure(scale, args.data_root, variants)
    if png is not None:
        lines += [f"![table5]({png.name})", ""]
    C.write_markdown("table5", scale, lines)


def figure(scale: C.Scale, data_root: str, variants: list[tuple[str, str]]):
    """PNG: real held-out frames and each variant's rendering of them (first seed), 4 frames a row."""
    import numpy as np

    test = C.prepare_dataset(DATASET, scale.data_scale, data_root)["test"]
    pick = np.unique(np.linspace(0, test.n_frames - 1, 4).round().astype(int))
    rows = [("real (held out)", test.images[pick])]
    for v, _ in variants:
        f = C.WORK / "frames" / scale.name / f"{DATASET}-{v}-seed{scale.seeds[0]}.npy"
        if f.is_file():
            rows.append((v, np.load(f)[pick]))
    if len(rows) == 1:
        return None
    lo, hi = test.intensity_range
    return C.montage(rows, C.RESULTS / f"table5-{DATASET}-{scale.name}.png", lo=lo, hi=hi)


if __name__ == "__main__":
    main()
