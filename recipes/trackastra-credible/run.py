#!/usr/bin/env python
"""A credible trackastra (issue 16, item 4): MOTA against training steps, with btrack's line.

Split exactly as ``recipes/limited-data``: train = the first 70 % of the frames (whole field,
:func:`tgan_aug.splits.split_frames`, test fraction 0.3), test = the rest; the test frames' ground
truth masks are handed to every tracker as per-frame detections
(:func:`tgan_aug.trackers.detections.per_frame_ids`, seed 1000 as fold 0 of limited-data), so the
scores measure linking only.

- **btrack** (the shipped ``btrack_cells.json``) links the test detections once: the bar.
- **trackastra** is trained on the whole training part, one run per seed (``--seeds``, >= 3), with
  the profile's preset and steps; snapshots at ``--points`` steps along the run
  (:func:`tgan_aug.trackers.trackastra_train.train_trackastra` ``snapshot_steps``) are each scored
  with every linking of :data:`LINKINGS` (:mod:`tgan_aug.trackers.trackastra_predict`): trackastra's
  own greedy (threshold 0.5 for every link: what ``Trackastra.track`` does), tgan-aug's former
  default (greedy, 0.1 for every link), its default (greedy, 0.1, a division needs 0.5) and the ILP
  (``--mode ilp``, needs ``tgan-aug[ilp]``); the final model also without divisions.

Scores (py-ctcmetrics via :func:`tgan_aug.trackers.metrics.evaluate_tracked`): MOTA, IDF1, HOTA,
TRA, BC(1) (division F1); for the final model also MOTA's identity switches by cause and what
happened at the true divisions (:mod:`tgan_aug.trackers.link_errors`).

Usage (from the repository root)::

    python recipes/trackastra-credible/run.py                        # cpu profile, both datasets, seeds 0 1 2
    python recipes/trackastra-credible/run.py --profile smoke --datasets psc --seeds 0 --max-frames 12
    python recipes/trackastra-credible/run.py --table-only           # re-make results.md and the PNGs

Each finished model writes its scores under ``--results`` (default ``results/<profile>``) and is
skipped when run again; models go to ``--work`` (default ``work/``, git-ignored).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from tgan_aug.fold_data import DATASETS, TEST_FRACTION, load_dataset  # noqa: E402  (limited-data's data and split)
from tgan_aug.experiment import file_logger, format_mean_sd, mean_sd, with_overrides  # noqa: E402
from tgan_aug.splits import split_frames, sub_video  # noqa: E402

METRICS = ("MOTA", "IDF1", "HOTA", "TRA", "BC(1)")
DETECTION_SEED = 1000  # limited-data's fold 0

#: linkings scored for every snapshot: name -> tracker link options
LINKINGS: dict[str, dict[str, Any]] = {
    "trackastra": {"threshold": 0.5, "division_threshold": 0.5, "max_distance": 256.0},  # Trackastra.track's fixed settings
    "greedy 0.1 (former default)": {"threshold": 0.1, "division_threshold": 0.1},  # trackastra's greedy at 0.1
    "greedy 0.1, division 0.5 (default)": {},  # the package defaults (tgan_aug.trackers.trackastra_predict)
    "ilp": {"mode": "ilp"},
}
#: scored for the final model only
FINAL_LINKINGS: dict[str, dict[str, Any]] = {"greedy_nodiv": {"mode": "greedy_nodiv"}}


@dataclass
class Profile:
    """Training of one trackastra run (the preset's other settings apply)."""

    preset: str = "tiny"
    steps: int = 1600
    points: int = 4  # snapshots along the run (the last one is the final model)
    batch_size: int = 8
    augment: int = 2
    samples_per_epoch: int = 256


PROFILES = {
    "smoke": Profile(preset="tiny", steps=6, points=2, batch_size=2, samples_per_epoch=4),
    "cpu": Profile(),
    "gpu": Profile(preset="default", steps=6000, points=6, batch_size=16, augment=3, samples_per_epoch=1024),
}


def snapshot_steps(profile: Profile) -> list[int]:
    """``profile.points`` steps spread evenly up to ``profile.steps`` (the last is the end of the run)."""
    return sorted({max(1, round(profile.steps * (k + 1) / profile.points)) for k in range(profile.points)})


def split(dataset: str, max_frames: int | None):
    """(training part, test part, test detections) as in recipes/limited-data."""
    from tgan_aug.trackers.detections import per_frame_ids

    _, video = load_dataset(DATASETS[dataset], root=REPO, max_frames=max_frames)
    n_train = split_frames(video.n_frames, test_fraction=TEST_FRACTION)
    train = sub_video(video, t0=0, t1=n_train, what="training part (first 70% of frames)")
    test = sub_video(video, t0=n_train, what="test (last 30% of frames)")
    return train, test, per_frame_ids(test.labels, seed=DETECTION_SEED)


def _scores(test, tracked, *, causes: bool = False) -> dict[str, float | None]:
    """METRICS (+ with ``causes``: py-ctcmetrics' IDSW, its causes and the outcomes at true divisions)."""
    from tgan_aug.trackers.link_errors import division_outcomes, id_switch_causes
    from tgan_aug.trackers.metrics import evaluate_tracked

    s = evaluate_tracked(test.masks, tracked, metrics=("Valid", "MOTA", "IDF1", "HOTA", "TRA", "BC(1)"))
    out = {m: s.get(m) for m in METRICS}
    if causes:
        out |= {"IDSW": s.get("IDSW"), **id_switch_causes(test.masks, tracked),
                **{f"divisions: {k}": v for k, v in division_outcomes(test.masks, tracked).items()}}
    return out


def _trained(model_dir: Path, steps: list[int]) -> bool:
    """Whether an earlier run left this seed's finished model folder and all its snapshots."""
    meta = model_dir / "tgan_aug_train.json"
    if not meta.is_file() or json.loads(meta.read_text()).get("steps") != steps[-1]:
        return False
    return all((model_dir / "snapshots" / f"step_{s:06d}" / "model.pt").is_file() for s in steps[:-1])


def run_dataset(dataset: str, *, seeds: list[int], profile_name: str, profile: Profile, work: Path, results: Path,
                device: str, max_frames: int | None, log) -> None:
    """btrack's bar and every seed's trackastra curve on one dataset (JSON files under ``results/dataset``)."""
    from tgan_aug.trackers import TRACKERS

    train, test, det = split(dataset, max_frames)
    rdir = results / dataset
    rdir.mkdir(parents=True, exist_ok=True)
    bar = rdir / "btrack.json"
    if not bar.is_file():
        t0 = time.time()
        scores = _scores(test, TRACKERS["btrack"].load().track(test.images, det), causes=True)
        bar.write_text(json.dumps({"dataset": dataset, "tracker": "btrack", "scores": scores,
                                   "track_s": round(time.time() - t0, 1)}, indent=2))
        log(f"[{dataset}] btrack: {scores}")
    steps = snapshot_steps(profile)
    for seed in seeds:
        out_json = rdir / f"trackastra_seed{seed}.json"
        if out_json.is_file():
            continue
        model_dir = work / profile_name / dataset / f"seed{seed}"
        if not _trained(model_dir, steps):  # an interrupted evaluation does not train again
            TRACKERS["trackastra"].train(
                [train], [], model_dir, ratio=0.0, preset=profile.preset, max_steps=profile.steps,
                batch_size=profile.batch_size, augment=profile.augment, samples_per_epoch=profile.samples_per_epoch,
                seed=seed, device=device, overwrite=True, progress=False, snapshot_steps=steps[:-1])
        summary = json.loads((model_dir / "tgan_aug_train.json").read_text())
        points = []
        for step in steps:
            folder = model_dir if step == steps[-1] else model_dir / "snapshots" / f"step_{step:06d}"
            meta = json.loads((folder / "tgan_aug_train.json").read_text())
            tracker = TRACKERS["trackastra"].load(folder, device=device)
            predictions, labels = tracker.predict(test.images, det)  # once; each linking reuses it
            linkings = LINKINGS | (FINAL_LINKINGS if step == steps[-1] else {})
            for linking, options in linkings.items():
                t_link = time.time()
                tracked = tracker.link(predictions, labels, **options)
                points.append({"step": step, "linking": linking, "link_s": round(time.time() - t_link, 1),
                               "scores": _scores(test, tracked, causes=step == steps[-1]),
                               "seconds": meta.get("seconds_so_far", meta.get("seconds"))})
            log(f"[{dataset} seed {seed}] step {step}: " + ", ".join(
                f"{p['linking']} MOTA {p['scores']['MOTA']:.3f}" for p in points if p["step"] == step))
        rec = {"dataset": dataset, "seed": seed, "profile": profile_name, "profile_settings": dataclasses.asdict(profile),
               "train_s": round(summary["seconds"], 1), "steps": summary["steps"], "history": summary["history"],
               "points": points, "linkings": LINKINGS | FINAL_LINKINGS, "device": device,
               "data": {"train_frames": train.n_frames, "test_frames": test.n_frames}}
        out_json.write_text(json.dumps(rec, indent=2, default=str))


# ----------------------------------------------------------------------------- table and figure


def _load(results: Path) -> tuple[dict[str, dict], list[dict]]:
    bars = {p.parent.name: json.loads(p.read_text()) for p in sorted(results.glob("*/btrack.json"))}
    runs = [json.loads(p.read_text()) for p in sorted(results.glob("*/trackastra_seed*.json"))]
    return bars, runs


def curve(runs: list[dict], dataset: str, linking: str, metric: str) -> dict[int, list[float]]:
    """step -> the metric of every seed at that step."""
    out: dict[int, list[float]] = {}
    for r in runs:
        if r["dataset"] != dataset:
            continue
        for p in r["points"]:
            if p["linking"] == linking and p["scores"].get(metric) is not None:
                out.setdefault(int(p["step"]), []).append(float(p["scores"][metric]))
    return dict(sorted(out.items()))


def _linkings(runs: list[dict], dataset: str) -> list[str]:
    """The linkings scored on ``dataset``, in the order the runs list them."""
    return list(dict.fromkeys(p["linking"] for r in runs if r["dataset"] == dataset for p in r["points"]))


#: columns of the identity-switch table (final models): MOTA's IDSW by cause, then the true divisions
CAUSE_KEYS = ("IDSW", "wrong link", "false division", "wrong mother", "missed link", "divisions: found",
              "divisions: mother continues", "divisions: result divisions")


def _causes_table(bar: dict | None, runs: list[dict], dataset: str) -> list[str]:
    """MOTA's identity switches of the final models by cause, mean over seeds (btrack: its one run)."""
    rows = []
    if bar and "IDSW" in bar["scores"] and bar["scores"]["IDSW"] is not None:
        rows.append(("btrack", [bar["scores"].get(k) for k in CAUSE_KEYS]))
    for linking in _linkings(runs, dataset):
        finals = [max((p for p in r["points"] if p["linking"] == linking), key=lambda p: p["step"])["scores"]
                  for r in runs if r["dataset"] == dataset and any(p["linking"] == linking for p in r["points"])]
        finals = [f for f in finals if "IDSW" in f]
        if finals:
            rows.append((f"trackastra, {linking}", [float(np.mean([f[k] for f in finals])) for k in CAUSE_KEYS]))
    if not rows:
        return []
    lines = ["\nIdentity switches of the final models (mean over seeds) by cause, and the true divisions: found, "
             "missed with the mother's track continuing into one daughter (no identity switch: MOTA does not see it), "
             "and the number of divisions the tracker called.\n",
             "| tracker, linking | " + " | ".join(CAUSE_KEYS) + " |", "|---|" + "---|" * len(CAUSE_KEYS)]
    lines += [f"| {name} | " + " | ".join("-" if v is None else f"{v:.0f}" for v in values) + " |" for name, values in rows]
    return lines


def make_table(results: Path) -> str:
    bars, runs = _load(results)
    if not runs and not bars:
        return "(no results yet)\n"
    lines = ["Test frames with ground-truth detections; trackastra: mean ± sd over seeds (n seeds).\n"]
    for dataset in sorted(set(bars) | {r["dataset"] for r in runs}):
        lines.append(f"\n### {dataset}\n")
        lines.append("| tracker | linking | steps | " + " | ".join(METRICS) + " |")
        lines.append("|---|---|---|" + "---|" * len(METRICS))
        if dataset in bars:
            s = bars[dataset]["scores"]
            lines.append("| btrack | btrack_cells.json | - | " + " | ".join(
                "-" if s.get(m) is None else f"{s[m]:.3f}" for m in METRICS) + " |")
        for linking in _linkings(runs, dataset):
            steps = sorted(curve(runs, dataset, linking, "MOTA"))
            for step in steps:
                cells = [format_mean_sd(*mean_sd(curve(runs, dataset, linking, m).get(step, [])), missing="-")
                         for m in METRICS]
                lines.append(f"| trackastra | {linking} | {step} | " + " | ".join(cells) + " |")
        ds_runs = [r for r in runs if r["dataset"] == dataset]
        if ds_runs:
            r0 = ds_runs[0]
            lines.append(f"\nProfile {r0['profile']} ({r0['profile_settings']}); training "
                         f"{np.median([r['train_s'] for r in ds_runs]):.0f} s per seed (median, device {r0['device']}, "
                         f"one thread on a shared 2-core machine); seeds {sorted(r['seed'] for r in ds_runs)}.")
        lines += _causes_table(bars.get(dataset), runs, dataset)
    return "\n".join(lines) + "\n"


def make_figures(results: Path) -> list[Path]:
    """``mota_vs_steps_<dataset>.png``: trackastra's mean MOTA over seeds against training steps, one
    line per linking (the spread over seeds is in results.md), btrack as a flat line."""
    from tgan_aug.metrics.plots import line_plot

    bars, runs = _load(results)
    written = []
    for dataset in sorted({r["dataset"] for r in runs}):
        series: dict[str, tuple[list[float], list[float]]] = {}
        xmax = 0.0
        for linking in _linkings(runs, dataset):
            c = curve(runs, dataset, linking, "MOTA")
            if len(c) < 2:  # scored for the final model only
                continue
            x = [float(k) for k in c]
            xmax = max([xmax, *x])
            n = max(len(v) for v in c.values())
            series[f"trackastra, {linking} linking (mean of {n} seeds)"] = (x, [float(np.mean(v)) for v in c.values()])
        if dataset in bars and bars[dataset]["scores"].get("MOTA") is not None:
            series["btrack"] = ([0.0, xmax], [bars[dataset]["scores"]["MOTA"]] * 2)
        written.append(line_plot(series, results / f"mota_vs_steps_{dataset}.png",
                                 title=f"{dataset}: MOTA on test frames (GT detections)", xlabel="training steps",
                                 ylabel="MOTA", size=(720, 440)))
    return written


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--profile", default="cpu", choices=list(PROFILES))
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a profile field, e.g. --set steps=600 (repeatable)")
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--results", type=Path, default=None, help="default: recipes/trackastra-credible/results/<profile>")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--max-frames", type=int, default=None, help="use only the first N frames (smoke tests)")
    ap.add_argument("--table-only", action="store_true", help="only rebuild results.md and the PNGs from the JSON files")
    args = ap.parse_args(argv)

    profile = with_overrides(PROFILES[args.profile], args.overrides)
    results = args.results or HERE / "results" / args.profile
    results.mkdir(parents=True, exist_ok=True)
    if not args.table_only:
        import torch

        torch.set_num_threads(args.threads)
        log = file_logger(args.work / args.profile / "log.txt")
        t0 = time.time()
        for dataset in args.datasets:
            run_dataset(dataset, seeds=args.seeds, profile_name=args.profile, profile=profile, work=args.work,
                        results=results, device=args.device, max_frames=args.max_frames, log=log)
        log(f"total {time.time() - t0:.0f} s")
    table = make_table(results)
    (results / "results.md").write_text(f"# trackastra against training steps, profile {args.profile}\n\n" + table)
    make_figures(results)
    print(table)


if __name__ == "__main__":
    main()
