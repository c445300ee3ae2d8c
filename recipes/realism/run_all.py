"""All realism recipes in one go: train every run they need at once, then run each recipe.

    python recipes/realism/run_all.py --scale cpu     # 2 training processes at a time (~1.5 h on 2 cores)
    python recipes/realism/run_all.py --scale gpu     # one GPU: 36 training processes at once
    python recipes/realism/run_all.py --scale cpu --train-only   # only train the 33 runs (72 min), no tables
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the recipes package of this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from recipes.realism import common as C  # noqa: E402
from recipes.realism import fig3_backgrounds, fig4_length, fig5_density, table1, table5  # noqa: E402

RECIPES = [table1, table5, fig4_length, fig3_backgrounds, fig5_density]


def priority(job: C.Job) -> tuple:
    """Training order: PhC-C2DL-PSC before bacteria, the Table 1 models (tGAN, per-frame, their
    super-res) before the ablations, so that a run cut short still has whole tables."""
    return (job.dataset != "psc", job.variant not in ("full", "perframe", "base"), job.variant, job.seed, job.stage)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    C.add_common_args(p)
    p.add_argument("--only", default=None, help="comma-separated recipe names (table1,table5,fig4_length,...)")
    p.add_argument("--train-only", action="store_true", help="train every run the recipes need, then stop")
    args, _ = p.parse_known_args()
    scale = C.scale_from_args(args)
    recipes = [r for r in RECIPES if not args.only or r.__name__ in args.only.split(",")]
    t0 = time.time()
    jobs = sorted({j for r in recipes for j in r.training_jobs(scale)}, key=priority)
    C.run_jobs(jobs, scale, data_root=args.data_root, no_train=args.no_train)
    print(f"training done in {time.time() - t0:.0f} s", flush=True)
    if args.train_only:
        return
    argv = [a for a in sys.argv[1:] if not a.startswith("--only") and a != "--train-only"]
    if args.only:
        argv = [a for a in argv if a != args.only]
    for r in recipes:
        t = time.time()
        try:
            r.main(argv + ["--no-train"])
        except Exception as exc:  # keep going: one recipe failing must not lose the others' results
            print(f"RECIPE {r.__name__} FAILED: {type(exc).__name__}: {exc}", flush=True)
        print(f"{r.__name__} done in {time.time() - t:.0f} s (total {time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
