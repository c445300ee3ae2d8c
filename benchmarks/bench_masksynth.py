"""Speed and memory of masksynth: time to synthesize 100 frames, frames/s, peak memory.

Each case runs in a fresh single-threaded subprocess (peak RSS is per case); the figures are
medians over ``--repeats`` runs. Placement of frame 0, the per-frame dynamics and the CTC
validation are timed separately.

    python benchmarks/bench_masksynth.py            # 512x768 high (flat, colony, colony pushing, flat drifting), 1024x1024 high
    python benchmarks/bench_masksynth.py --repeats 5 --frames 100
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CASES = {
    "512x768 high flat": dict(density="high", layout="flat", size=(512, 768)),
    "512x768 high colony": dict(density="high", layout="colony", size=(512, 768)),
    "512x768 high colony push": dict(density="high", layout="colony", size=(512, 768), push_iterations=12),
    # pushes across the contact and pushes that turn cells (session 16)
    "512x768 high colony push contact": dict(density="high", layout="colony", size=(512, 768), push_iterations=12,
                                             push_contact=True),
    "512x768 high colony push torque": dict(density="high", layout="colony", size=(512, 768), push_iterations=12,
                                            push_torque=1.0),
    # field drift as calibrated on bacteria-phc (step quantiles 0, 25, 50, 75, 100 %, px/frame)
    "512x768 high flat drift": dict(density="high", layout="flat", size=(512, 768),
                                    drift_quantiles=(0.51, 1.76, 3.31, 4.96, 35.96)),
    "1024x1024 high flat": dict(density="high", layout="flat", size=(1024, 1024)),
}

_CHILD = r"""
import json, resource, sys, time
import cv2
cv2.setNumThreads(1)
import numpy as np
from masksynth import SynthConfig, validate_tracked
from masksynth.dynamics import MaskSimulator
from masksynth.synth import make_bank, sequence_rng

args = json.loads(sys.argv[1])
seed = args.pop("seed")
# every other case entry is a SynthConfig field (JSON lists back to tuples)
cfg = SynthConfig.preset(args.pop("density"), args.pop("layout"),
                         **{k: tuple(v) if isinstance(v, list) else v for k, v in args.items()})
t0 = time.perf_counter()
sim = MaskSimulator(cfg, rng=sequence_rng(seed), bank=make_bank(cfg))
labels = np.empty((cfg.frames, *cfg.size), np.uint16)
labels[0] = sim.first_frame()
t1 = time.perf_counter()
for t in range(1, cfg.frames):
    labels[t] = sim.step()
t2 = time.perf_counter()
lineage = sim.lineage()
validate_tracked(labels, lineage)
t3 = time.perf_counter()
cells = [int(np.count_nonzero(np.bincount(f.ravel()))) - 1 for f in labels[:: max(1, cfg.frames // 10)]]
print(json.dumps({
    "placement_s": t1 - t0, "dynamics_s": t2 - t1, "validate_s": t3 - t2,
    "per_frame_s": (t2 - t1) / max(cfg.frames - 1, 1),
    "cells_mean": float(np.mean(cells)), "coverage0": float((labels[0] > 0).mean()),
    "tracks": int(len(lineage)), "divisions": int((np.bincount(lineage[:, 3])[1:] >= 2).sum()) if len(lineage) else 0,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "labels_mb": labels.nbytes / 2**20,
}))
"""


def run_case(params: dict, *, frames: int, seed: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    arg = json.dumps({**params, "frames": frames, "seed": seed})
    out = subprocess.run([sys.executable, "-c", _CHILD, arg], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cases", nargs="*", default=list(CASES), help=f"subset of {list(CASES)}")
    args = ap.parse_args()
    print(f"masksynth benchmark: {args.frames} frames, median of {args.repeats} runs, one thread per run\n")
    head = ("case", "cells/frame", "cover0", "place s", "dyn s/frame", "frames/s", "total s", "validate s", "peak RSS MB")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in args.cases:
        runs = [run_case(CASES[name], frames=args.frames, seed=s) for s in range(args.repeats)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        total = med["placement_s"] + med["dynamics_s"]
        row = (
            name, f"{med['cells_mean']:.0f}", f"{med['coverage0']:.2f}", f"{med['placement_s']:.2f}",
            f"{med['per_frame_s']:.3f}", f"{args.frames / total:.1f}", f"{total:.1f}", f"{med['validate_s']:.1f}",
            f"{med['peak_rss_mb']:.0f}",
        )
        print("| " + " | ".join(row) + " |", flush=True)
    print("\nframes/s counts placement + dynamics (not validation); peak RSS includes the labels array "
          "(T x Y x X uint16) and the Python interpreter.")


if __name__ == "__main__":
    main()
