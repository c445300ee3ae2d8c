"""The model card of a shipped model: Markdown made from its registry entry and data profile."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["write_card", "figures_rows", "readme_row", "README_HEADER", "STAT_ROWS"]

#: profile statistic -> (label, unit) on the card's shape and motion table
STAT_ROWS: dict[str, tuple[str, str]] = {
    "area_median": ("cell area, median", "px²"),
    "elongation_median": ("elongation, median (1 = round)", ""),
    "speed_median": ("speed, median", "px/frame"),
    "turning_sd": ("turning, circular sd", "rad"),
    "coverage_mean": ("coverage, mean", "fraction"),
    "cells_per_frame": ("cells per frame, mean", ""),
    "division_rate": ("divisions per cell and frame", ""),
    "track_length_median": ("track length, median", "frames"),
}


def _num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    v = float(v)
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}g}"


def figures_rows(figures: dict[str, dict[str, float]]) -> list[str]:
    """Markdown table rows: metric | tGAN | painter | better | tGAN beats the painter."""
    from tgan_aug.pretrained.build import FIGURES

    rows = ["| metric (held-back frames, strict protocol) | tGAN | painter | better | tGAN wins |", "|---|---|---|---|---|"]
    for key, (_, better, digits) in FIGURES.items():
        fig = figures.get(key)
        if not fig:
            continue
        t, p = fig.get("tgan"), fig.get("painter")
        ok = "n/a" if t is None or p is None or not (math.isfinite(t) and math.isfinite(p)) else (
            "yes" if (t > p if better == "higher" else t < p) else "no")
        real = f" (real video: {_num(fig['real'], digits)})" if "real" in fig else ""
        rows.append(f"| {key}{real} | {_num(t, digits)} | {_num(p, digits)} | {better} | {ok} |")
    return rows


def _time_line(entry: dict[str, Any]) -> str:
    steps = entry.get("steps") or {}
    secs = entry.get("time") or {}
    parts = []
    for stage in ("lowres", "superres"):
        if stage in steps:
            s = secs.get(f"{stage}_s") if isinstance(secs, dict) else None
            parts.append(f"{stage} {steps[stage]} steps" + (f" in {float(s) / 60:.1f} min" if s else ""))
    total = sum(float(secs.get(f"{s}_s", 0) or 0) for s in ("lowres", "superres")) if isinstance(secs, dict) else 0
    device = secs.get("device") if isinstance(secs, dict) else None
    return "; ".join(parts) + (f" ({total / 60:.1f} min of training)" if total else "") + (f"; {device}" if device else "")


def _walk_lines(cfg: dict[str, Any]) -> list[str]:
    """The card's sentence on slow shape change (:mod:`masksynth.wander`), when calibration turned it on
    (cells that do not divide: ``area_quantiles`` / ``elongation_quantiles`` set); else no lines."""
    parts = [f"{key} (share kept by each cell {_num(cfg.get(key + '_cell_share'), 2)}, lag-1 correlation of the rest "
             f"{_num(cfg.get(key + '_corr'), 2)})" for key in ("area", "elongation") if cfg.get(key + "_quantiles")]
    if not parts:
        return []
    return ["", "Cells do not divide in this data, so each cell's " + " and ".join(parts)
            + " change slowly along its track (`masksynth.wander`, fitted by calibration)."]


def write_card(name: str, entry: dict[str, Any], profile, like: dict[str, float] | None = None) -> str:
    """The card's Markdown. entry: the registry entry (figures, steps, time, licence, ...);
    profile: the model's :class:`masksynth.profile.DataProfile`; like: summary statistics of
    masks synthesized with ``synth-masks --like NAME`` at the data's size (optional column)."""
    fig = entry.get("figures") or {}
    n_held = entry.get("heldback_frames", "?")
    cfg = profile.config
    lines = [
        f"# Model card: `{name}`", "",
        f"**Modality**: {entry.get('modality', '?')}. **Preset**: `{entry.get('preset', '?')}`; "
        f"{entry.get('size_mb', '?')} MB, sha256 `{entry.get('sha256', '?')}`.", "",
        "## Training data and licence", "",
        f"- Data: {entry.get('trained_on', '?')}",
        f"- Licence / terms: {entry.get('licence', '?')}",
        f"- Working scale: {entry.get('data_scale', 1.0):g} (model pixels per data pixel); the last "
        f"{entry.get('holdout', 0.15):g} of each sequence's frames were held back from training.",
        f"- Training: {_time_line(entry)}",
    ]
    if entry.get("command"):
        lines.append(f"- Command: `{entry['command']}` (recipe: `{entry.get('recipe', '')}`)")
    lines += [
        "", f"## Realism on held-back frames ({n_held} frames), against the painter", "",
        f"The model rendered the held-back frames' real masks (`render --temporal {entry.get('temporal', 'autoregressive')}`); the painter (`render --renderer painter`) was "
        "fitted on the training frames only and painted the same masks. Both compared with the real frames by "
        "`tgan_aug.metrics.evaluate_videos` (strict protocol: the data's intensity range, no per-frame min-max). "
        "Frame-parity is the 2-frame flicker index of the rendered video (real video in brackets; target <= 0.025).", "",
        *figures_rows(fig), "",
        f"![real | tGAN | painter]({entry.get('strip', name + '-strip.png')})", "",
        "Rows: real held-back frames, the tGAN rendering of their masks, the painter's.", "",
        "## Cell shapes and motion of the training data", "",
        f"At the model's working scale; tracks: {profile.meta.get('linking', 'as given')}. "
        f"The shape bank (`{entry.get('bank', '')}`) holds {len(profile.bank)} real cell masks; "
        f"`tgan-aug synth-masks --like {name}` draws cells from it with the calibrated motion below.", "",
    ]
    n_like = int(like.get("frames", 0)) if like else 0
    head = "| statistic | training data |" + (f" `--like` masks ({n_like} frames) |" if like else "")
    lines += [head, "|---|---|" + ("---|" if like else "")]
    for key, (label, unit) in STAT_ROWS.items():
        u = f" ({unit})" if unit else ""
        lines.append(f"| {label}{u} | {_num(profile.stats.get(key))} |" + (f" {_num(like.get(key))} |" if like else ""))
    lines += [
        "", "Calibrated synthesis parameters (`masksynth.calibrate`): "
        + ", ".join(f"{k} {_num(cfg.get(k))}" for k in ("mean_area", "area_cv", "speed_mean", "speed_cv", "turn_sd",
                                                      "division_rate", "min_division_age", "growth_rate") if k in cfg) + ".",
        *_walk_lines(cfg),
        "", "## Use", "", "```bash",
        f"tgan-aug synth-masks --like {name} --frames 20 --size 256x384 -o masks.zarr",
        f"tgan-aug render masks.zarr -o video.zarr --model {name}",
        f"tgan-aug demo out/ --model {name}", "```", "",
    ]
    return "\n".join(lines)


#: the README's "Shipped models" table header (one :func:`readme_row` per model)
README_HEADER = ("| name | modality | trained on | licence | size | strict SSIM tGAN / painter | "
                 "FID-DeepSea tGAN / painter | flicker (frame parity) tGAN / real |\n|---|---|---|---|---|---|---|---|")


def readme_row(name: str, entry: dict[str, Any]) -> str:
    """The README table row of a shipped model (figures on its held-back frames; trained-on text up to its first colon)."""
    fig = entry.get("figures") or {}

    def pair(key: str, a: str, b: str, digits: int) -> str:
        f = fig.get(key) or {}
        return f"{_num(f.get(a), digits)} / {_num(f.get(b), digits)}"

    return (f"| `{name}` | {entry.get('modality', '?')} | {str(entry.get('trained_on', '?')).split(':')[0]} | "
            f"{entry.get('licence', '?')} | {entry.get('size_mb', '?')} MB | {pair('SSIM (strict)', 'tgan', 'painter', 3)} | "
            f"{pair('FID-DeepSea', 'tgan', 'painter', 3)} | {pair('frame-parity', 'tgan', 'real', 2)} |")
