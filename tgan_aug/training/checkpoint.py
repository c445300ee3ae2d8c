"""Checkpoints: one ``torch.save`` dict, loadable with ``torch.load(weights_only=True)``.

Layout (format_version 1)::

    {
      "format_version": 1,
      "kind": "tgan-aug-checkpoint",
      "stage": "lowres" | "superres",           # the stage this run trained
      "config": TrainConfig.to_dict(),           # includes config["model"] (ModelConfig fields)
      "weights": {
          "lowres":   {"G", "G_ema", "D", "FlowNet"} state dicts   (lowres runs)
          "superres": {"G", "G_ema", "D"} state dicts               (superres runs)
      },                                         # a superres run started from a low-res checkpoint
                                                 # also carries weights["lowres"] = {"G_ema"}
      "optimizers": {"G", "D", "FlowNet"} state dicts of the trained stage,
      "step": int (optimizer steps done),
      "rng": {"torch": ByteTensor, "cuda": [ByteTensor, ...]},
      "data": {"stats": ImageStats.to_dict(),    # lo/hi/dtype/intensity_range/scale/quantiles
               "backgrounds": {name: (Y, X) float32 tensor in [-1, 1] at working resolution},
               "source": str},
      "perceptual": str, "created": ISO time, "tgan_aug_version": str,
    }

Only tensors, numbers, strings, lists and dicts are stored: no pickled code.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any, Literal

import torch

from tgan_aug.errors import UserError

__all__ = [
    "FORMAT_VERSION",
    "SUPPORTED_VERSIONS",
    "save_checkpoint",
    "load_checkpoint",
    "check_checkpoint",
    "build_generator_from_checkpoint",
    "model_config_from_checkpoint",
    "image_stats_from_checkpoint",
    "with_temporal_fit",
    "fitted_temporal",
    "with_intensity_quantiles",
    "merge_checkpoints",
    "resolve_run_config",
]

FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu")
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def save_checkpoint(path: str | Path, ckpt: dict[str, Any]) -> Path:
    """Write ``ckpt`` atomically (temporary file + rename); tensors are moved to CPU first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = dict(ckpt)
    data.setdefault("format_version", FORMAT_VERSION)
    data.setdefault("kind", "tgan-aug-checkpoint")
    tmp = path.with_name(path.name + ".tmp")
    torch.save(_to_cpu(data), tmp)
    os.replace(tmp, path)
    return path


def _describe_foreign(obj: Any) -> str:
    """What a loaded object that lacks ``format_version`` looks like, for error messages."""
    if not isinstance(obj, dict):
        return f"a saved {type(obj).__name__}"
    if "pytorch-lightning_version" in obj or ("state_dict" in obj and "epoch" in obj):
        return "a PyTorch Lightning checkpoint"
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return f"a bare PyTorch state dict ({len(obj)} tensors, e.g. {next(iter(obj))!r}; a tracker or another tool's weights?)"
    keys = ", ".join(map(repr, list(obj)[:5]))
    return f"a dict without format_version (keys {keys})" if obj else "an empty dict"


def check_checkpoint(ckpt: Any, *, source: str = "checkpoint") -> dict[str, Any]:
    """Validate the top level of a loaded checkpoint; :class:`UserError` names what is wrong."""
    if not isinstance(ckpt, dict) or "format_version" not in ckpt:
        raise UserError(f"{source} is {_describe_foreign(ckpt)}, not a tgan-aug model file; give the checkpoint.pt "
                        "or merged .pt written by 'tgan-aug train'")
    if ckpt.get("kind", "tgan-aug-checkpoint") != "tgan-aug-checkpoint":
        raise UserError(f"{source} is a {ckpt['kind']!r} file, not a tgan-aug generator checkpoint")
    version = ckpt["format_version"]
    if version not in SUPPORTED_VERSIONS:
        raise UserError(
            f"{source} is from another tgan-aug version (format_version {version!r}); this tgan-aug reads format_version "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}; upgrade tgan-aug or retrain with this version"
        )
    for key in ("config", "weights", "step", "data"):
        if key not in ckpt:
            raise UserError(f"{source} lacks the {key!r} entry of format_version {version}; the file is damaged")
    return ckpt


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` and check its format version.

    Raises :class:`UserError` for a missing file, a file that is not a tgan-aug checkpoint, or an
    unknown ``format_version`` (the message names the version found and the supported ones).
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist; give the .pt file written by 'tgan-aug train'")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        if "Unsupported global" in str(exc):  # pickled Python objects, e.g. a whole nn.Module
            what = "it stores pickled Python objects (e.g. a whole model), which tgan-aug does not load"
        else:
            what = "it is not a PyTorch checkpoint (or it is corrupt or truncated)"
        raise UserError(f"checkpoint {path} is not a tgan-aug model file: {what}; "
                        "give the checkpoint.pt or merged .pt written by 'tgan-aug train'") from None
    return check_checkpoint(ckpt, source=f"checkpoint {path}")


def model_config_from_checkpoint(ckpt: dict[str, Any]):
    """The :class:`ModelConfig` stored in a checkpoint."""
    from tgan_aug.models.config import ModelConfig

    return ModelConfig.from_dict(saved_model_dict(ckpt))


def saved_model_dict(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The model config dict of a checkpoint, with fields added since it was saved set to what it used.

    ``superres_residual`` (added after format 1 shipped) defaults to False: the plain tanh head;
    ``use_prev_frame`` (added with it) to True: every earlier model fed its previous frame back.
    ``style_init`` / ``noise_init`` (added in 0.2) to 1.0 / 0.1, the initialisation those models had;
    ``lowres_residual`` (added with them) to False: the plain tanh head of the low-res generator.
    """
    model = dict(ckpt["config"]["model"])
    model.setdefault("superres_residual", False)
    model.setdefault("use_prev_frame", True)
    model.setdefault("lowres_residual", False)
    model.setdefault("style_init", 1.0)
    model.setdefault("noise_init", 0.1)
    return model


def resolve_run_config(cfg, *, resume: str | Path | None = None, max_steps: int | None = None,
                       max_minutes: float | None = None):
    """The configuration a run uses: the one resolver behind both ``train`` and ``--dry-run``.

    cfg: the :class:`~tgan_aug.training.config.TrainConfig` from preset and options (its ``stage``
        is checked against a resumed checkpoint's).
    resume: a checkpoint to continue: its config replaces ``cfg``, with the model fields added since
        it was saved set to what it used (:func:`saved_model_dict`).
    max_steps, max_minutes: limits applied on top (None keeps the config's).
    Returns (validated TrainConfig, the loaded checkpoint or None).
    """
    from tgan_aug.training.config import TrainConfig

    ckpt = None
    if resume is not None:
        ckpt = load_checkpoint(resume)
        if ckpt["stage"] != cfg.stage:
            raise UserError(f"--resume {resume}: it is a {ckpt['stage']} checkpoint, not {cfg.stage}; use 'tgan-aug train {ckpt['stage']}'")
        cfg = TrainConfig.from_dict({**ckpt["config"], "model": saved_model_dict(ckpt)})
    else:
        cfg = TrainConfig.from_dict(cfg.to_dict())  # a copy: the caller's object is left alone
    if max_steps is not None:
        cfg.max_steps = int(max_steps)
    if max_minutes is not None:
        cfg.max_minutes = float(max_minutes)
    cfg.validate()
    return cfg, ckpt


def lowres_fields(model: dict[str, Any]) -> dict[str, Any]:
    """A model config dict without the fields that only the super-res generator uses.

    Two stages may be paired (training super-res on a low-res run, merging) when these agree.
    """
    return {k: v for k, v in model.items() if k != "superres_residual"}


def image_stats_from_checkpoint(ckpt: dict[str, Any]):
    """The :class:`~tgan_aug.training.data.ImageStats` of the training data (dtype, range, lo/hi, scale)."""
    from tgan_aug.training.data import ImageStats

    return ImageStats.from_dict(ckpt["data"]["stats"])


def with_intensity_quantiles(ckpt: dict[str, Any], images_list: list) -> dict[str, Any]:
    """A copy of ``ckpt`` whose data statistics hold the training intensity quantiles of ``images_list``.

    For checkpoints trained before training stored them (``ImageStats.quantiles``), so that
    ``render --intensity-match`` can use them. images_list: the run's training images, arrays
    (T, Y, X) in data units, the frames it trained on (not its held-back ones). The quantiles are
    those :func:`~tgan_aug.training.data.compute_stats` would have stored (same sampling); every
    other statistic is kept.
    """
    from tgan_aug.training.data import compute_stats

    stats = image_stats_from_checkpoint(ckpt)
    stats.quantiles = compute_stats(list(images_list), percentiles=stats.percentiles).quantiles
    return {**ckpt, "data": {**ckpt["data"], "stats": stats.to_dict()}}


def with_temporal_fit(ckpt: dict[str, Any], fit: Any) -> dict[str, Any]:
    """A copy of ``ckpt`` that renders with the carry-over and track smoothing of ``fit`` by default.

    fit: a :class:`~tgan_aug.render.temporal_fit.TemporalFit` (its alpha and beta, and the figures
    they rest on, kept for the record under ``render.temporal_fit``).
    """
    return {**ckpt, "render": {**ckpt.get("render", {}), "carry_over": float(fit.carry_over),
                               "track_smoothing": float(fit.track_smoothing), "temporal_fit": fit.to_dict()}}


def fitted_temporal(ckpt: dict[str, Any]) -> dict[str, float]:
    """{"carry_over": alpha, "track_smoothing": beta} stored by :func:`with_temporal_fit`; {} for a model without them."""
    render = ckpt.get("render") or {}
    return {k: float(render[k]) for k in ("carry_over", "track_smoothing") if render.get(k) is not None}


def build_generator_from_checkpoint(
    ckpt: dict[str, Any],
    which: Literal["lowres", "superres"] = "lowres",
    ema: bool = True,
    device: str | torch.device = "cpu",
) -> torch.nn.Module:
    """The low-res or super-res generator with the checkpoint's weights, in eval mode, no grad.

    ema: use the exponential-moving-average weights (``G_ema``, what sampling/rendering should use).
    Raises :class:`UserError` when the checkpoint holds no weights for ``which``.
    """
    from tgan_aug.models import LowResGenerator, SuperResGenerator

    if which not in ("lowres", "superres"):
        raise UserError(f"which={which!r}: choose 'lowres' or 'superres'")
    weights = ckpt["weights"].get(which)
    key = "G_ema" if ema else "G"
    if not weights or key not in weights:
        have = ", ".join(f"{s}:{'/'.join(sorted(w))}" for s, w in ckpt["weights"].items()) or "none"
        raise UserError(
            f"checkpoint holds no {which} generator weights ({key}); it has {have}; "
            f"train the {which} stage ('tgan-aug train {which}') or merge checkpoints"
        )
    cfg = model_config_from_checkpoint(ckpt)
    net = (LowResGenerator if which == "lowres" else SuperResGenerator)(cfg)
    net.load_state_dict(weights[key])
    net.to(device).eval().requires_grad_(False)
    return net


def merge_stages(lowres_ckpt: dict[str, Any], superres_ckpt: dict[str, Any]) -> dict[str, Any]:
    """One checkpoint dict with a low-res run's ``G_ema`` and a super-res run's ``G_ema`` (for rendering).

    lowres_ckpt, superres_ckpt: loaded checkpoints (:func:`load_checkpoint`) of stage ``lowres``
    and ``superres``. The low-res run gives the configuration, data statistics and backgrounds; the
    super-res run its super-res-only model fields (:func:`lowres_fields`) and weights, which must
    load into the super-res generator of the merged configuration. So a super-res run may serve
    low-res runs whose other model fields differ (a super-res generator that does not use them);
    :func:`merge_checkpoints` also requires those to agree. Optimizer states and discriminators
    are dropped (the result cannot resume training).
    """
    from tgan_aug.models import SuperResGenerator
    from tgan_aug.models.config import ModelConfig

    lo, sr = lowres_ckpt, superres_ckpt
    if lo.get("stage") != "lowres" or sr.get("stage") != "superres":
        raise UserError(f"merge needs a lowres then a superres checkpoint, got {lo.get('stage')} and {sr.get('stage')}")
    sr_model = saved_model_dict(sr)
    model = {**lowres_fields(saved_model_dict(lo)), **{k: v for k, v in sr_model.items() if k not in lowres_fields(sr_model)}}
    sr_weights = sr["weights"]["superres"]["G_ema"]
    try:
        with torch.random.fork_rng(devices=[]):  # building the network must not move the caller's random stream
            SuperResGenerator(ModelConfig.from_dict(model)).load_state_dict(sr_weights)  # strict: the same network
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise UserError(f"the super-res weights do not fit the low-res run's model config; they cannot be merged ({first[:200]})") from None
    return {
        "format_version": FORMAT_VERSION,
        "kind": "tgan-aug-checkpoint",
        "stage": "merged",
        "config": {**lo["config"], "model": model},
        "config_superres": sr["config"],
        "weights": {"lowres": {"G_ema": lo["weights"]["lowres"]["G_ema"]}, "superres": {"G_ema": sr_weights}},
        "optimizers": {},
        "step": int(lo["step"]),
        "step_superres": int(sr["step"]),
        "data": lo["data"],
        "perceptual": lo.get("perceptual", ""),
        "created": sr.get("created", ""),
        "tgan_aug_version": sr.get("tgan_aug_version", ""),
    }


def merge_checkpoints(lowres_path: str | Path, superres_path: str | Path, out_path: str | Path) -> Path:
    """Write :func:`merge_checkpoint_files` of two checkpoint files to ``out_path``; returns the path."""
    return save_checkpoint(out_path, merge_checkpoint_files(lowres_path, superres_path))


def merge_checkpoint_files(lowres_path: str | Path, superres_path: str | Path) -> dict[str, Any]:
    """:func:`merge_stages` of two checkpoint files trained with the same model config (checked).

    The result keeps the low-res run's data statistics and backgrounds; optimizer states and
    discriminators are dropped (it cannot resume training).
    """
    lo = load_checkpoint(lowres_path)
    sr = load_checkpoint(superres_path)
    if lo["stage"] != "lowres" or sr["stage"] != "superres":
        raise UserError(
            f"merge needs a lowres then a superres checkpoint, got {lo['stage']} ({lowres_path}) and {sr['stage']} ({superres_path})"
        )
    if lowres_fields(saved_model_dict(lo)) != lowres_fields(saved_model_dict(sr)):
        raise UserError(f"{lowres_path} and {superres_path} were trained with different model configs; they cannot be merged")
    return merge_stages(lo, sr)
