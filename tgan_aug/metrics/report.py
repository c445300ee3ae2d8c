"""Report writing: Markdown with a metric table, PNG panels (mask | real | fake | difference), plots, JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from masksynth.tracked import TrackedVideo
from tgan_aug.metrics.evaluate import EvalResult
from tgan_aug.metrics.plots import line_plot
from tgan_aug.metrics.registry import metric_specs
from tgan_aug.metrics.stability import change_from_start, relative_change


def _gray(frame: np.ndarray, data_range: tuple[float, float]) -> np.ndarray:
    lo, hi = data_range
    return np.clip((frame.astype(np.float32) - lo) / (hi - lo) * 255, 0, 255).astype(np.uint8)


def _label_colors(labels: np.ndarray) -> np.ndarray:
    """(Y, X) uint16 ids -> (Y, X, 3) uint8, a stable pseudo-random colour per id, black background."""
    ids = labels.astype(np.uint32)
    h = (ids * np.uint32(2654435761)) & np.uint32(0xFFFFFF)
    rgb = np.stack([(h >> 16) & 255, (h >> 8) & 255, h & 255], -1).astype(np.uint8) | np.uint8(64)
    rgb[ids == 0] = 0
    return rgb


def panel(real: TrackedVideo, fake: TrackedVideo, t: int, *, paired: bool, max_width: int = 2400) -> np.ndarray:
    """One frame side by side, BGR uint8: mask | real | fake | |real - fake| (paired), or
    real mask | real | fake mask | fake (unpaired). Intensities in REAL's range; the difference map
    shows 0 .. 25 % of the range with the magma colour map."""
    import cv2

    rng_ = real.intensity_range
    tf = min(t, fake.n_frames - 1)
    r = cv2.cvtColor(_gray(real.images[t], rng_), cv2.COLOR_GRAY2BGR)
    f = cv2.cvtColor(_gray(fake.images[tf], rng_), cv2.COLOR_GRAY2BGR)
    if paired:
        d = np.abs(real.images[t].astype(np.float32) - fake.images[t].astype(np.float32)) / (rng_[1] - rng_[0])
        diff = cv2.applyColorMap(np.clip(d / 0.25 * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_MAGMA)
        tiles = [_label_colors(real.labels[t]), r, f, diff]
    else:
        fm = _label_colors(fake.labels[tf])
        if fm.shape != r.shape:
            fm = cv2.resize(fm, (r.shape[1], r.shape[0]), interpolation=cv2.INTER_NEAREST)
            f = cv2.resize(f, (r.shape[1], r.shape[0]), interpolation=cv2.INTER_AREA)
        tiles = [_label_colors(real.labels[t]), r, fm, f]
    sep = np.full((r.shape[0], 4, 3), 255, np.uint8)
    out = np.concatenate([x for tile in tiles for x in (tile, sep)][:-1], axis=1)
    if out.shape[1] > max_width:
        s = max_width / out.shape[1]
        out = cv2.resize(out, (max_width, max(1, round(out.shape[0] * s))), interpolation=cv2.INTER_AREA)
    return out


def _cell(text: str) -> str:
    """Escape a Markdown table cell ("|" would end the cell)."""
    return text.replace("|", "\\|")


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _plots(res: EvalResult, folder: Path, stem: str) -> list[Path]:
    out = []
    pf = res.per_frame
    if "SSIM" in pf:
        out.append(line_plot({"SSIM": (range(len(pf["SSIM"])), pf["SSIM"])}, folder / f"{stem}_ssim.png", title="SSIM per frame", xlabel="frame", ylabel="SSIM"))
    if "DeepSea-perceptual" in pf:
        out.append(line_plot({"DeepSea-perceptual": (range(len(pf["DeepSea-perceptual"])), pf["DeepSea-perceptual"])}, folder / f"{stem}_perceptual.png",
                             title="DeepSea perceptual distance per frame", xlabel="frame", ylabel="distance"))
    if "warp-error-real" in pf:
        out.append(line_plot({"real": (range(1, len(pf["warp-error-real"]) + 1), pf["warp-error-real"]),
                              "fake": (range(1, len(pf["warp-error-fake"]) + 1), pf["warp-error-fake"])},
                             folder / f"{stem}_warp_error.png", title="warping error, frame t-1 -> t", xlabel="frame t", ylabel="error (range units)"))
    if "frame-parity-real" in pf:
        out.append(line_plot({side: (range(len(pf[f"frame-parity-{side}"])), pf[f"frame-parity-{side}"]) for side in ("real", "fake")},
                             folder / f"{stem}_frame_parity.png", title="frame parity |I_t - (I_t-1 + I_t+1)/2| per frame", xlabel="frame t",
                             ylabel="1-99 % range units"))
    if "drift_real" in res.curves:
        out += _drift_plots(res.curves["drift_real"], res.curves["drift_fake"], folder, stem)
    curve = res.curves.get("metric_vs_length")
    if curve:
        series = {k: (curve["length"], v) for k, v in curve.items() if k != "length"}
        out.append(line_plot(series, folder / f"{stem}_metric_vs_length.png", title="metric vs video length (first n frames)", xlabel="frames", ylabel="distance"))
    sp = res.spectra
    if "power_real" in sp:
        out.append(line_plot({"real": (sp["frequency"][1:], sp["power_real"][1:]), "fake": (sp["frequency"][1:], sp["power_fake"][1:])},
                             folder / f"{stem}_spectrum.png", title="radially averaged power spectrum", xlabel="cycles/pixel", ylabel="power (log10)", logy=True))
    if "quantiles_real" in sp:
        q = np.linspace(0, 1, len(sp["quantiles_real"]))
        out.append(line_plot({"real": (q, sp["quantiles_real"]), "fake": (q, sp["quantiles_fake"])}, folder / f"{stem}_intensity_quantiles.png",
                             title="intensity quantiles (range units)", xlabel="quantile", ylabel="intensity"))
    return out


def _drift_plots(real: dict[str, list[float]], fake: dict[str, list[float]], folder: Path, stem: str) -> list[Path]:
    """Drift figures (real vs fake, frame on x): cell and background intensity; relative change of the
    contrast, sharpness and centre-over-border sharpness; change of the centre-minus-border background intensity."""
    sides = {"real": real, "fake": fake}
    x = {side: d["frame"] for side, d in sides.items()}
    intensity = {f"{side} {what}": (x[side], d[key]) for side, d in sides.items() for key, what in (("cell", "cells"), ("background", "background"))}
    rel = {f"{side} {key.replace('_', ' ')}": (x[side], relative_change(d[key])) for key in ("contrast", "sharpness", "centre_sharpness") for side, d in sides.items()}
    centre = {side: (x[side], change_from_start(d["centre_intensity"])) for side, d in sides.items()}
    return [
        line_plot(intensity, folder / f"{stem}_drift_intensity.png", title="mean intensity inside cells and in background", xlabel="frame", ylabel="range units"),
        line_plot(rel, folder / f"{stem}_drift_relative.png", title="relative change from the first 3 frames", xlabel="frame", ylabel="fraction"),
        line_plot(centre, folder / f"{stem}_drift_centre.png", title="centre - border background intensity, change from start", xlabel="frame",
                  ylabel="range units"),
    ]


def write_report(
    out_dir: str | Path,
    pairs: list[tuple[str, TrackedVideo, TrackedVideo, EvalResult]],
    *,
    real_source: str,
    fake_source: str,
    panel_frames: int = 3,
) -> Path:
    """Write ``report.md``, ``metrics.json``, ``panels/*.png`` and ``plots/*.png`` under ``out_dir``.

    pairs: (name, real, fake, result) per evaluated sequence pair. Returns the path of report.md.
    """
    import cv2

    out = Path(out_dir)
    (out / "panels").mkdir(parents=True, exist_ok=True)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    lines = ["# tgan-aug realism report", "", f"- REAL: `{real_source}`", f"- FAKE: `{fake_source}`", ""]
    for name, real, fake, res in pairs:
        specs = metric_specs(clip_length=res.info["config"]["clip_length"])
        stem = name.replace("/", "_").replace(":", "_")
        lines += [f"## {name}", "", f"paired: {res.info['paired']}; protocol: {res.info['protocol']}; REAL {tuple(res.info['real_shape'])}, "
                  f"FAKE {tuple(res.info['fake_shape'])}; data range {res.info['data_range']}", ""]
        painter = res.info.get("painter_baseline")
        extra = ["painter (fitted on REAL)"] if painter is not None else []
        lines += ["| " + " | ".join(["metric", "value", *extra, "better", "family", "what it is"]) + " |",
                  "|---" * (5 + len(extra)) + "|"]
        for key, val in res.metrics.items():
            s = specs.get(key)
            base = [_fmt(painter.get(key))] if painter is not None else []
            cells = [key, _fmt(val), *base, s.better if s else "", s.family if s else "", _cell(s.description) if s else ""]
            lines.append("| " + " | ".join(cells) + " |")
        base = res.info.get("real_halves_baseline")
        if base:
            lines += ["", "For scale, REAL's first half against its second half (fewer frames, different moments): "
                      + ", ".join(f"{k} {_fmt(v)}" for k, v in base.items())]
        if res.mask_stats:
            lines += ["", "| mask statistic (range units) | real | fake |", "|---|---|---|"]
            for k in res.mask_stats["real"]:
                lines.append(f"| {k} | {_fmt(res.mask_stats['real'][k])} | {_fmt(res.mask_stats['fake'][k])} |")
        if res.notes:
            lines += ["", "Notes:", *[f"- {n}" for n in res.notes]]
        frames = sorted({int(round(x)) for x in np.linspace(0, real.n_frames - 1, min(panel_frames, real.n_frames))})
        lines += ["", "Panels: " + ("mask | real | fake | |real - fake| (0 to 25 % of the range)" if res.info["paired"] else "real mask | real | fake mask | fake"), ""]
        for t in frames:
            p = out / "panels" / f"{stem}_t{t:04d}.png"
            if not cv2.imwrite(str(p), panel(real, fake, t, paired=res.info["paired"])):
                raise OSError(f"could not write {p}")
            lines.append(f"![frame {t}](panels/{p.name})")
        plots = _plots(res, out / "plots", stem)
        if plots:
            lines += ["", "Plots:", ""] + [f"![{p.stem}](plots/{p.name})" for p in plots]
        lines.append("")
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    (out / "metrics.json").write_text(json.dumps(results_json(pairs, real_source=real_source, fake_source=fake_source), indent=2) + "\n")
    return report


def results_json(pairs: list[tuple[str, TrackedVideo, TrackedVideo, EvalResult]], *, real_source: str, fake_source: str) -> dict[str, Any]:
    """The machine-readable result: {"real", "fake", "format_version", "sequences": {name: EvalResult.to_dict()}}."""
    return {"format_version": 1, "real": real_source, "fake": fake_source, "sequences": {name: res.to_dict() for name, _, _, res in pairs}}
