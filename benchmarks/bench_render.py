"""Render speed: optimized path vs the straightforward path, random weights, CPU by default.

optimized   = render_frames: background encoded once, sequences batched in the low-res stage,
              super-res in frame batches of one sequence (style folded into the conv weights),
              inference_mode (+ bf16 autocast on CUDA).
straightforward = one frame at a time through both stages, background re-encoded every frame, fp32,
              torch.no_grad, modulation applied to the activations (ModulatedConv2d.fold_single_style off),
              NCHW memory layout (the optimized path keeps weights/activations channels_last).
Prints frames/s (median of --repeats), the ratio, and achieved FLOP/s (FLOPs per frame counted once
with torch.utils.flop_counter.FlopCounterMode).

    python benchmarks/bench_render.py --presets small paper --frames 4 --sequences 2 --threads 2
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode


def make_ckpt(preset: str, path: Path) -> Path:
    from tgan_aug.models import LowResGenerator, ModelConfig, SuperResGenerator
    from tgan_aug.training.checkpoint import save_checkpoint
    from tgan_aug.training.data import ImageStats

    torch.manual_seed(0)
    cfg = ModelConfig.preset(preset)
    H, W = cfg.out_size
    ckpt = {"stage": "merged", "config": {"model": dataclasses.asdict(cfg)},
            "weights": {"lowres": {"G_ema": LowResGenerator(cfg).state_dict()},
                        "superres": {"G_ema": SuperResGenerator(cfg).state_dict()}},
            "optimizers": {}, "step": 0,
            "data": {"stats": ImageStats(0.0, 255.0, "uint8", (0.0, 255.0)).to_dict(),
                     "backgrounds": {"bg": torch.zeros(H, W)}, "source": "random"}}
    return save_checkpoint(path, ckpt)


def straightforward(r, labels, bg, seed):
    from tgan_aug.models.layers import ModulatedConv2d

    ModulatedConv2d.fold_single_style = False
    r.lowres.to(memory_format=torch.contiguous_format)
    r.superres.to(memory_format=torch.contiguous_format)
    try:
        _straightforward(r, labels, bg, seed)
    finally:
        ModulatedConv2d.fold_single_style = True
        r.lowres.to(memory_format=torch.channels_last)
        r.superres.to(memory_format=torch.channels_last)


def _straightforward(r, labels, bg, seed):
    from tgan_aug.training.data import binary_resize, image_resize

    G, S = r.lowres, r.superres
    T, H, W = labels.shape
    h, w = H // 2, W // 2
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        wl, ws = G.mapping(G.make_z(1, generator=g)), S.mapping(S.make_z(1, generator=g))
        nl, ns = G.make_noise(1, g, size=(h, w)), S.make_noise(1, g, size=(H, W))
        bg_lr = torch.from_numpy(image_resize(bg, (h, w)))[None, None]
        prev = bg_lr
        for t in range(T):
            feats = G.encode_background(bg_lr)  # re-encoded every frame
            m = torch.from_numpy(np.stack([binary_resize(labels[max(t - k, 0)], (h, w)) for k in range(G.cfg.n_masks)])
                                 .astype(np.float32))[None]
            prev = G(m, prev, feats, wl, nl)
            S(prev, torch.from_numpy((labels[t] != 0).astype(np.float32))[None, None], ws, ns)


def main() -> None:
    from tgan_aug.render.engine import Renderer, render_frames

    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=["small", "paper"])
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--sequences", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for preset in a.presets:
        with tempfile.TemporaryDirectory() as tmp:
            r = Renderer.from_checkpoint(make_ckpt(preset, Path(tmp) / "c.pt"), device=a.device)
        H, W = r.cfg.out_size
        rng = np.random.default_rng(0)
        labels = [(rng.random((a.frames, H, W)) > 0.7).astype(np.uint16) for _ in range(a.sequences)]
        bgs = [np.zeros((H, W), np.float32)] * a.sequences
        n = a.frames * a.sequences
        with FlopCounterMode(display=False) as fc:
            list(render_frames(r, labels[:1], bgs[:1], [0], frame_batch=1, precision="fp32"))
        flops_per_frame = fc.get_total_flops() / a.frames
        t_opt, t_base = [], []
        for _ in range(a.repeats):
            t = time.perf_counter()
            list(render_frames(r, labels, bgs, list(range(a.sequences)), frame_batch=a.frames))
            t_opt.append(time.perf_counter() - t)
            t = time.perf_counter()
            for i in range(a.sequences):
                straightforward(r, labels[i], bgs[i], i)
            t_base.append(time.perf_counter() - t)
        fo, fb = n / statistics.median(t_opt), n / statistics.median(t_base)
        print(f"{preset:6s} {H}x{W} {a.device} threads={a.threads}: optimized {fo:.2f} frames/s, "
              f"straightforward {fb:.2f} frames/s, ratio {fo / fb:.2f}x; "
              f"{flops_per_frame / 1e9:.1f} GFLOP/frame, achieved {fo * flops_per_frame / 1e9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
