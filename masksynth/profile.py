"""A data profile: the shape bank and calibrated motion/division statistics of one real dataset,
stored compactly in one ``.npz`` file, so masks can be synthesized "like" that data.

A profile is what a shipped model carries about its training data (``NAME-bank.npz``):

- ``bank``: a few hundred real single-cell masks (tight crops, packed 8 pixels a byte), drawn
  evenly over the frames; :class:`~masksynth.shapes.ShapeBank` samples them with flips, rotations
  and area scaling, and the simulator rotates, moves and divides them like any other shape;
- ``config``: the :class:`~masksynth.config.SynthConfig` that :func:`masksynth.calibrate.calibrate`
  measured on the data (areas, speed, turning, division hazard, growth);
- ``stats``: summary statistics of the data (medians of :func:`masksynth.stats.sequence_stats`)
  for model cards and checks;
- ``meta``: free-form facts (source, pixel scale, how tracks were linked).

:func:`like_config` turns a profile into a config for another frame size and length: the data's
cell density (mean coverage over its frames) replaces its absolute cell count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from masksynth.config import SynthConfig
from masksynth.errors import UserError
from masksynth.shapes import ShapeBank
from masksynth.tracked import TrackedMasks

__all__ = ["DataProfile", "profile_from_masks", "save_profile", "load_profile", "like_config", "pack_masks",
           "unpack_masks", "summary_stats", "scale_profile", "PROFILE_VERSION"]

PROFILE_VERSION = 1
#: SynthConfig fields a profile does not impose on :func:`like_config` (the caller's frame size and
#: length; the data's absolute cell count becomes a coverage; where the data's founders sit, the
#: colony layout calibration measures, means nothing for frames that start at the data's density)
_NOT_CARRIED = ("size", "frames", "cells", "coverage", "layout", "colonies", "colony_sigma", "colony_margin")


@dataclass
class DataProfile:
    """Shape bank + calibrated synthesis config + summary statistics of one real dataset.

    bank: real cell shapes (tight (h, w) bool masks) at the pixel scale the profile describes.
    config: calibrated SynthConfig fields (``SynthConfig.to_dict()`` form).
    stats: summary statistics (see :func:`summary_stats`), e.g. ``coverage`` (first frame, fraction).
    meta: provenance (source, scale, linking).
    """

    bank: ShapeBank
    config: dict[str, Any]
    stats: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)


def pack_masks(masks: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Pack tight bool masks into three arrays: ``bits`` (uint8, np.packbits of every mask
    flattened, concatenated), ``hw`` (N, 2) int32 mask shapes, ``offsets`` (N + 1,) int64 byte offsets."""
    hw = np.array([m.shape for m in masks], dtype=np.int32).reshape(-1, 2)
    packed = [np.packbits(np.asarray(m, dtype=bool).ravel()) for m in masks]
    offsets = np.concatenate([[0], np.cumsum([p.size for p in packed])]).astype(np.int64)
    bits = np.concatenate(packed) if packed else np.zeros(0, np.uint8)
    return {"bits": bits, "hw": hw, "offsets": offsets}


def unpack_masks(bits: np.ndarray, hw: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """Inverse of :func:`pack_masks`: a list of (h, w) bool masks."""
    out = []
    for (h, w), a, b in zip(np.asarray(hw), offsets[:-1], offsets[1:]):
        out.append(np.unpackbits(bits[a:b], count=int(h) * int(w)).reshape(int(h), int(w)).astype(bool))
    return out


def summary_stats(masks: TrackedMasks) -> dict[str, float]:
    """Medians/means of :func:`masksynth.stats.sequence_stats` of one sequence, as plain floats.

    Keys: area_median (px), elongation_median (1 = round), speed_median (px/frame, centroid
    displacement between consecutive frames), turning_sd (rad, circular sd of heading changes),
    coverage (fraction of pixels in cells, frame 0), coverage_mean (over frames),
    cells_per_frame (mean), division_rate (divisions per cell and frame), track_length_median (frames),
    frames, height, width (px).
    """
    from masksynth.stats import sequence_stats

    st = sequence_stats(masks)

    def med(k: str) -> float:
        return float(np.median(st[k])) if st[k].size else float("nan")

    def mean(k: str) -> float:
        return float(np.mean(st[k])) if st[k].size else float("nan")

    t, h, w = masks.shape
    return {
        "area_median": med("area"), "elongation_median": med("elongation"), "speed_median": med("displacement"),
        "turning_sd": _circular_sd(st["turning"]),
        "coverage": float(st["coverage"][0]), "coverage_mean": mean("coverage"),
        "cells_per_frame": mean("cells_per_frame"), "division_rate": mean("division_rate"),
        "track_length_median": med("track_length"), "frames": float(t), "height": float(h), "width": float(w),
    }


def _circular_sd(angles: np.ndarray) -> float:
    """Circular standard deviation sqrt(-2 ln R) of angles (rad); NaN when there are none."""
    if angles.size == 0:
        return float("nan")
    r = float(np.abs(np.exp(1j * angles).mean()))
    return float(np.sqrt(-2.0 * np.log(min(max(r, 1e-6), 1.0))))


def _scaled_mask(mask: np.ndarray, scale: float) -> np.ndarray:
    import cv2

    h, w = mask.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    out = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
    return out if out.any() else np.ones((1, 1), bool)


def scale_profile(profile: DataProfile, scale: float) -> DataProfile:
    """The profile at another pixel scale (``scale`` new px per old px): shapes resized (area
    average >= 0.5), areas x scale**2 (with the division-area and area quantiles), speeds x scale (with the
    step-length and field-drift quantiles) and frame sizes x scale; rates, angles and elongations unchanged."""
    if scale == 1.0:
        return profile
    s, s2 = float(scale), float(scale) ** 2
    cfg = dict(profile.config)
    for key in ("mean_area", "division_min_area"):
        if cfg.get(key) is not None:
            cfg[key] = float(np.clip(cfg[key] * s2, 4.0 if key == "mean_area" else 2.0, 1e5))
    if cfg.get("speed_mean") is not None:
        cfg["speed_mean"] = float(cfg["speed_mean"] * s)
    for key in ("speed_quantiles", "drift_quantiles"):
        if cfg.get(key) is not None:
            cfg[key] = [float(v * s) for v in cfg[key]]
    for key, low in (("division_area_quantiles", 2.0), ("area_quantiles", 1.0)):
        if cfg.get(key) is not None:
            cfg[key] = [float(max(v * s2, low)) for v in cfg[key]]
    stats = dict(profile.stats)
    for key, f in (("area_median", s2), ("speed_median", s), ("height", s), ("width", s)):
        if key in stats:
            stats[key] = float(stats[key] * f)
    bank = ShapeBank([_scaled_mask(m, s) for m in profile.bank.masks], source=profile.bank.source)
    return DataProfile(bank=bank, config=cfg, stats=stats, meta={**profile.meta, "scale": s})


def profile_from_masks(masks: TrackedMasks, *, scale: float = 1.0, max_shapes: int = 300, seed: int = 0,
                       meta: dict[str, Any] | None = None) -> DataProfile:
    """Measure a real tracked sequence: shape bank (at most ``max_shapes`` cells, drawn evenly over
    frames with ``seed``), calibrated config (:func:`masksynth.calibrate.calibrate`, one refinement
    round) and summary statistics.

    masks: labels (T, Y, X) uint16 whose ids are linked over time (track ids) + lineage, at the
        data's pixel size. Needs at least 2 frames and some cells.
    scale: pixel scale of the profile relative to ``masks`` (e.g. a model's working scale, 0.6 =
        synthesized masks 0.6x the data's size); measured at the data's size, then converted
        (:func:`scale_profile`), so lineage and divisions are measured on the original masks.
    """
    from masksynth.calibrate import calibrate

    rng = np.random.default_rng(seed)
    cfg, _ = calibrate(masks, shapes=False, seed=seed)
    bank = ShapeBank.from_labels(masks.labels, max_shapes=max_shapes, source="profile", rng=rng)
    profile = DataProfile(bank=bank, config=cfg.to_dict(), stats=summary_stats(masks), meta=dict(meta or {}))
    return scale_profile(profile, scale)


def _json_ready(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _json_ready(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_ready(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def save_profile(path: str | Path, profile: DataProfile, *, extra: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``profile`` to ``path`` (.npz, compressed). ``extra``: more arrays to store beside it
    (e.g. a few real example frames); :func:`load_profile` returns them in ``meta["arrays"]``, and a
    loaded profile saved again keeps them (``extra`` wins on equal names)."""
    path = Path(path)
    meta = dict(profile.meta)
    extra = {**(meta.pop("arrays", None) or {}), **(extra or {})}
    doc = {"version": PROFILE_VERSION, "config": profile.config, "stats": profile.stats, "meta": meta,
           "bank_source": profile.bank.source}
    arrays = {f"bank_{k}": v for k, v in pack_masks(profile.bank.masks).items()}
    arrays.update({f"extra_{k}": np.asarray(v) for k, v in extra.items()})
    tmp = path.with_name(path.name + ".partial.npz")
    np.savez_compressed(tmp, profile=np.array(json.dumps(_json_ready(doc))), **arrays)
    tmp.replace(path)
    return path


def load_profile(path: str | Path) -> DataProfile:
    """Read a profile written by :func:`save_profile`. Extra arrays: ``meta["arrays"]`` (name -> array).
    Raises UserError naming the file for a missing or foreign file and an unknown version."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"data profile {path} does not exist")
    with np.load(path, allow_pickle=False) as z:
        if "profile" not in z.files:
            raise UserError(f"{path} is not a masksynth data profile (no 'profile' record); write one with save_profile")
        doc = json.loads(str(z["profile"]))
        if doc.get("version") != PROFILE_VERSION:
            raise UserError(f"{path}: data profile version {doc.get('version')!r}; this masksynth reads version {PROFILE_VERSION}")
        masks = unpack_masks(z["bank_bits"], z["bank_hw"], z["bank_offsets"])
        extra = {k[len("extra_"):]: z[k] for k in z.files if k.startswith("extra_")}
    stats = {k: (float("nan") if v is None else float(v)) for k, v in doc["stats"].items()}
    meta = {**doc.get("meta", {}), "arrays": extra}
    return DataProfile(bank=ShapeBank(masks, source=doc.get("bank_source", str(path))), config=doc["config"],
                       stats=stats, meta=meta)


def like_config(profile: DataProfile, *, size: tuple[int, int], frames: int, **overrides: Any) -> SynthConfig:
    """A :class:`SynthConfig` with the profile's calibrated shapes, motion and divisions for frames
    of ``size`` (H, W) px and ``frames`` frames; the first frame's coverage is the data's mean
    coverage (so the cell density, not the cell count, carries over). ``overrides``: fields that win (e.g. seed-free
    options the user set explicitly)."""
    carried = {k: v for k, v in profile.config.items() if k not in _NOT_CARRIED}
    coverage = profile.stats.get("coverage_mean", float("nan"))
    coverage = float(np.clip(coverage, 0.01, 0.85)) if np.isfinite(coverage) else None
    fields = {**carried, "size": tuple(int(v) for v in size), "frames": int(frames), "cells": None, "coverage": coverage}
    fields.update(overrides)
    if fields.get("cells") is not None:
        fields["coverage"] = None
    return SynthConfig.from_dict(fields)
