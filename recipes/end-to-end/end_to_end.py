#!/usr/bin/env python
"""End-to-end experiment (issue 16, items 2 and 3): do synthetic videos train a better *segmenter*,
and so better tracks, when the tracker gets images and no ground-truth detections?

Split, folds and synthetic data are those of ``recipes/limited-data`` (:mod:`tgan_aug.fold_data`):
test = the last 30 % of the frames, limited subset = quadrant k of the training part (fold k, seed
k), synthetic masks made only from the fold (augmented copies + masksynth calibrated on it),
rendered by a ``small`` tGAN trained only on the fold (a fixed number of steps; carry-over and track
smoothing fitted on the fold's last frames) and by the painter fitted on it (same masks), twice:
with the masks' lineage (a daughter's brightness gain tied to her mother's by the heritability
measured on the fold: painter v3; v2 copied it) and without it
(``painter-nolineage``: every track its own gain; the stronger painter on bacteria-phc's realism
figures). tGAN is judged against the better of the two painters.

Per fold, a segmenter (DeepSea's shipped weights fine-tuned with :func:`tgan_aug.segment.fit_segmenter`,
the same steps, crops and batch in every condition) is trained on

- ``limited``: the fold's real frames;             ``full``: the whole training part;
- ``limited+tgan`` / ``limited+painter`` / ``limited+painter-nolineage``: the fold + the synthetic
  videos (``--set ratio=`` of the crops; or, with ``--set ratio_grid=[0.5,0.7,0.9]``, the fraction of
  the grid whose segmenter scores the best SEG on the fold's last frames when trained on its first
  frames + synthetic videos made from those alone: chosen per fold and renderer, test frames unseen);
- ``tgan-only`` / ``painter-only`` / ``painter-nolineage-only`` (train on synthetic, test on real:
  TSTR): the synthetic videos alone;
- ``zero-shot`` (optional reference, not in the default list): DeepSea's shipped weights untrained;
- ``tgan-then-limited`` / ``painter-then-limited`` / ``painter-nolineage-then-limited`` (optional:
  sequential instead of mixed): ``X-only``'s segmenter fine-tuned on the fold's real frames for the
  same steps; ``limited-then-limited`` (``limited``'s segmenter fine-tuned again the same way) is
  their control with as many steps and no synthetic data. A start missing on disk is trained first;
- ``tgan-colony-only`` / ``painter-colony-only`` / ``painter-nolineage-colony-only`` (optional): as
  ``X-only``, on X's videos of the masksynth colonies alone (no augmented copies of the fold's masks);
- ``limited+tgan-colony`` / ``limited+painter-colony`` / ``limited+painter-nolineage-colony``
  (optional): as ``limited+X`` (same synthetic fraction, the one ``limited+X`` uses or validates),
  with X's videos of the masksynth colonies alone as the synthetic part.

Test, images in: the segmenter segments the test frames inside their cell region box (all cells of
the test frames + 16 px) cut to a ``test_window`` square (cpu profile: 512 px; bacteria's 1305x1009
frames are otherwise ~13 s each) centred on the cells' centre of mass, all test frames; btrack
(shipped config, deterministic) links its detections; ``--trackers`` adds others (a trackastra
model: ``--tracker-model trackastra=DIR``, its ILP linking ``trackastra:mode=ilp``; ``deepsea`` =
DeepSea's shipped tracker). Each
segmentation is kept (``work/.../predictions``), so running again with another ``--trackers``
adds that tracker's scores to the finished conditions without segmenting again. Scores: SEG (and detection F1) from
:func:`tgan_aug.segment.segmentation_scores`, DET, TRA, MOTA, HOTA, IDF1, BC(1) from
:func:`tgan_aug.trackers.metrics.evaluate_tracked` (py-ctcmetrics). The reference masks are the
dataset's tracking truth (bacteria-phc: dense TRA masks; PSC: silver-truth masks).

Statistics (results.md): mean ± sd over folds (each fold: the mean over its segmenter seeds), the sd
over seeds, and the paired per-fold difference (condition - limited) ± its standard error; a
difference is marked real only beyond 2 SE. TSTR: SEG of tgan-only / painter-only as % of
limited's and full's (per fold, then mean ± sd).

Usage (from the repository root; one thread per process)::

    OMP_NUM_THREADS=1 python recipes/end-to-end/end_to_end.py --profile cpu --datasets bacteria --jobs 3
    python recipes/end-to-end/end_to_end.py --profile smoke --datasets psc --folds 0 --max-frames 12
    python recipes/end-to-end/end_to_end.py --profile gpu --device cuda --jobs 3
    python recipes/end-to-end/end_to_end.py --table-only
    # the sequential arms (X-only's segmenter fine-tuned on the fold) beside the ones they start from
    python recipes/end-to-end/end_to_end.py --conditions limited tgan-only limited-then-limited tgan-then-limited
    # which synthetic sequences carry tgan-only: the masksynth colony alone, tGAN-rendered and painted
    python recipes/end-to-end/end_to_end.py --datasets bacteria --conditions limited tgan-only tgan-colony-only \\
        painter-colony-only painter-nolineage-colony-only --set synth_frames=1.5
    # the fold's real frames mixed with the colony alone, tGAN-rendered and painted
    python recipes/end-to-end/end_to_end.py --datasets bacteria --conditions limited+tgan-colony \\
        limited+painter-colony --set synth_frames=1.5 --set 'ratio_grid=[0.5,0.7,0.9]'

How each rendering of a run draws touching cells (sisters' junctions, neighbours' halos):
``python recipes/end-to-end/contacts.py --work WORK --results RESULTS`` (after a run).

Every finished step leaves a file under ``--work`` (default ``recipes/end-to-end/work``, git-ignored)
and is skipped when run again, so an interrupted run resumes. Per-run JSON goes to ``--results``
(default ``recipes/end-to-end/results/<profile>``), with ``results.md`` and ``<dataset>.png``.
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

from tgan_aug.experiment import fold_job, format_mean_sd, mark_step_done, mean_sd, run_jobs, step_done, with_overrides
from tgan_aug.fold_data import (COLONY_PREFIX, DATASETS, MIN_FOLD, RENDERERS, DatasetSpec, SyntheticProfile, load_dataset, render_synthetic,
                                split_fold, synthetic_masks, validation_split)
from tgan_aug.splits import cell_box, cell_frames, sub_video

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# ----------------------------------------------------------------------------- profiles


@dataclass
class Profile(SyntheticProfile):
    """Sizes of one run: generator budget and synthetic data (:class:`SyntheticProfile`), segmenter
    training, seeds."""

    ratio: float = 0.5  # synthetic fraction of the segmenter's crops in limited+tgan / limited+painter
    # when not empty: each fold chooses limited+X's synthetic fraction among these, per renderer, by the
    # SEG of segmenters trained on the fold's first frames (+ synthetic data made from them alone) and
    # scored on its last frames (fold_data.validation_split); the test frames are never looked at.
    # Off by default: it costs a second generator and len(grid) segmenters per renderer and fold, and
    # on both shared datasets it chose 0.5 for tGAN in every fold (RESULTS.md, session 22)
    ratio_grid: tuple[float, ...] = ()
    seg_steps: int = 40
    seg_batch: int = 4
    seg_crop: int = 96  # network pixels (bacteria: scale 0.5, so 192 image pixels)
    seeds: int = 1  # segmenter seeds per condition and fold
    test_window: int | None = 512  # test on this square (image px) of the test cell region (None: all of it)
    # segmenter input polarity: "fold" = decided once on the fold's real frames and used for every
    # training sequence (synthetic videos imitate the fold); "auto" = per sequence from its masks,
    # which misjudged 1 of 3 rendered bacteria sequences in 2 of 3 folds (RESULTS.md)
    polarity: str = "fold"
    min_fold: tuple[int, int] = MIN_FOLD


PROFILES: dict[str, Profile] = {
    # seconds: a check that everything runs (tests use it on tiny synthetic data)
    "smoke": Profile(gen_preset="tiny", gen_lowres_steps=2, gen_lowres_minutes=0.5, gen_superres_steps=2,
                     gen_superres_minutes=0.5, n_aug=1, n_synth=0, seg_steps=2, seg_batch=2, seg_crop=32,
                     min_fold=(64, 64), test_window=None),
    # 2-core CPU, one thread per process, --jobs 3 (one process per fold): see RESULTS.md for the time of each part. The generator
    # budget is fixed in steps, without a time limit, so a fold's generator does not depend on the machine's load
    "cpu": Profile(gen_lowres_steps=300, gen_lowres_minutes=0.0, gen_superres_steps=120, gen_superres_minutes=0.0,
                   seeds=3),
    # one GPU: longer generator, more synthetic data, longer segmenter training, 3 seeds
    "gpu": Profile(gen_lowres_steps=3000, gen_lowres_minutes=6.0, gen_superres_steps=1500, gen_superres_minutes=3.0,
                   n_aug=4, n_synth=2, seg_steps=400, seg_batch=16, seg_crop=256, seeds=3, test_window=None,
                   render_frame_batch=16),
}

CONDITIONS = ("limited", "limited+tgan", "limited+painter", "limited+painter-nolineage", "full",
              "tgan-only", "painter-only", "painter-nolineage-only")
#: reference without training (optional): DeepSea's shipped weights, polarity chosen by the network
ZERO_SHOT = "zero-shot"
#: optional, sequential instead of mixed: the segmenter of ``X-only`` (same fold and seed) fine-tuned
#: on the fold's real frames for the same steps; ``limited-then-limited`` (``limited``'s segmenter
#: fine-tuned again) is the control with as many steps and no synthetic data. The second stage
#: draws the same crops in all four (seed + 100), so they differ only in where it starts
THEN_LIMITED = ("limited-then-limited", "tgan-then-limited", "painter-then-limited", "painter-nolineage-then-limited")
#: optional, which synthetic sequences carry X-only: X's videos of the masksynth colonies alone
#: (``synth_*``; without the augmented copies of the fold's masks). Needs ``n_synth`` >= 1
COLONY_ONLY = ("tgan-colony-only", "painter-colony-only", "painter-nolineage-colony-only")
#: optional, limited+X with X's colony videos alone as the synthetic part (limited+X's synthetic fraction)
COLONY_MIXED = ("limited+tgan-colony", "limited+painter-colony", "limited+painter-nolineage-colony")
#: every condition, in the order of the tables and figures
ALL_CONDITIONS = (ZERO_SHOT, *CONDITIONS, *COLONY_ONLY, *COLONY_MIXED, *THEN_LIMITED)
#: metrics of the tables, in order (SEG from the segmentation, the rest from the tracks)
METRICS = ("SEG", "DET", "TRA", "MOTA", "HOTA", "IDF1", "BC(1)")


def renderer_of(cond: str) -> str | None:
    """The renderer (:data:`tgan_aug.fold_data.RENDERERS`) whose videos condition ``cond`` trains on;
    None for the real-only conditions."""
    if cond.startswith("limited+"):
        return cond.removeprefix("limited+").removesuffix("-colony")
    for suffix in ("-colony-only", "-only", "-then-limited"):
        if cond.endswith(suffix) and cond != "limited-then-limited":
            return cond.removesuffix(suffix)
    return None


def work_name(cond: str, s: int) -> str:
    """The name of condition ``cond``, seed ``s``'s segmenter folder and saved prediction under a fold's work folder."""
    return f"{cond.replace('+', '_')}__seed{s}"


def pretrained_on(cond: str) -> str | None:
    """The condition whose segmenter (same fold and seed) ``cond`` starts from (``X-then-limited``:
    ``X-only``, or ``limited``); None when it starts from DeepSea's shipped weights."""
    if not cond.endswith("-then-limited"):
        return None
    start = cond.removesuffix("-then-limited")
    return start if start == "limited" else f"{start}-only"


def training_data(cond: str, split, synthetic: dict[str, list], ratios: dict[str, float]) -> tuple[list, list, float]:
    """(real, synthetic, synthetic fraction) of the segmenter of condition ``cond``; ``ratios``:
    {renderer: synthetic fraction of limited+renderer}."""
    if cond == "limited" or cond.endswith("-then-limited"):
        return [("limited", split.limited)], [], 0.0
    if cond == "full":
        return [("full", split.train_part)], [], 0.0
    videos = synthetic[renderer_of(cond)]
    if cond.endswith(("-colony-only", "-colony")):
        videos = [(n, v) for n, v in videos if n.startswith(COLONY_PREFIX)]
        if not videos:
            raise SystemExit(f"error: {cond} trains on the masksynth colonies, and the profile makes none: use --set n_synth=1")
    if cond.startswith("limited+"):
        return [("limited", split.limited)], videos, ratios[renderer_of(cond)]
    return [], videos, 1.0


def make_synthetic(video, workdir: Path, renderers: list[str], *, spec: DatasetSpec, profile: Profile, seed: int,
                   device: str) -> tuple[dict[str, list], dict[str, Any], int]:
    """Synthetic masks made from ``video`` (a fold, or its fit part) rendered by ``renderers`` fitted
    on it, under ``workdir`` (resumable). Returns (videos per renderer, timings, number of sequences)."""
    t0 = time.time()
    masks = synthetic_masks(video.masks, layout=spec.layout, seed=seed, **profile.mask_options())
    timings = {"masks_s": time.time() - t0}
    synthetic, more = render_synthetic(video, masks, workdir, renderers=renderers, budget=profile.generator_budget(),
                                       seed=seed, device=device, deepsea_invert=spec.deepsea_invert,
                                       frame_batch=profile.render_frame_batch, sister_junctions=spec.sister_junctions,
                                       part_neighbours=spec.part_neighbours, provenance={"command": "recipes/end-to-end"})
    return synthetic, {**timings, **more}, len(masks)


def train_condition(cond: str, s: int, *, split, synthetic: dict[str, list], ratios: dict[str, float], config,
                    segmenters: Path, device: str) -> Path:
    """The segmenter folder of condition ``cond``, seed ``s`` (``segmenters/<cond>__seed<s>``),
    trained unless done; an ``X-then-limited`` condition first gets the segmenter it starts from
    (:func:`pretrained_on`, trained here if missing). Seed: 1000 x fold + s (+ 100 for a second stage)."""
    from tgan_aug.segment import fit_segmenter

    model_dir = segmenters / work_name(cond, s)
    if step_done(model_dir / "done.json"):
        return model_dir
    start = pretrained_on(cond)
    init = None if start is None else train_condition(start, s, split=split, synthetic=synthetic, ratios=ratios,
                                                      config=config, segmenters=segmenters, device=device)
    real, syn, ratio = training_data(cond, split, synthetic, ratios)
    seed = 1000 * split.fold + s + (0 if start is None else 100)
    fit = fit_segmenter(real, syn, model_dir, ratio=ratio, config=config, init=init, seed=seed, device=device,
                        overwrite=True, progress=False)
    mark_step_done(model_dir / "done.json", {"seconds": fit["seconds"], "loss_first": fit["history"][0],
                                             "loss_last": fit["history"][-1], "seed": seed,
                                             **({} if start is None else {"init": start})})
    return model_dir


def best_ratio(seg_by_ratio: dict[float, float]) -> float:
    """The synthetic fraction with the highest validation SEG (the smallest one on a tie)."""
    return max(sorted(seg_by_ratio), key=lambda r: (seg_by_ratio[r], -r))


def validate_ratios(split, renderers: list[str], *, spec: DatasetSpec, profile: Profile, config, fdir: Path,
                    device: str, log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Choose limited+renderer's synthetic fraction among ``profile.ratio_grid`` without the test frames.

    The fold is cut in time (:func:`tgan_aug.fold_data.validation_split`); synthetic videos are made
    from its fit part alone (masks, generator, painter: nothing has seen the validation frames); per
    renderer and ratio one segmenter (same config and steps as the experiment's) trains on the fit
    part + those videos and is scored (SEG) on the validation frames. Every step is kept under
    ``fdir/ratio-validation``. Returns {renderer: {"ratio": chosen, "validation_SEG": {ratio: SEG}}}.
    """
    from tgan_aug.segment import Segmenter, fit_segmenter, segmentation_scores

    vdir = fdir / "ratio-validation"
    fit, val = validation_split(split.limited)
    synthetic, timings, n = make_synthetic(fit, vdir, renderers, spec=spec, profile=profile, seed=split.fold, device=device)
    log(f"[fold {split.fold}] ratio validation: fit frames {fit.n_frames}, validation frames {val.n_frames}, "
        f"{n} synthetic sequences per renderer ({timings})")
    chosen = {}
    for r in renderers:
        seg: dict[float, float] = {}
        for ratio in profile.ratio_grid:
            score_file = vdir / "scores" / f"{r}__ratio{ratio:g}.json"
            if not step_done(score_file):
                model_dir = vdir / "segmenters" / f"{r}__ratio{ratio:g}"
                fit_segmenter([("fit", fit)], synthetic[r], model_dir, ratio=ratio, config=config, seed=1000 * split.fold + 500,
                              device=device, overwrite=True, progress=False)
                pred = Segmenter.from_folder(model_dir, device=device).segment(val.images)
                mark_step_done(score_file, segmentation_scores(val.labels, pred))
            seg[ratio] = float(json.loads(score_file.read_text())["SEG"])
        chosen[r] = {"ratio": best_ratio(seg), "validation_SEG": {f"{k:g}": round(v, 4) for k, v in seg.items()}}
        log(f"[fold {split.fold}] ratio validation {r}: SEG {chosen[r]['validation_SEG']} -> ratio {chosen[r]['ratio']:g}")
    return chosen


def test_region(test, *, margin: int = 16, window: int | None = None):
    """The test frames cut to their cell region box (all test cells + ``margin`` px) and, with
    ``window``, to at most ``window`` x ``window`` pixels of it centred on the cells' centre of mass
    (the densest part). Returns ``(TrackedVideo, box)``; cells cut by the box keep CTC rules."""
    y0, y1, x0, x1 = cell_box(test.labels, margin=margin)
    if window is not None:
        _, ys, xs = np.nonzero(test.labels > 0)
        cy, cx = int(round(ys.mean())), int(round(xs.mean()))
        hy, hx = min(window, y1 - y0), min(window, x1 - x0)
        y0 = int(np.clip(cy - hy // 2, y0, y1 - hy))
        x0 = int(np.clip(cx - hx // 2, x0, x1 - hx))
        y1, x1 = y0 + hy, x0 + hx
    box = (y0, y1, x0, x1)
    return sub_video(test, box=box, what="test frames, cell region"), box


# ----------------------------------------------------------------------------- one fold


def run_fold(dataset: str, fold: int, *, spec: DatasetSpec, profile_name: str, profile: Profile, conditions: list[str],
             trackers: list[str], tracker_models: dict[str, str], work: Path, results: Path, device: str,
             max_frames: int | None, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Data, synthetic videos, segmenters, segmentation, tracking and scores of one (dataset, fold).

    Returns the records (also ``results/<dataset>/fold<k>/<condition>__seed<s>.json``).
    """
    from tgan_aug.segment import Segmenter, SegmenterConfig, segmentation_scores
    from tgan_aug.segment.data import resolve_polarity
    from tgan_aug.trackers import TRACKERS
    from tgan_aug.trackers.metrics import evaluate_tracked

    t_start = time.time()
    seq, video = load_dataset(spec, root=REPO, max_frames=max_frames)
    split = split_fold(video, fold, min_fold=profile.min_fold)
    test, test_box = test_region(split.test, window=profile.test_window)
    fdir = work / profile_name / dataset / f"fold{fold}"
    rdir = results / dataset / f"fold{fold}"
    for d in (fdir, rdir):
        d.mkdir(parents=True, exist_ok=True)
    data_info = split.info(dataset=dataset, sequence=seq, test_box_yyxx=list(test_box), test_box_cell_frames=cell_frames(test.labels))
    (rdir / "data.json").write_text(json.dumps(data_info, indent=2))
    log(f"[{dataset} fold {fold}] limited {split.box}: {data_info['cell_frames']['limited']} cell-frames; "
        f"test box {test_box}, {test.n_frames} frames")

    todo = [(c, s) for c in conditions for s in range(profile.seeds) if not (rdir / f"{c}__seed{s}.json").is_file()]
    renderers = sorted({renderer_of(c) for c, _ in todo} - {None})
    synthetic: dict[str, list] = {}
    timing_file = fdir / "synthetic_timings.json"  # first-run times (a resumed step takes ~0 s)
    if renderers:
        synthetic, timings, n = make_synthetic(split.limited, fdir, renderers, spec=spec, profile=profile, seed=fold,
                                               device=device)
        old = json.loads(timing_file.read_text()) if timing_file.is_file() else {}
        timing_file.write_text(json.dumps({**timings, **old}, indent=2))
        log(f"[{dataset} fold {fold}] synthetic: {n} sequences per renderer ({timings})")
    fold_timings = json.loads(timing_file.read_text()) if timing_file.is_file() else {}

    invert = resolve_polarity("auto", split.limited.images, split.limited.labels) if profile.polarity == "fold" else "auto"
    config = SegmenterConfig.preset("cpu", scale=spec.seg_scale, max_steps=profile.seg_steps,
                                    batch_size=profile.seg_batch, crop=profile.seg_crop, invert=invert)
    mixed = sorted({renderer_of(c) for c, _ in todo if c.startswith("limited+")})
    validation = (validate_ratios(split, mixed, spec=spec, profile=profile, config=config, fdir=fdir, device=device, log=log)
                  if profile.ratio_grid and mixed else {})
    ratios = {r: validation[r]["ratio"] if r in validation else profile.ratio for r in RENDERERS}
    loaded = {}
    for t in trackers:
        name, options = tracker_spec(t)
        loaded[t] = TRACKERS[name].load(tracker_models.get(name), device=device, **options)
    records = []
    for cond, s in [(c, s) for c in conditions for s in range(profile.seeds)]:
        out_json = rdir / f"{cond}__seed{s}.json"
        old = json.loads(out_json.read_text()) if out_json.is_file() else None
        missing = [t for t in loaded if old is None or t not in old["tracking"]]
        if old is not None and not missing:
            records.append(old)
            continue
        seed = 1000 * fold + s
        model_dir = fdir / "segmenters" / work_name(cond, s)
        pred_file = fdir / "predictions" / f"{work_name(cond, s)}.npz"
        if old is not None and not pred_file.is_file() and not step_done(model_dir / "done.json"):
            log(f"[{dataset} fold {fold}] {cond} seed {s}: no saved segmentation or segmenter in {fdir}: "
                f"trackers {missing} not added (delete {out_json.name} to redo the condition)")
            records.append(old)
            continue
        if old is not None and pred_file.is_file():  # a tracker is being added: the same detections
            pred, seg_info, t_segment = np.load(pred_file)["labels"], old["segmenter"], old["timings"]["segment_s"]
        else:
            if cond == ZERO_SHOT:
                mark_step_done(model_dir / "done.json", {"seconds": 0.0, "init": "deepsea/trained_models/segmentation.pth"})
            else:
                train_condition(cond, s, split=split, synthetic=synthetic, ratios=ratios, config=config,
                                segmenters=fdir / "segmenters", device=device)
            seg = (Segmenter.from_pretrained(scale=spec.seg_scale, device=device) if cond == ZERO_SHOT
                   else Segmenter.from_folder(model_dir, device=device))
            t0 = time.time()
            pred = seg.segment(test.images)
            save_prediction(pred_file, pred)
            t_segment = time.time() - t0
            seg_info = {"invert": seg.invert, "scale": seg.scale, **json.loads((model_dir / "done.json").read_text())}
        tracking, track_s = ({}, {}) if old is None else (old["tracking"], old["timings"]["track_s"])
        # the synthetic fraction a limited+X segmenter trained with (a record being extended keeps its own)
        if old is not None:
            mix_info = {k: old[k] for k in ("ratio", "ratio_validation") if k in old}
        elif cond.startswith("limited+"):
            mix_info = {"ratio": ratios[renderer_of(cond)], "ratio_validation": validation.get(renderer_of(cond))}
        else:
            mix_info = {}
        for name in missing:
            t0 = time.time()
            tracked = loaded[name].track(test.images, pred)
            track_s[name] = round(time.time() - t0, 1)
            tracking[name] = evaluate_tracked(test.masks, tracked)
        segmentation = segmentation_scores(test.labels, pred) if old is None else old["segmentation"]
        rec = {"dataset": dataset, "fold": fold, "seed": s, "segmenter_seed": seed, "condition": cond,
               "profile": profile_name, "profile_settings": dataclasses.asdict(profile), "device": device,
               "segmenter": seg_info,
               **mix_info,
               "segmentation": segmentation, "tracking": tracking,
               "timings": {"train_s": round(seg_info["seconds"], 1), "segment_s": round(t_segment, 1),
                           "track_s": track_s, **fold_timings},
               "data": data_info}
        tmp = out_json.with_suffix(".json.partial")
        tmp.write_text(json.dumps(rec, indent=2, default=str))
        tmp.replace(out_json)
        records.append(rec)
        scores = "  ".join(f"{t} TRA {tracking[t].get('TRA')} MOTA {tracking[t].get('MOTA')}" for t in missing)
        log(f"[{dataset} fold {fold}] {cond} seed {s}: SEG {segmentation['SEG']:.3f} F1 {segmentation['F1']:.3f} | "
            f"{scores} (train {seg_info['seconds']:.0f} s, segment {t_segment:.0f} s)")
    log(f"[{dataset} fold {fold}] done in {time.time() - t_start:.0f} s")
    return records


def save_prediction(path: Path, labels: np.ndarray) -> None:
    """Save a segmentation (T, Y, X) (compressed; written to a temporary name, then renamed), so a
    tracker added later links the same detections without segmenting again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial.npz")
    np.savez_compressed(tmp, labels=labels)
    tmp.replace(path)


# ----------------------------------------------------------------------------- statistics and tables


def flat_scores(rec: dict[str, Any], tracker: str) -> dict[str, float | None]:
    """One record's METRICS for ``tracker``: SEG from the segmentation, the rest from its tracks."""
    tr = rec["tracking"].get(tracker, {})
    return {m: rec["segmentation"]["SEG"] if m == "SEG" else tr.get(m) for m in METRICS}


def fold_means(recs: list[dict[str, Any]], tracker: str, cond: str, metric: str) -> dict[int, float]:
    """{fold: mean over that fold's seeds} of ``metric`` for ``cond`` (folds without a value left out)."""
    out: dict[int, list[float]] = {}
    for r in recs:
        v = flat_scores(r, tracker)[metric] if r["condition"] == cond else None
        if v is not None and np.isfinite(v):
            out.setdefault(r["fold"], []).append(float(v))
    return {f: float(np.mean(v)) for f, v in out.items()}


def seed_sd(recs: list[dict[str, Any]], tracker: str, cond: str, metric: str) -> float:
    """Pooled sd over seeds within folds (NaN with one seed per fold)."""
    groups: dict[int, list[float]] = {}
    for r in recs:
        v = flat_scores(r, tracker)[metric] if r["condition"] == cond else None
        if v is not None and np.isfinite(v):
            groups.setdefault(r["fold"], []).append(float(v))
    dev = [x - np.mean(g) for g in groups.values() for x in g]
    dof = sum(len(g) - 1 for g in groups.values())
    return float(np.sqrt(np.sum(np.square(dev)) / dof)) if dof > 0 else float("nan")


def paired_difference(a: dict[int, float], b: dict[int, float]) -> tuple[float, float, int]:
    """(mean, standard error, n) of the per-fold differences a - b over the folds both have."""
    d = np.array([a[f] - b[f] for f in sorted(set(a) & set(b))])
    if d.size == 0:
        return float("nan"), float("nan"), 0
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("nan"), int(d.size)


def paired_rows(pairs: list[tuple[str, str]], fm: dict[tuple[str, str], dict[int, float]],
                label: Callable[[str, str], str]) -> list[str]:
    """Markdown rows (header included) of the paired per-fold differences ``a - b`` for every
    ``(a, b)`` of ``pairs`` and metric; ``fm[(condition, metric)]`` = {fold: fold mean}."""
    rows = ["| condition | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for a, b in pairs:
        cells = []
        for m in METRICS:
            mu, se, n = paired_difference(fm[a, m], fm[b, m])
            cells.append("-" if n == 0 else f"{mu:+.3f} ± {se:.3f} {_verdict(mu, se)}")
        rows.append(f"| {label(a, b)} | " + " | ".join(cells) + " |")
    return rows


def _verdict(mean: float, se: float) -> str:
    if not np.isfinite(se):
        return "n/a (one fold)"
    return "**real**" if abs(mean) > 2 * se else "within 2 SE"


def load_records(results: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(results.glob("*/fold*/*__seed*.json"))]


def profile_changes(recs: list[dict[str, Any]]) -> str:
    """The profile fields of ``recs`` that differ from today's defaults of their named profile
    (``--set``, or records kept from runs with older defaults): ``key=value`` per field, values of
    records that disagree joined by `` / ``; "" when none differ."""
    name = recs[0]["profile"]
    if name not in PROFILES:
        return ""
    default = json.loads(json.dumps(dataclasses.asdict(PROFILES[name])))
    values: dict[str, list[str]] = {}
    for r in recs:
        for k, v in r.get("profile_settings", {}).items():
            text = json.dumps(v)
            if text not in values.setdefault(k, []):
                values[k].append(text)
    return ", ".join(f"{k}={' / '.join(v)}" for k, v in sorted(values.items())
                     if [json.dumps(default.get(k))] != v)


def make_table(results: Path) -> str:
    """results.md body: per dataset and tracker, scores, paired differences, gap closed, TSTR, times."""
    recs = load_records(results)
    if not recs:
        return "(no results yet)\n"
    lines: list[str] = []
    for d in sorted({r["dataset"] for r in recs}):
        rd = [r for r in recs if r["dataset"] == d]
        for t in sorted({t for r in rd for t in r["tracking"]}):
            rt = [r for r in rd if t in r["tracking"]]  # the records this tracker linked (SEG included)
            conds = [c for c in ALL_CONDITIONS if any(r["condition"] == c for r in rt)]
            folds = sorted({r["fold"] for r in rt})
            seeds = sorted({r["seed"] for r in rt})
            lines.append(f"## {d}, segmenter + {t}\n")
            changed = profile_changes(rt)
            if changed:
                lines.append(f"Settings that differ from today's `{rt[0]['profile']}` profile: {changed}.\n")
            lines.append(f"Mean ± sd over folds (folds {folds}; each fold = mean over seeds {seeds}); "
                         "last column: sd over seeds of SEG / TRA (pooled within folds).\n")
            lines.append("| condition | " + " | ".join(METRICS) + " | seed sd SEG / TRA |")
            lines.append("|---|" + "---|" * (len(METRICS) + 1))
            fm = {(c, m): fold_means(rt, t, c, m) for c in conds for m in METRICS}
            for c in conds:
                cells = [format_mean_sd(*mean_sd(list(fm[c, m].values())), missing="-") for m in METRICS]
                sds = " / ".join(f"{seed_sd(rt, t, c, m):.3f}" if np.isfinite(seed_sd(rt, t, c, m)) else "-"
                                 for m in ("SEG", "TRA"))
                lines.append(f"| {c} | " + " | ".join(cells) + f" | {sds} |")
            if "limited" in conds:
                lines.append("\nPaired per-fold difference to `limited` (mean ± SE over folds; real = beyond 2 SE):\n")
                lines += paired_rows([(c, "limited") for c in conds if c != "limited"], fm, label=lambda c, ref: c)
            sequential = [(c, "limited-then-limited") for c in THEN_LIMITED[1:] if {c, "limited-then-limited"} <= set(conds)]
            if sequential:
                lines.append("\nPretrained on synthetic video, then fine-tuned on the fold, against `limited-then-limited` "
                             "(as many steps, no synthetic data): paired per-fold difference (mean ± SE over folds):\n")
                lines += paired_rows(sequential, fm, label=lambda c, ref: f"{c} - {ref}")
            # every tGAN arm against the same arm painted (with and without lineage), and every colony
            # arm against the same arm with all of the renderer's sequences, in the tables' order
            versus = [(c, c.replace("tgan", p)) for c in conds if "tgan" in c
                      for p in ("painter", "painter-nolineage") if c.replace("tgan", p) in conds]
            colony = [(c, c.replace("-colony", "")) for c in conds if "-colony" in c and c.replace("-colony", "") in conds]
            if colony:
                lines.append("\nThe masksynth colony alone against all synthetic sequences of the same renderer "
                             "(colony + augmented copies of the fold's masks): paired per-fold difference (mean ± SE over folds):\n")
                lines += paired_rows(colony, fm, label=lambda c, ref: f"{c} - {ref}")
            if versus:
                lines.append("\ntGAN vs painter, the same synthetic masks: paired per-fold difference (mean ± SE over folds):\n")
                lines += paired_rows(versus, fm, label=lambda c, ref: f"{c} - {ref}")
            if {"limited", "full"} <= set(conds) and any(c.startswith("limited+") for c in conds):
                lines.append("\nShare of the limited-to-full gap closed, (condition - limited) / (full - limited), on fold means:\n")
                lines.append("| condition | " + " | ".join(METRICS) + " |")
                lines.append("|---|" + "---|" * len(METRICS))
                for c in [c for c in conds if c.startswith("limited+")]:
                    cells = []
                    for m in METRICS:
                        lim, full, got = (mean_sd(list(fm[k, m].values()))[0] for k in ("limited", "full", c))
                        gap = full - lim
                        gap_se = paired_difference(fm["full", m], fm["limited", m])[1]
                        real = "" if not np.isfinite(gap_se) else (", real" if abs(gap) > 2 * gap_se else ", within 2 SE")
                        cells.append(f"{100 * (got - lim) / gap:.0f} % (gap {gap:+.3f}{real})" if np.isfinite(gap) and abs(gap) >= 0.005
                                     else "- (gap < 0.005)")
                    lines.append(f"| {c} | " + " | ".join(cells) + " |")
            tstr = [c for c in conds if c.endswith("-only")]
            if tstr and t == sorted({t for r in rd for t in r["tracking"]})[0]:
                lines.append("\nTSTR: SEG of a segmenter trained on synthetic video only, as % of the real-trained ones "
                             "(per fold, then mean ± sd):\n")
                lines.append("| trained on | SEG | % of limited | % of full |")
                lines.append("|---|---|---|---|")
                for c in tstr:
                    seg = fm[c, "SEG"]
                    cells = []
                    for ref in ("limited", "full"):
                        ratios = [100 * seg[f] / fm[ref, "SEG"][f] for f in seg if f in fm.get((ref, "SEG"), {}) and fm[ref, "SEG"][f] > 0]
                        cells.append(format_mean_sd(*mean_sd(ratios), digits=0, missing="-"))
                    lines.append(f"| {c} | {format_mean_sd(*mean_sd(list(seg.values())), missing='-')} | " + " | ".join(cells) + " |")
            lines.append("")
        lines.append(f"Time per part ({d}, device {rd[0]['device']}, profile {rd[0]['profile']}; median over runs / folds):\n")
        lines.append("| part | seconds |")
        lines.append("|---|---|")
        # per fold, the synthetic-data timings of its records merged, a tGAN condition's last (those used
        # the generator; a record kept from an earlier run may carry an earlier generator's figures)
        fold_t: dict[int, dict[str, Any]] = {}
        for r in sorted(rd, key=lambda r: "tgan" in r["condition"]):
            fold_t.setdefault(r["fold"], {}).update(r["timings"])
        for key in ("masks_s", "generator_s", "render_s", "painter_fit_s", "painter_s", "painter_nolineage_s"):
            v = [ft[key] for ft in fold_t.values() if key in ft]
            if v:
                lines.append(f"| {key[:-2]} (per fold) | {np.median(v):.0f} |")
        for key in ("train_s", "segment_s"):
            lines.append(f"| segmenter {key[:-2]} (per run) | {np.median([r['timings'][key] for r in rd]):.0f} |")
        for t in sorted({t for r in rd for t in r["tracking"]}):
            lines.append(f"| {t} tracking (per run) | "
                         f"{np.median([r['timings']['track_s'][t] for r in rd if t in r['timings']['track_s']]):.1f} |")
        steps = sorted({(ft.get("generator_lowres_steps"), ft.get("generator_superres_steps")) for ft in fold_t.values()
                        if "generator_lowres_steps" in ft})
        if steps:
            lines.append(f"\nGenerator steps reached (low-res, super-res) per fold: {steps}.")
        fits = {f: (ft["carry_over"], ft["track_smoothing"]) if "carry_over" in ft else ft.get("temporal_fit", "no fit recorded")
                for f, ft in sorted(fold_t.items()) if "generator_s" in ft}
        if fits:
            lines.append(f"Fitted carry-over / track smoothing per fold (on the fold's last frames): {fits}.")
        chosen = ratio_choices(rd)
        if chosen:
            lines.append("Synthetic fraction of each limited+X condition, chosen per fold on the fold's validation frames "
                         "(validation SEG per candidate fraction; the test frames are not looked at):\n")
            lines.append("| fold | condition | validation SEG by fraction | chosen |")
            lines.append("|---|---|---|---|")
            for (f, c), v in sorted(chosen.items()):
                seg = ", ".join(f"{k}: {x:.3f}" for k, x in v["validation_SEG"].items())
                lines.append(f"| {f} | {c} | {seg} | {v['ratio']:g} |")
            lines.append("")
        lines.append("")
        lines.append("Data per fold (cell-frames = annotated cells summed over frames):\n")
        lines.append("| fold | fold box (y0, y1, x0, x1) | limited cell-frames | full | test box | test cell-frames (in the box) |")
        lines.append("|---|---|---|---|---|---|")
        for f in folds:
            rf = next(r for r in rd if r["fold"] == f)
            info = {**rf["data"], "test_box_cell_frames": rf["data"].get("test_box_cell_frames", rf["segmentation"]["n_ref"])}
            cf = info["cell_frames"]
            lines.append(f"| {f} | {tuple(info['fold_box_yyxx'])} | {cf['limited']} | {cf['full']} | "
                         f"{tuple(info['test_box_yyxx'])} | {info['test_box_cell_frames']} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def ratio_choices(recs: list[dict[str, Any]]) -> dict[tuple[int, str], dict[str, Any]]:
    """{(fold, condition): ratio validation} of the limited+X records whose fraction was chosen by
    validation (:func:`validate_ratios`)."""
    return {(r["fold"], r["condition"]): r["ratio_validation"] for r in recs if r.get("ratio_validation")}


def make_figures(results: Path) -> list[Path]:
    """One PNG per dataset and (first) tracker: bars = conditions, groups = metrics, error bars = sd over folds."""
    from tgan_aug.metrics.plots import bar_plot

    recs = load_records(results)
    paths = []
    for d in sorted({r["dataset"] for r in recs}):
        rd = [r for r in recs if r["dataset"] == d]
        t = sorted({t for r in rd for t in r["tracking"]})[0]
        conds = [c for c in ALL_CONDITIONS if any(r["condition"] == c for r in rd)]
        groups = {m: {c: mean_sd(list(fold_means(rd, t, c, m).values()))[:2] for c in conds} for m in METRICS}
        n = len({r["fold"] for r in rd})
        paths.append(bar_plot(groups, results / f"{d}.png", title=f"{d}: segmenter + {t} on unseen test frames "
                              f"(mean +- sd over {n} folds)", ylabel="score"))
    return paths


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    usage = __doc__[__doc__.index("Usage (from"):__doc__.index("How each rendering")].replace("::", ":")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=usage,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["bacteria", "psc"], choices=list(DATASETS))
    ap.add_argument("--data", action="append", default=[], metavar="NAME=PATH",
                    help="read dataset NAME (one of --datasets' choices: its layout and scale) from this CTC folder")
    ap.add_argument("--folds", nargs="+", type=int, default=[0, 1, 2], help="quadrants 0-3 (fold k uses seed k)")
    ap.add_argument("--profile", default="cpu", choices=list(PROFILES))
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a profile field (JSON value), e.g. --set seeds=3 (repeatable)")
    ap.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=ALL_CONDITIONS,
                    help=f"default: all but {ZERO_SHOT} (DeepSea's shipped weights, no training: a reference), the "
                         f"sequential ones ({', '.join(THEN_LIMITED)}: X-only's segmenter fine-tuned on the fold) and "
                         f"the colony-only ones ({', '.join(COLONY_ONLY)}: X-only on the masksynth colony alone) and "
                         f"the colony-mixed ones ({', '.join(COLONY_MIXED)}: limited+X with the colony alone)")
    ap.add_argument("--trackers", nargs="+", default=["btrack"],
                    help="trackers linking the segmenter's detections: NAME or NAME:KEY=VALUE[,KEY=VALUE] with "
                         "options of the tracker's load (e.g. trackastra:mode=ilp); each spec is scored separately")
    ap.add_argument("--tracker-model", action="append", default=[], metavar="NAME=DIR",
                    help="model folder of a tracker that needs one (e.g. trackastra=runs/ta)")
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--results", type=Path, default=None, help="default: recipes/end-to-end/results/<profile>")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--jobs", type=int, default=1, help="folds run in parallel (processes)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--max-frames", type=int, default=None, help="use only the first N frames (smoke runs)")
    ap.add_argument("--table-only", action="store_true", help="only rebuild results.md and the figures from the JSON files")
    return ap.parse_args(argv)


def tracker_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"NAME"`` or ``"NAME:KEY=VALUE[,KEY=VALUE]"`` -> (tracker name, load options; values read as
    JSON where they parse, else strings). The whole spec names the tracker's scores in the records."""
    name, _, rest = spec.partition(":")
    options: dict[str, Any] = {}
    for key, value in _pairs([p for p in rest.split(",") if p], f"--trackers {spec}").items():
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return name, options


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SystemExit(f"error: {flag} {item!r}: expected NAME=VALUE")
        out[key] = value
    return out


def main(argv: list[str] | None = None) -> Path:
    """Run the experiment (or only the tables); returns the results folder."""
    from tgan_aug.trackers import TRACKERS

    args = parse_args(argv)
    profile = with_overrides(PROFILES[args.profile], args.overrides)
    if profile.polarity not in ("fold", "auto"):
        raise SystemExit(f"error: --set polarity={profile.polarity!r}: use \"fold\" or \"auto\"")
    unknown = [t for t in args.trackers if tracker_spec(t)[0] not in TRACKERS]
    if unknown:
        raise SystemExit(f"error: --trackers {unknown}: not registered; available: {', '.join(TRACKERS)}")
    specs = dict(DATASETS)
    for name, path in _pairs(args.data, "--data").items():
        if name not in specs:
            raise SystemExit(f"error: --data {name}={path}: unknown dataset name; use one of {', '.join(specs)}")
        specs[name] = dataclasses.replace(specs[name], path=str(Path(path).resolve()))
    results = args.results or HERE / "results" / args.profile
    results.mkdir(parents=True, exist_ok=True)
    if not args.table_only:
        jobs = [dict(dataset=d, fold=f, spec=specs[d], profile_name=args.profile, profile=profile,
                     conditions=args.conditions, trackers=args.trackers, tracker_models=_pairs(args.tracker_model, "--tracker-model"),
                     work=args.work, results=results, device=args.device, max_frames=args.max_frames, threads=args.threads)
                for d in args.datasets for f in args.folds]
        run_jobs(functools.partial(fold_job, run_fold), jobs, args.jobs)
    table = make_table(results)
    (results / "results.md").write_text(f"# End-to-end experiment, profile {args.profile}\n\n" + table)
    make_figures(results)
    print(table)
    return results


if __name__ == "__main__":
    main()
