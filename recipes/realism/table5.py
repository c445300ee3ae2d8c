"""Table 5 analog (ablation) on PhC-C2DL-PSC: the tGAN (preset small) without the flow loss,
without the reference background, without style/noise injection, without the discriminator's
attention; same split, rendering and evaluation as Table 1.

    python recipes/realism/table5.py --scale cpu
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402

DATASET = "psc"
VARIANTS = [
    ("full", "tGAN (small), all parts"),
    ("noflow", "no flow loss (w_flow=0)"),
    ("nobg", "no reference background"),
    ("nostyle", "no style/noise injection"),
    ("noattn", "no discriminator attention"),
]


def training_jobs(scale: C.Scale) -> list[C.Job]:
    return C.lowres_jobs([DATASET], [v for v, _ in VARIANTS], scale.seeds)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    C.add_common_args(p)
    args = p.parse_args(argv)
    scale = C.scale_from_args(args)
    timer = C.Timer()
    runs = C.run_jobs(training_jobs(scale), scale, data_root=args.data_root, no_train=args.no_train)
    t_train = timer.seconds()
    # reuse Table 1's evaluations of the full model when they exist
    prev = C.RESULTS / f"table1-{scale.name}.json"
    reuse = []
    if prev.is_file():
        import json

        reuse = [r for r in json.loads(prev.read_text())["results"]
                 if r["task"]["dataset"] == DATASET and r["task"]["method"] == "full" and r["task"]["seed"] in scale.seeds]
    have = {(r["task"]["method"], r["task"]["seed"]) for r in reuse}
    tasks = [{"dataset": DATASET, "method": v, "seed": s, "scale": scale.to_dict(), "data_root": args.data_root}
             for v, _ in VARIANTS for s in scale.seeds if (v, s) not in have]
    results = reuse + C.run_pool(C.render_eval_task, tasks, scale.eval_workers)
    out = {"scale": scale.to_dict(), "runs": runs, "results": results, "train_seconds": t_train,
           "total_seconds": timer.seconds()}
    C.save_json(C.RESULTS / f"table5-{scale.name}.json", out)
    agg = C.aggregate(results, "method")
    lines = [f"# Table 5 analog: ablation on PhC-C2DL-PSC ({scale.name} scale)", "",
             C.markdown_table(agg, VARIANTS), "",
             "Training runs (steps, seconds): " + "; ".join(
                 f"{k.split('/', 1)[1]}: {v['steps']} steps, {v['seconds'] or 0:.0f} s" for k, v in sorted(runs.items())), "",
             f"Seeds: {list(scale.seeds)} (mean ± sd, ddof=1). Training {t_train:.0f} s; total {timer.seconds():.0f} s.", ""]
    (C.RESULTS / f"table5-{scale.name}.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
