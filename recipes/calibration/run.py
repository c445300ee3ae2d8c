"""How close do calibrated synthetic masks come to the real data? KS distances, per dataset and seed.

For each shared dataset (bacteria-phc 01_GT, PhC-C2DL-PSC 02_ST) and seed: `masksynth.calibrate`
on the real sequence (what `tgan-aug synth-masks --calibrate-from DATA --seed S` does), one
synthetic sequence of the same size and length with seed (S, 0), and the two-sample KS distance
real vs synthetic of the five statistics of `masksynth.stats.sequence_stats` that issue 16 targets
(<= 0.10): displacement, turning, area, elongation, division rate. The floor of that measure:
the KS distance between two synthetic sequences of the same calibrated model, (S, 0) and (S, 1),
what one sequence can tell apart at all (bacteria-phc's division rate is one value per frame,
52 of them).

    PYTHONPATH=. python recipes/calibration/run.py --tag shape   # 3 seeds, both datasets
    PYTHONPATH=. OMP_NUM_THREADS=1 python recipes/calibration/run.py --tag s17 --seeds 0,1,2,3,4,5 --jobs 2
    PYTHONPATH=/tmp/base:. python recipes/calibration/run.py --tag before   # another masksynth
    PYTHONPATH=. python recipes/calibration/run.py --tag torque --base-set push_torque=1   # a field calibration keeps

Each run writes recipes/calibration/results/ks-TAG.json; the Markdown table (mean +- sd over
seeds, and every seed) of all tags present goes to results/calibration.md and stdout, and the
real vs synthetic histograms of the last seed of the current run to results/histograms-TAG.png.
"""

from __future__ import annotations

import argparse
import functools
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


@functools.lru_cache(maxsize=None)
def load(name: str):
    """The real tracked sequence of dataset ``name`` (read once per process)."""
    from tgan_aug.io.load import load_masks

    (_, masks), *_ = load_masks(str(DATA / name))
    return masks


@functools.lru_cache(maxsize=None)
def real_stats(name: str) -> dict:
    """:func:`masksynth.sequence_stats` of dataset ``name`` (measured once per process)."""
    return sequence_stats(load(name))


def one(name: str, seed: int, base: SynthConfig | None) -> tuple[dict, dict, tuple, float]:
    """Calibrate on dataset ``name`` with ``seed``; KS real vs synthetic (S, 0) and, the floor of
    that measure, KS synthetic (S, 0) vs (S, 1): two sequences of the same calibrated model.
    Returns (ks, floor, (real stats, synthetic stats), seconds it took)."""
    t0 = time.time()
    real = load(name)
    rs = real_stats(name)
    cfg, bank = calibrate(real, seed=seed, base=base)
    ss, s1 = (sequence_stats(synthesize(cfg, seed=(seed, j), shapes=bank)) for j in (0, 1))
    ks = {r["statistic"]: r["sources"][1]["ks"] for r in compare_stats([rs, ss])}
    floor = {r["statistic"]: r["sources"][1]["ks"] for r in compare_stats([ss, s1])}
    return {k: ks[k] for k in KEYS}, {k: floor[k] for k in KEYS}, (rs, ss), time.time() - t0


def measure(seeds: list[int], base: SynthConfig | None = None, jobs: int = 1) -> dict:
    """{"ks": {dataset: {seed: {statistic: ks}}}, "floor": the same for the floor (see
    :func:`one`), "seconds": {dataset: CPU seconds}} plus the last seed's samples for the figure.
    base: the config whose fields calibration does not measure are kept (default: calibrate's).
    jobs: processes (one dataset and seed each)."""
    from concurrent.futures import ProcessPoolExecutor

    tasks = [(name, seed) for name in DATASETS for seed in seeds]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(one, *zip(*tasks), [base] * len(tasks)))
    out: dict = {"ks": {}, "floor": {}, "seconds": {}}
    samples = {}
    for (name, seed), (ks, floor, pair, seconds) in zip(tasks, results):
        out["seconds"][name] = round(out["seconds"].get(name, 0.0) + seconds, 1)
        out["ks"].setdefault(name, {})[str(seed)] = ks
        out["floor"].setdefault(name, {})[str(seed)] = floor
        print(name, seed, " ".join(f"{k}={ks[k]:.3f} (floor {floor[k]:.3f})" for k in KEYS), flush=True)
        samples[name] = pair
    out["samples"] = samples
    return out


def table(results: dict[str, dict]) -> str:
    """Markdown: per dataset and tag, mean +- sd over seeds, the floor (synthetic vs synthetic,
    where measured), then one row per seed."""
    lines = ["| dataset | masksynth | seeds | " + " | ".join(KEYS) + " |", "|" + "---|" * (3 + len(KEYS))]

    def summary(per_seed: dict, marks: bool) -> tuple[int, str]:
        arr = np.array([[v[k] for k in KEYS] for v in per_seed.values()], dtype=float)
        cells = []
        for j in range(len(KEYS)):
            m, s = np.nanmean(arr[:, j]), np.nanstd(arr[:, j])
            cells.append(f"{m:.3f} ± {s:.3f}" + (" ✗" if marks and m > TARGET else ""))
        return len(arr), " | ".join(cells)

    for name in DATASETS:
        for tag, res in results.items():
            per_seed = res["ks"].get(name, {})
            if not per_seed:
                continue
            n, cells = summary(per_seed, True)
            lines.append(f"| {name} | **{tag}** | {n} | {cells} |")
            if res.get("floor", {}).get(name):
                n, cells = summary(res["floor"][name], False)
                lines.append(f"| {name} | {tag}: floor, synthetic vs synthetic | {n} | {cells} |")
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
    ap.add_argument("--jobs", type=int, default=1, help="processes, one dataset and seed each [1]")
    args = ap.parse_args()
    base = with_overrides(SynthConfig.preset("mid", "flat"), args.base_set) if args.base_set else None
    res_dir = HERE / "results"
    res_dir.mkdir(exist_ok=True)
    t0 = time.time()
    res = measure([int(s) for s in args.seeds.split(",")], base, jobs=args.jobs)
    res["base_set"] = args.base_set
    figure(res.pop("samples"), res_dir / f"histograms-{args.tag}.png")
    res["wall_seconds"] = round(time.time() - t0, 1)
    (res_dir / f"ks-{args.tag}.json").write_text(json.dumps(res, indent=1))
    results = {p.stem[3:]: json.loads(p.read_text()) for p in sorted(res_dir.glob("ks-*.json"), reverse=True)}
    text = (f"KS distance real vs one calibrated synthetic sequence (target <= {TARGET}; ✗ = mean above it); "
            "floor: KS between two synthetic sequences of the same calibrated model (what one sequence "
            "can tell apart at all).\n\n"
            + table(results) + "\n\nwall seconds: "
            + ", ".join(f"{t}: {r.get('wall_seconds')}" for t, r in results.items()) + "\n")
    (res_dir / "calibration.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
