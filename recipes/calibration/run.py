"""How close do calibrated synthetic masks come to the real data? KS distances, per dataset and seed.

For each shared dataset (bacteria-phc 01_GT, PhC-C2DL-PSC 02_ST) and seed: `masksynth.calibrate`
on the real sequence (what `tgan-aug synth-masks --calibrate-from DATA --seed S` does), one
synthetic sequence of the same size and length with seed (S, 0), and the two-sample KS distance
real vs synthetic of the five statistics of `masksynth.stats.sequence_stats` that issue 16 targets
(<= 0.10): displacement, turning, area, elongation, division rate.

    PYTHONPATH=. python recipes/calibration/run.py --tag shape   # 3 seeds, both datasets
    PYTHONPATH=/tmp/base:. python recipes/calibration/run.py --tag before   # another masksynth
    PYTHONPATH=. python recipes/calibration/run.py --tag torque --base-set push_torque=1   # a field calibration keeps

Each run writes recipes/calibration/results/ks-TAG.json; the Markdown table (mean +- sd over
seeds, and every seed) of all tags present goes to results/calibration.md and stdout, and the
real vs synthetic histograms of the last seed of the current run to results/histograms-TAG.png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from masksynth import SynthConfig, calibrate, compare_stats, sequence_stats, synthesize
from tgan_aug.experiment import with_overrides

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1].parent / "shared" / "data"
DATASETS = ("bacteria-phc", "PhC-C2DL-PSC")  # 01_GT and 02_ST: the one sequence each holds
KEYS = ("displacement", "turning", "area", "elongation", "division_rate")
TARGET = 0.10


def load(name: str):
    from tgan_aug.io.load import load_masks

    (_, masks), *_ = load_masks(str(DATA / name))
    return masks


def measure(seeds: list[int], base: SynthConfig | None = None) -> dict:
    """{dataset: {seed: {statistic: ks}}} plus the last seed's samples for the figure.
    base: the config whose fields calibration does not measure are kept (default: calibrate's)."""
    out: dict = {"ks": {}, "seconds": {}}
    samples = {}
    for name in DATASETS:
        real = load(name)
        rs = sequence_stats(real)
        out["ks"][name] = {}
        t0 = time.time()
        for seed in seeds:
            cfg, bank = calibrate(real, seed=seed, base=base)
            ss = sequence_stats(synthesize(cfg, seed=(seed, 0), shapes=bank))
            rows = {r["statistic"]: r["sources"][1]["ks"] for r in compare_stats([rs, ss])}
            out["ks"][name][str(seed)] = {k: rows[k] for k in KEYS}
            print(name, seed, " ".join(f"{k}={rows[k]:.3f}" for k in KEYS), flush=True)
            samples[name] = (rs, ss)
        out["seconds"][name] = round(time.time() - t0, 1)
    out["samples"] = samples
    return out


def table(results: dict[str, dict]) -> str:
    """Markdown: per dataset and tag, mean +- sd over seeds, then one row per seed."""
    lines = ["| dataset | masksynth | seeds | " + " | ".join(KEYS) + " |", "|" + "---|" * (3 + len(KEYS))]
    for name in DATASETS:
        for tag, res in results.items():
            per_seed = res["ks"].get(name, {})
            if not per_seed:
                continue
            arr = np.array([[v[k] for k in KEYS] for v in per_seed.values()], dtype=float)
            cells = []
            for j in range(len(KEYS)):
                m, s = np.nanmean(arr[:, j]), np.nanstd(arr[:, j])
                mark = "" if m <= TARGET else " ✗"
                cells.append(f"{m:.3f} ± {s:.3f}{mark}")
            lines.append(f"| {name} | **{tag}** | {len(arr)} | " + " | ".join(cells) + " |")
            for seed, v in per_seed.items():
                lines.append(f"| {name} | {tag} | {seed} | " + " | ".join(f"{v[k]:.3f}" for k in KEYS) + " |")
    return "\n".join(lines)


def figure(samples: dict, path: Path) -> None:
    """One density curve per source (real, synthetic) and statistic, datasets in rows; a PNG."""
    import tempfile

    import cv2

    from tgan_aug.metrics.plots import line_plot

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (rs, ss) in samples.items():
            panels = []
            for key in KEYS:
                both = np.concatenate([rs[key], ss[key]])
                lo, hi = np.percentile(both, [0.5, 99.5]) if both.size else (0.0, 1.0)
                bins = np.linspace(lo, hi if hi > lo else lo + 1, 31)
                mid = (bins[1:] + bins[:-1]) / 2
                series = {src: (mid, np.histogram(x, bins=bins, density=True)[0])
                          for src, x in (("real", rs[key]), ("synthetic", ss[key]))}
                out = line_plot(series, Path(tmp) / f"{name}-{key}.png", title=f"{name}: {key}",
                                xlabel=key, ylabel="density", size=(420, 300))
                panels.append(cv2.imread(str(out)))
            rows.append(np.concatenate(panels, axis=1))
    cv2.imwrite(str(path), np.concatenate(rows, axis=0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds [0,1,2]")
    ap.add_argument("--tag", default="shape", help="name of this measurement in the table [shape]")
    ap.add_argument("--base-set", action="append", default=[], metavar="FIELD=VALUE",
                    help="a SynthConfig field of the base config calibration keeps (one it does not measure), "
                         "e.g. --base-set push_torque=1; repeatable")
    args = ap.parse_args()
    base = with_overrides(SynthConfig.preset("mid", "flat"), args.base_set) if args.base_set else None
    res_dir = HERE / "results"
    res_dir.mkdir(exist_ok=True)
    t0 = time.time()
    res = measure([int(s) for s in args.seeds.split(",")], base)
    res["base_set"] = args.base_set
    figure(res.pop("samples"), res_dir / f"histograms-{args.tag}.png")
    res["wall_seconds"] = round(time.time() - t0, 1)
    (res_dir / f"ks-{args.tag}.json").write_text(json.dumps(res, indent=1))
    results = {p.stem[3:]: json.loads(p.read_text()) for p in sorted(res_dir.glob("ks-*.json"), reverse=True)}
    text = (f"KS distance real vs one calibrated synthetic sequence (target <= {TARGET}; ✗ = mean above it).\n\n"
            + table(results) + "\n\nwall seconds: "
            + ", ".join(f"{t}: {r.get('wall_seconds')}" for t, r in results.items()) + "\n")
    (res_dir / "calibration.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
