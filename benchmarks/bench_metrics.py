"""Benchmark: `evaluate_videos` (the whole metric suite) on a synthetic paired video.

Default: 100 frames of 512x768 on CPU, median of 3 runs, printed per stage.

    python benchmarks/bench_metrics.py                       # default preset, CPU, 1 thread
    python benchmarks/bench_metrics.py --preset fast --threads 2
    python benchmarks/bench_metrics.py --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def synthetic_pair(frames: int, height: int, width: int, *, cells: int = 60, seed: int = 0):
    """(real, fake) TrackedVideo: dark ellipses with halos drifting over a smooth background; fake = real + noise."""
    import cv2

    import masksynth  # noqa: F401  (import order: masksynth before tgan_aug.errors)
    from masksynth import TrackedMasks
    from masksynth.tracked import TrackedVideo

    rng = np.random.default_rng(seed)
    bg = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 12)
    bg = 150 + 10 * bg / (bg.std() + 1e-6)
    pos = rng.uniform([20, 20], [height - 20, width - 20], size=(cells, 2))
    vel = rng.uniform(-1.5, 1.5, size=(cells, 2))
    ax = rng.uniform([6, 10], [9, 16], size=(cells, 2))
    ang = rng.uniform(0, 180, cells)
    imgs = np.empty((frames, height, width), np.uint8)
    labels = np.zeros((frames, height, width), np.uint16)
    for t in range(frames):
        img = bg.copy()
        lab = labels[t]
        for c in range(cells):
            cy, cx = np.clip(pos[c] + vel[c] * t, 18, [height - 19, width - 19])
            center, axes = (int(cx), int(cy)), (int(ax[c, 1]), int(ax[c, 0]))
            halo = np.zeros((height, width), np.uint8)
            cv2.ellipse(halo, center, (axes[0] + 2, axes[1] + 2), ang[c] + t, 0, 360, 1, 2)
            img[halo > 0] += 40
            cell = np.zeros((height, width), np.uint8)
            cv2.ellipse(cell, center, axes, ang[c] + t, 0, 360, 1, -1)
            img[cell > 0] -= 70
            lab[(cell > 0) & (lab == 0)] = c + 1
        imgs[t] = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    masks = TrackedMasks.from_labels(labels, check_linked=False)
    fake = np.clip(imgs + rng.normal(0, 4, imgs.shape), 0, 255).astype(np.uint8)
    return TrackedVideo(masks, imgs, intensity_range=(0.0, 255.0)), TrackedVideo(masks, fake, intensity_range=(0.0, 255.0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--height", type=int, default=512)
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--preset", choices=["default", "fast"], default="default")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (the shared dev machine has 2 cores)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from tgan_aug.metrics import EvalConfig, evaluate_videos

    t0 = time.perf_counter()
    real, fake = synthetic_pair(args.frames, args.height, args.width)
    print(f"synthetic data: {args.frames} x {args.height}x{args.width} in {time.perf_counter() - t0:.1f} s")
    cfg = EvalConfig.preset(args.preset, device=args.device)
    totals, stages = [], {}
    for i in range(args.repeats):
        t0 = time.perf_counter()
        res = evaluate_videos(real, fake, config=cfg)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        totals.append(time.perf_counter() - t0)
        for k, v in res.info["timing_s"].items():
            stages.setdefault(k, []).append(v)
        print(f"run {i + 1}: {totals[-1]:.1f} s")
    print(f"preset={args.preset} device={args.device} threads={args.threads} feature_scale={cfg.feature_scale}")
    print(f"total: median {statistics.median(totals):.1f} s over {len(totals)} runs "
          f"({statistics.median(totals) / args.frames * 1000:.0f} ms per frame pair)")
    for k, v in stages.items():
        print(f"  {k:<18} median {statistics.median(v):7.2f} s")
    print("metrics of the last run:", {k: round(v, 4) for k, v in res.metrics.items()})


if __name__ == "__main__":
    main()
