#!/usr/bin/env python
"""Limited-data experiment (the paper's Table 4): does tGAN synthetic data help a tracker trained
on 25 % of the real annotations?

Split (time for test, space for the limited subset), per dataset:

- **test**: the last 30 % of the frames (PhC-C2DL-PSC/02: frames 35-49; bacteria-phc/01: 37-52),
  whole field of view. No model (tracker, generator, painter, masksynth calibration) ever sees a
  test frame.
- **training part**: the first 70 % of the frames, whole field.
- **limited (25 %) folds**: the training part's cell region (bounding box of all its cells + 16 px)
  is cut into 4 quadrants at the cells' centre of mass; fold k is quadrant k (all training frames,
  tracks cut at the quadrant border get new ids, CTC rules kept). Folds 0-3 are the "splits";
  ``--folds 0 1 2`` runs three of them (fold k also uses seed k everywhere).

Conditions, per fold and tracker (same tracker config and number of optimisation steps in all):

- ``limited``: the fold's real data only;
- ``limited+tgan``: the fold + synthetic data made **only from the fold**: a ``small`` tGAN
  (``tgan-aug train lowres`` + ``superres``, library calls) trained on the fold renders (i) augmented
  copies of the fold's masks (rot90/flips, per-cell erosion/dilation) and (ii) masksynth sequences
  calibrated on the fold (motion, shapes, divisions; cell count = the fold's largest per-frame
  count); synthetic windows are ``--ratio`` (0.75) of the training samples, so the real windows
  are as many as in ``limited`` and the total matches ``full`` (as in the paper);
- ``limited+painter`` (control, on by default): the same synthetic masks rendered by the
  non-learned painter (:mod:`tgan_aug.baselines.painter`) fitted on the fold: tells whether the
  gain (if any) comes from the tGAN images or from the extra masks;
- ``full``: the whole training part (100 %).

Trackers: the trainable ones of :data:`tgan_aug.trackers.TRACKERS` (``trackastra``, ``deepsea``),
trained and run through that one interface. Every tracker gets the test frames' ground-truth masks as per-frame detections
(ids scrambled per frame), so the scores measure linking. Metrics (py-ctcmetrics via
``tgan_aug.trackers.metrics``): MOTA, IDF1, HOTA, TRA (+ MT/ML, precision, recall, ...).

Usage (from the repository root)::

    python recipes/limited-data/limited_data.py --profile cpu                  # both datasets, folds 0 1 2
    python recipes/limited-data/limited_data.py --profile smoke --max-frames 12 --datasets psc --folds 0
    python recipes/limited-data/limited_data.py --profile gpu --device cuda --jobs 6
    python recipes/limited-data/limited_data.py --table-only                   # re-make results.md

Each finished step writes a file under ``--work`` (default ``recipes/limited-data/work``, git
ignored) and is skipped when run again, so an interrupted run resumes. Per-run scores go to
``--results`` (default ``recipes/limited-data/results/<profile>``) as JSON, and the table to
``results.md`` there.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tgan_aug.experiment import fold_job, format_mean_sd, mean_sd, run_jobs, with_overrides
from tgan_aug.fold_data import DATASETS, SyntheticProfile, load_dataset, render_synthetic, split_fold, synthetic_masks
from tgan_aug.trackers import TRACKERS as ALL_TRACKERS
from tgan_aug.trackers.detections import per_frame_ids

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# ----------------------------------------------------------------------------- profiles


@dataclass
class Profile(SyntheticProfile):
    """Sizes of one run of the recipe: generator budget and synthetic data (:class:`SyntheticProfile`),
    trackers' training."""

    n_synth: int = 2  # masksynth sequences calibrated on the fold
    ratio: float = 0.75  # synthetic fraction of the training windows in limited+synthetic
    tracker_preset: str = "tiny"
    tracker_steps: int = 600
    tracker_batch: int = 8
    tracker_augment: int = 2  # trackastra's feature augmentation level (needed: see README)
    samples_per_epoch: int = 64
    deepsea_steps: int = 300
    deepsea_crop: int = 128  # DeepSea's input size; 64 is ~6x faster on CPU and fine for sparse cells (PSC)


PROFILES: dict[str, Profile] = {
    # seconds per fold: a check that everything runs
    "smoke": Profile(gen_lowres_steps=3, gen_lowres_minutes=0.5, gen_superres_steps=2, gen_superres_minutes=0.5,
                     n_aug=1, n_synth=1, tracker_steps=10, samples_per_epoch=16, deepsea_steps=5),
    # a 2-core CPU, one thread: about 20 min per bacteria fold, 12 per PSC fold. Synthetic bacteria
    # colonies grow to ~200 cells a frame (the fold has <= 20), and trackastra's cost grows with the
    # objects per window: 600 steps with 2 masksynth sequences took 19 min per synthetic condition.
    "cpu": Profile(tracker_steps=300, n_synth=1, deepsea_steps=100, deepsea_crop=64),
    # one GPU: more generator steps, more synthetic data, a bigger tracker
    "gpu": Profile(gen_lowres_steps=3000, gen_lowres_minutes=2.2, gen_superres_steps=1500, gen_superres_minutes=0.8,
                   n_aug=4, n_synth=4, tracker_preset="small", tracker_steps=1500, samples_per_epoch=128,
                   deepsea_steps=1000, render_frame_batch=16),
}

CONDITIONS = ("limited", "limited+tgan", "limited+painter", "full")

# ----------------------------------------------------------------------------- trackers

#: trackers this experiment trains and scores (any trainable one of tgan_aug.trackers.TRACKERS)
TRACKERS = [name for name, t in ALL_TRACKERS.items() if t.trainable]


def tracker_training(tracker: str, profile: Profile) -> dict[str, Any]:
    """The training options of ``tracker`` in this experiment (same number of steps in every condition)."""
    if tracker == "deepsea":
        return dict(preset="small", max_steps=profile.deepsea_steps, crop_size=profile.deepsea_crop)
    return dict(preset=profile.tracker_preset, max_steps=profile.tracker_steps, batch_size=profile.tracker_batch,
                augment=profile.tracker_augment, samples_per_epoch=profile.samples_per_epoch)


# ----------------------------------------------------------------------------- one fold


def run_fold(dataset: str, fold: int, *, profile_name: str, profile: Profile, trackers: list[str],
             conditions: list[str], work: Path, results: Path, device: str, max_frames: int | None,
             log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Everything for one (dataset, fold): data, generator, synthetic data, trackers, scores.

    Returns the result records (also written to ``results/<dataset>/fold<k>/<tracker>__<condition>.json``).
    """
    from tgan_aug.trackers.metrics import evaluate_tracked

    spec = DATASETS[dataset]
    seed = fold
    t_start = time.time()
    seq, video = load_dataset(spec, root=REPO, max_frames=max_frames)
    split = split_fold(video, fold)
    limited, train_part, test, box = split.limited, split.train_part, split.test, split.box
    fdir = work / profile_name / dataset / f"fold{fold}"
    fdir.mkdir(parents=True, exist_ok=True)
    rdir = results / dataset / f"fold{fold}"
    rdir.mkdir(parents=True, exist_ok=True)
    data_info = split.info(dataset=dataset, sequence=seq)
    (rdir / "data.json").write_text(json.dumps(data_info, indent=2))
    log(f"[{dataset} fold {fold}] limited {box} {data_info['cell_frames']['limited']} cell-frames "
        f"({100 * data_info['cell_frames']['limited'] / max(1, data_info['cell_frames']['full']):.0f}% of the training part)")

    renderers = [c.split("+")[1] for c in conditions if c in ("limited+tgan", "limited+painter")]
    timings: dict[str, float] = {}
    synthetic: dict[str, list] = {}
    if renderers:
        t0 = time.time()
        syn_masks = synthetic_masks(limited.masks, layout=spec.layout, seed=seed, **profile.mask_options())
        timings["masks_s"] = time.time() - t0
        videos, more = render_synthetic(limited, syn_masks, fdir, renderers=renderers, budget=profile.generator_budget(),
                                        seed=seed, device=device, deepsea_invert=spec.deepsea_invert,
                                        frame_batch=profile.render_frame_batch,
                                        provenance={"command": "recipes/limited-data"})
        timings.update(more)
        synthetic = {f"limited+{r}": v for r, v in videos.items()}
        log(f"[{dataset} fold {fold}] synthetic: {len(syn_masks)} sequences ({timings})")

    det = per_frame_ids(test.labels, seed=1000 + fold)
    records = []
    for tracker in trackers:
        kind = ALL_TRACKERS[tracker]
        for cond in conditions:
            out_json = rdir / f"{tracker}__{cond}.json"
            if out_json.is_file():
                records.append(json.loads(out_json.read_text()))
                continue
            t0 = time.time()
            if cond == "limited":
                real, syn, ratio = [("limited", limited)], [], 0.0
            elif cond == "full":
                real, syn, ratio = [("full", train_part)], [], 0.0
            else:
                real, syn, ratio = [("limited", limited)], synthetic[cond], profile.ratio
            model_dir = fdir / "trackers" / f"{tracker}__{cond.replace('+', '_')}"
            kind.train(real, syn, model_dir, ratio=ratio, seed=seed, device=device, overwrite=True, progress=False,
                       **tracker_training(tracker, profile))
            t_train = time.time() - t0
            t0 = time.time()
            res = kind.load(model_dir, device=device).track(test.images, det)
            t_track = time.time() - t0
            scores = evaluate_tracked(test.masks, res)
            rec = {"dataset": dataset, "fold": fold, "seed": seed, "tracker": tracker, "condition": cond,
                   "profile": profile_name, "profile_settings": dataclasses.asdict(profile), "device": device,
                   "scores": scores, "train_s": round(t_train, 1), "track_s": round(t_track, 1),
                   "synthetic_sequences": len(syn), "data": data_info, "timings": timings}
            out_json.write_text(json.dumps(rec, indent=2, default=str))
            records.append(rec)
            log(f"[{dataset} fold {fold}] {tracker} {cond}: MOTA {scores.get('MOTA')} IDF1 {scores.get('IDF1')} "
                f"HOTA {scores.get('HOTA')} TRA {scores.get('TRA')} (train {t_train:.0f} s)")
    log(f"[{dataset} fold {fold}] done in {time.time() - t_start:.0f} s")
    return records


# ----------------------------------------------------------------------------- table

METRICS = ("MOTA", "IDF1", "HOTA", "TRA")


def _cell(values: list[float | None]) -> str:
    return format_mean_sd(*mean_sd(values), missing="-")


def make_table(results: Path) -> str:
    """Markdown tables (mean ± sd over folds) from every result JSON under ``results``."""
    recs = [json.loads(p.read_text()) for p in sorted(results.glob("*/fold*/*__*.json"))]
    if not recs:
        return "(no results yet)\n"
    lines = []
    datasets = sorted({r["dataset"] for r in recs})
    trackers = sorted({r["tracker"] for r in recs})
    conds = [c for c in CONDITIONS if any(r["condition"] == c for r in recs)]
    # Table 4 layout: MOTA, one row per tracker, one column per condition
    lines.append("MOTA on the unseen test frames, mean ± sd over folds (n = folds):\n")
    lines.append("| dataset | tracker | " + " | ".join(conds) + " | n |")
    lines.append("|---|---|" + "---|" * (len(conds) + 1))
    for d in datasets:
        for t in trackers:
            rs = [r for r in recs if r["dataset"] == d and r["tracker"] == t]
            cells = [_cell([r["scores"].get("MOTA") for r in rs if r["condition"] == c]) for c in conds]
            n = len({r["fold"] for r in rs})
            lines.append(f"| {d} | {t} | " + " | ".join(cells) + f" | {n} |")
    lines.append("\nAll four metrics:\n")
    lines.append("| dataset | tracker | condition | " + " | ".join(METRICS) + " | folds |")
    lines.append("|---|---|---|" + "---|" * (len(METRICS) + 1))
    for d in datasets:
        for t in trackers:
            for c in conds:
                rs = [r for r in recs if r["dataset"] == d and r["tracker"] == t and r["condition"] == c]
                if not rs:
                    continue
                cells = [_cell([r["scores"].get(m) for r in rs]) for m in METRICS]
                folds = ",".join(str(r["fold"]) for r in sorted(rs, key=lambda r: r["fold"]))
                lines.append(f"| {d} | {t} | {c} | " + " | ".join(cells) + f" | {folds} |")
    lines.append("\nData per fold (cell-frames = annotated cells summed over frames):\n")
    lines.append("| dataset | fold | box (y0, y1, x0, x1) | limited cell-frames | full cell-frames | limited / full | test cell-frames |")
    lines.append("|---|---|---|---|---|---|---|")
    for p in sorted(results.glob("*/fold*/data.json")):
        d = json.loads(p.read_text())
        cf = d["cell_frames"]
        lines.append(f"| {d['dataset']} | {d['fold']} | {tuple(d['fold_box_yyxx'])} | {cf['limited']} | {cf['full']} | "
                     f"{cf['limited'] / max(1, cf['full']):.2f} | {cf['test']} |")
    train_s = [r["train_s"] for r in recs]
    lines.append(f"\nTracker training time per model: median {np.median(train_s):.0f} s "
                 f"(device {recs[0]['device']}, profile {recs[0]['profile']}).")
    gen = [r["timings"].get("generator_s") for r in recs if r["timings"].get("generator_s")]
    if gen:
        steps = [(r["timings"].get("generator_lowres_steps"), r["timings"].get("generator_superres_steps")) for r in recs
                 if r["timings"].get("generator_s")]
        lines.append(f"Generator training per fold: median {np.median(gen):.0f} s "
                     f"(low-res / super-res steps reached: {sorted(set(steps))}).")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- main




def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--folds", nargs="+", type=int, default=[0, 1, 2], help="quadrants 0-3 (fold k uses seed k)")
    ap.add_argument("--profile", default="cpu", choices=list(PROFILES))
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a profile field, e.g. --set tracker_steps=300 (repeatable)")
    ap.add_argument("--trackers", nargs="+", default=["trackastra"],
                    help=f"registered: {', '.join(TRACKERS)} (deepsea: ~0.36 s per cell at 128 px, ~0.06 s at 64 px on one CPU thread)")
    ap.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=list(CONDITIONS))
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--results", type=Path, default=None, help="default: recipes/limited-data/results/<profile>")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--jobs", type=int, default=1, help="folds run in parallel (processes)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--max-frames", type=int, default=None, help="use only the first N frames (smoke tests)")
    ap.add_argument("--table-only", action="store_true", help="only rebuild results.md from the JSON files")
    args = ap.parse_args(argv)

    profile = with_overrides(PROFILES[args.profile], args.overrides)
    results = args.results or HERE / "results" / args.profile
    results.mkdir(parents=True, exist_ok=True)
    trackers = args.trackers
    unknown = [t for t in trackers if t not in TRACKERS]
    if unknown:
        raise SystemExit(f"error: --trackers {unknown}: not registered; available: {', '.join(TRACKERS)}")
    if not args.table_only:
        jobs = [dict(dataset=d, fold=f, profile_name=args.profile, profile=profile, trackers=trackers,
                     conditions=args.conditions, work=args.work, results=results, device=args.device,
                     max_frames=args.max_frames, threads=args.threads)
                for d in args.datasets for f in args.folds]
        run_jobs(functools.partial(fold_job, run_fold), jobs, args.jobs)
    table = make_table(results)
    (results / "results.md").write_text(f"# Limited-data experiment, profile {args.profile}\n\n" + table)
    print(table)


if __name__ == "__main__":
    main()
