"""One command to a usable model: low-res stage, super-res stage, one model file, a quality verdict.

:func:`plan_stages` resolves both stages' configurations (what ``tgan-aug train --dry-run`` prints);
:func:`train_model` runs them into one run folder::

    RUN/
      run.json            what was asked (written first: marks the folder as a tgan-aug train run)
      stages/00000-lowres-<preset>/, stages/00001-superres-<preset>/   the two stage runs (see loop.train)
      model.pt            both EMA generators, configs, data statistics: what ``render --checkpoint`` takes
      quality.json        the final quality check of model.pt on held-back frames (values, verdict, advice) and
                          the carry-over and track smoothing fitted on them (:mod:`tgan_aug.render.temporal_fit`, stored in model.pt)
      quality.png         masks | real | rendered held-back frames, titled with the verdict
      summary.md          written last: steps, time, verdict, what to do, how to render

Time: ``minutes`` is the training budget; ``split`` of it goes to the low-res stage, the rest to
super-res (each stage's ``max_minutes``). Reading data and the quality checks come on top.
An interrupted run has no ``summary.md`` (and no ``model.pt`` before both stages finished).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tgan_aug.errors import UserError
from tgan_aug.render.temporal_fit import TemporalFit
from tgan_aug.training.config import NO_STEP_LIMIT, TrainConfig
from tgan_aug.training.quality import QualityReport, QualityThresholds, polarity

__all__ = ["plan_stages", "train_model", "ModelRun", "NO_CELLS_EXIT_CODE"]

#: exit code of ``tgan-aug train`` when the finished model draws no cells
NO_CELLS_EXIT_CODE = 3


@dataclass
class ModelRun:
    """What :func:`train_model` made: the run folder, the model file and the quality report."""

    run_dir: Path
    model: Path
    report: QualityReport
    stage_dirs: dict[str, Path]

    @property
    def exit_code(self) -> int:
        """0, or :data:`NO_CELLS_EXIT_CODE` when the model draws no cells."""
        return NO_CELLS_EXIT_CODE if self.report.no_cells else 0


def _override_keys(overrides: list[str] | tuple[str, ...]) -> set[str]:
    return {item.split("=", 1)[0].strip() for item in overrides}


def plan_stages(
    preset: str = "small",
    *,
    seed: int = 0,
    minutes: float | None = None,
    split: float = 2 / 3,
    lo_steps: int | None = None,
    sr_steps: int | None = None,
    size: tuple[int, int] | None = None,
    holdout: float = 0.15,
    overrides: list[str] | tuple[str, ...] = (),
    sources: list | None = None,
    init: str | None = None,
) -> dict[str, TrainConfig]:
    """The resolved configurations of both stages: {"lowres": cfg, "superres": cfg}.

    minutes: training budget in minutes for both stages (None = no time limit); the low-res stage
        gets ``split`` of it. With a budget and no step count, steps are unlimited.
    lo_steps, sr_steps: step limits (None = the preset's, or unlimited under ``minutes``).
    size: (H, W) output frame size in pixels at working resolution (low-res = half); None = preset.
    holdout: fraction of each sequence's last frames held back for the quality check.
    overrides: ``KEY=VALUE`` strings applied to both stages (``--set``).
    sources: the data (``read_sources``); when given and ``deepsea_invert`` is not overridden, it is
        set from the data's polarity (DeepSea's features expect dark cells on a bright background).
    init: fine-tune from a shipped model NAME or a model file (``--init``): both stages start from it.
    The super-res config's ``lowres_checkpoint`` is filled in by :func:`train_model`.
    """
    if not 0.0 < split < 1.0:
        raise UserError(f"--split {split}: the low-res share of --minutes must be between 0 and 1 (e.g. 0.67)")
    if minutes is not None and minutes <= 0:
        raise UserError(f"--minutes {minutes}: give a positive training budget in minutes")
    keys = _override_keys(overrides)
    extra: list[str] = [f"holdout={holdout}"]
    if init is not None:
        from tgan_aug.pretrained import resolve_model

        extra.append(f"init_checkpoint={resolve_model(init, flag='--init')}")
    if size is not None:
        h, w = size
        if h % 2 or w % 2:
            raise UserError(f"--size {h}x{w}: height and width must be even (the low-res stage is half the size)")
        extra.append(f"model.lowres_size=[{h // 2}, {w // 2}]")
        extra.append(f"model.out_size=[{h}, {w}]")
    if sources is not None and "deepsea_invert" not in keys:
        bright = polarity([s[1] for s in sources], [s[2] for s in sources]) > 0
        extra.append(f"deepsea_invert={'true' if bright else 'false'}")
    out = {}
    for stage, steps, share in (("lowres", lo_steps, split), ("superres", sr_steps, 1.0 - split)):
        cfg = TrainConfig.preset(preset, stage=stage, seed=seed).with_overrides(extra + list(overrides))
        if minutes is not None:
            cfg.max_minutes = round(float(minutes) * share, 4)
            if steps is None and "max_steps" not in keys:
                cfg.max_steps = NO_STEP_LIMIT
        if steps is not None:
            cfg.max_steps = int(steps)
        cfg.validate()
        out[stage] = cfg
    return out


def _prepare_run_dir(run: Path, overwrite: bool) -> None:
    if run.exists() and (not run.is_dir() or any(run.iterdir())):
        if not overwrite:
            raise UserError(f"-o {run} exists and is not empty; choose a new folder or add --overwrite")
        if not (run / "run.json").is_file():
            raise UserError(f"-o {run} is not a 'tgan-aug train' run folder (no run.json); --overwrite only replaces those")
        shutil.rmtree(run)
    run.mkdir(parents=True, exist_ok=True)


def _fit_temporal(model: Path, held_sources: list, *, seed: int, device: str, log) -> "TemporalFit | str":
    """Carry-over and track smoothing fitted on the held-back frames, or why they were not (the model
    then renders with the defaults): too few cells followed over two frames, or masks not linked over time."""
    from tgan_aug.render.temporal_fit import fit_temporal

    try:
        fit = fit_temporal(model, held_sources, seed=seed, device=device)
    except UserError as exc:
        log(f"carry-over and track smoothing not fitted ({exc}); the model renders with the defaults")
        return str(exc)
    log(f"fitted on {fit.frames} held-back frames: carry-over alpha {fit.carry_over:g}, track smoothing beta "
        f"{fit.track_smoothing:g}")
    return fit


def _summary(run: Path, data: str, stage_dirs: dict[str, Path], report: QualityReport, seconds: float, model: Path,
             temporal: "TemporalFit | str") -> str:
    lines = [f"# tgan-aug train: {run.name}", "", f"- data: `{data}`", f"- model: `{model}` (both generators, EMA weights)",
             f"- wall time: {seconds / 60:.1f} min"]
    for stage, d in stage_dirs.items():
        s = json.loads((d / "summary.json").read_text())
        lines.append(f"- {stage}: {s['step']} steps in {s['seconds'] / 60:.1f} min (`{d.relative_to(run)}`)")
        if (d / "quality.json").is_file():  # the stage's own check (low-res stage: at low resolution)
            lines.append(f"  - its check: {json.loads((d / 'quality.json').read_text())['verdict']}")
    lines += ["", "## Quality check (held-back frames)", "", f"**{report.verdict()}**", "", "| measure | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4g} |" for k, v in report.values.items()]
    if isinstance(temporal, TemporalFit):
        i, j = temporal.alphas.index(temporal.carry_over), temporal.betas.index(temporal.track_smoothing)
        lines += ["", f"Render defaults fitted on {temporal.frames} held-back frames: carry-over alpha "
                      f"{temporal.carry_over:g} (warping error: real {temporal.warp_real:.4f}, rendered "
                      f"{temporal.warp_rendered[i]:.4f}, without it {temporal.warp_rendered[0]:.4f}), track smoothing beta "
                      f"{temporal.track_smoothing:g} (cells' track flicker: real {temporal.flicker_real:.4f}, rendered "
                      f"{temporal.flicker_rendered[j]:.4f}, without it {temporal.flicker_rendered[0]:.4f})."]
    else:
        lines += ["", f"Carry-over and track smoothing: not fitted ({temporal}); renders use the defaults."]
    lines += ["", "Render with it:", "", "```bash", f"tgan-aug render MASKS -o video.zarr --checkpoint {model}", "```", ""]
    return "\n".join(lines)


def train_model(
    data: str | Path,
    run_dir: str | Path,
    *,
    preset: str = "small",
    minutes: float | None = None,
    split: float = 2 / 3,
    lo_steps: int | None = None,
    sr_steps: int | None = None,
    size: tuple[int, int] | None = None,
    holdout: float = 0.15,
    overrides: list[str] | tuple[str, ...] = (),
    sequence: str | None = None,
    device: str = "auto",
    seed: int = 0,
    workers: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    thresholds: QualityThresholds | None = None,
    init: str | None = None,
    log=print,
) -> ModelRun:
    """Train both stages on ``data`` into ``run_dir`` and write ``run_dir/model.pt``; check its quality.

    Options as in :func:`plan_stages`; ``log`` gets the progress lines and the verdict.
    Returns a :class:`ModelRun`; ``exit_code`` is non-zero when the model draws no cells.
    """
    from tgan_aug.device import resolve_device
    from tgan_aug.training.checkpoint import (image_stats_from_checkpoint, merge_checkpoint_files, save_checkpoint,
                                              with_temporal_fit)
    from tgan_aug.training.data import read_sources, split_holdout
    from tgan_aug.training.loop import train as train_stage
    from tgan_aug.training.quality_check import model_quality, prepare_held_out, save_quality_grid

    if holdout <= 0:
        raise UserError("--holdout must be > 0: the quality check needs held-back frames")
    t0 = time.time()
    run = Path(run_dir)
    sources = read_sources(data, sequence=sequence)
    cfgs = plan_stages(preset, seed=seed, minutes=minutes, split=split, lo_steps=lo_steps, sr_steps=sr_steps, size=size,
                       holdout=holdout, overrides=overrides, sources=sources, init=init)
    dev = resolve_device(device)
    _prepare_run_dir(run, overwrite)
    asked: dict[str, Any] = {"data": str(data), "preset": preset, "minutes": minutes, "split": split, "lo_steps": lo_steps,
                             "sr_steps": sr_steps, "size": list(size) if size else None, "holdout": holdout,
                             "overrides": list(overrides), "sequence": sequence, "seed": seed, "device": str(dev),
                             "init": cfgs["lowres"].init_checkpoint or None}
    (run / "run.json").write_text(json.dumps(asked, indent=2) + "\n", encoding="utf-8")

    stage_dirs: dict[str, Path] = {}
    for stage in ("lowres", "superres"):
        cfg = cfgs[stage]
        if stage == "superres":
            cfg.lowres_checkpoint = str(stage_dirs["lowres"] / "checkpoint.pt")
        budget = f"{cfg.max_minutes:g} min" if cfg.max_minutes > 0 else "no time limit"
        steps = "no step limit" if cfg.max_steps >= NO_STEP_LIMIT else f"{cfg.max_steps} steps"
        log(f"stage {stage}: {budget}, {steps}")
        stage_dirs[stage] = train_stage(cfg, data=data, out_dir=run / "stages", device=str(dev), workers=workers,
                                        progress=progress, sources=sources)

    tmp = run / "model.pt.partial"
    ckpt = merge_checkpoint_files(stage_dirs["lowres"] / "checkpoint.pt", stage_dirs["superres"] / "checkpoint.pt")
    save_checkpoint(tmp, ckpt)
    held_sources = split_holdout(sources, holdout)[1]
    temporal = _fit_temporal(tmp, held_sources, seed=seed, device=str(dev), log=log)
    if isinstance(temporal, TemporalFit):
        save_checkpoint(tmp, with_temporal_fit(ckpt, temporal))
    backgrounds = {str(k): v.float().numpy() for k, v in ckpt["data"]["backgrounds"].items()}
    held = prepare_held_out(held_sources, cfgs["lowres"], image_stats_from_checkpoint(ckpt), backgrounds)
    report, arrays = model_quality(tmp, held, seed=seed, device=dev, thresholds=thresholds)
    model = run / "model.pt"
    tmp.replace(model)
    fit_record = temporal.to_dict() if isinstance(temporal, TemporalFit) else {"not_fitted": temporal}
    (run / "quality.json").write_text(json.dumps({"frames": held.n_frames, "sequences": held.names, **report.to_dict(),
                                                  "temporal": fit_record}, indent=2) + "\n", encoding="utf-8")
    save_quality_grid(run / "quality.png", report, arrays, label="model.pt on held-back frames")
    (run / "summary.md").write_text(_summary(run, str(data), stage_dirs, report, time.time() - t0, model, temporal),
                                    encoding="utf-8")
    return ModelRun(run, model, report, stage_dirs)
