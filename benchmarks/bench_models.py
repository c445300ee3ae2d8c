"""Parameter counts and forward / forward+backward times of the tGAN networks per preset.

Prints a markdown table (median of several runs). No timing asserts.

    python benchmarks/bench_models.py --presets small --device cpu --threads 2
    python benchmarks/bench_models.py --presets paper small --device cuda --batch 4
"""

from __future__ import annotations

import argparse
import statistics
import time

import masksynth  # noqa: F401  (import order: masksynth before tgan_aug.errors)
import torch

from tgan_aug.models import (
    FlowNet,
    LowResGenerator,
    ModelConfig,
    PatchDiscriminator,
    SuperResGenerator,
    flow_self_supervised_loss,
)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, *, device: torch.device, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def _params(m: torch.nn.Module) -> str:
    return f"{sum(p.numel() for p in m.parameters()) / 1e6:.2f} M"


def bench_preset(name: str, *, device: torch.device, batch: int, repeats: int) -> list[tuple]:
    cfg = ModelConfig.preset(name)
    h, w = cfg.lowres_size
    g = torch.Generator().manual_seed(0)
    G = LowResGenerator(cfg).to(device)
    S = SuperResGenerator(cfg).to(device)
    D = PatchDiscriminator(2 * cfg.n_masks, cfg).to(device)
    Dsr = PatchDiscriminator(2, cfg).to(device)
    Fn = FlowNet(cfg).to(device)
    masks = (torch.rand(batch, cfg.n_masks, h, w, generator=g) > 0.7).float().to(device)
    prev = (torch.rand(batch, 1, h, w, generator=g) * 2 - 1).to(device)
    bg = (torch.rand(batch, 1, h, w, generator=g) * 2 - 1).to(device)
    z = G.make_z(batch, generator=g)
    noise = G.make_noise(batch, g)
    mask_hi = (torch.rand(batch, 1, 2 * h, 2 * w, generator=g) > 0.7).float().to(device)
    s_noise = S.make_noise(batch, g)
    d_in = torch.randn(batch, 2 * cfg.n_masks, h, w, generator=g).to(device)
    dsr_in = torch.randn(batch, 2, 2 * h, 2 * w, generator=g).to(device)

    def g_fwd():
        with torch.no_grad():
            G(masks, prev, G.encode_background(bg), G.mapping(z), noise)

    def g_bwd():
        G(masks, prev, G.encode_background(bg), G.mapping(z), noise).square().mean().backward()

    def s_fwd():
        with torch.no_grad():
            S(prev, mask_hi, S.mapping(z), s_noise)

    def s_bwd():
        S(prev, mask_hi, S.mapping(z), s_noise).square().mean().backward()

    def d_fwd():
        with torch.no_grad():
            D(d_in)

    def d_bwd():
        D(d_in)[0].square().mean().backward()

    def dsr_bwd():
        Dsr(dsr_in)[0].square().mean().backward()

    def f_fwd():
        with torch.no_grad():
            Fn(prev, bg)

    def f_bwd():
        flow_self_supervised_loss(Fn, prev, bg).backward()

    rows = [
        (name, f"LowResGenerator {h}x{w}", _params(G), _time(g_fwd, device=device, repeats=repeats),
         _time(g_bwd, device=device, repeats=repeats)),
        (name, f"SuperResGenerator -> {2 * h}x{2 * w}", _params(S), _time(s_fwd, device=device, repeats=repeats),
         _time(s_bwd, device=device, repeats=repeats)),
        (name, f"PatchDiscriminator ({2 * cfg.n_masks} ch) {h}x{w}", _params(D),
         _time(d_fwd, device=device, repeats=repeats), _time(d_bwd, device=device, repeats=repeats)),
        (name, f"PatchDiscriminator (2 ch) {2 * h}x{2 * w}", _params(Dsr), float("nan"),
         _time(dsr_bwd, device=device, repeats=repeats)),
        (name, f"FlowNet {h}x{w}", _params(Fn), _time(f_fwd, device=device, repeats=repeats),
         _time(f_bwd, device=device, repeats=repeats)),
    ]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", nargs="+", default=["tiny", "small"], choices=ModelConfig.preset_names())
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {args.threads} thread(s)"
    print(f"device: {where}; batch {args.batch}; median of {args.repeats} runs; torch {torch.__version__}\n")
    print("| preset | network | params | forward ms | forward+backward ms |")
    print("|---|---|---|---|---|")
    for name in args.presets:
        for row in bench_preset(name, device=device, batch=args.batch, repeats=args.repeats):
            fwd = "-" if row[3] != row[3] else f"{row[3]:.1f}"
            print(f"| {row[0]} | {row[1]} | {row[2]} | {fwd} | {row[4]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
