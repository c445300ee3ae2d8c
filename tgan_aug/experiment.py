"""What every experiment script (``recipes/``) needs besides its experiment: resumable steps,
a log file, and mean ± sd cells for result tables."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["step_done", "mark_step_done", "file_logger", "mean_sd", "format_mean_sd", "with_overrides", "run_jobs", "fold_job"]


def step_done(marker: str | Path) -> bool:
    """Whether a step finished: its marker file (written by :func:`mark_step_done` last) exists."""
    return Path(marker).is_file()


def mark_step_done(marker: str | Path, info: dict[str, Any] | None = None) -> None:
    """Write a step's marker file (JSON ``info``); call it after everything the step writes."""
    marker = Path(marker)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(info or {}, indent=2, default=str))


def file_logger(logfile: str | Path) -> Callable[[str], None]:
    """``log(msg)``: print a time-stamped line and append it to ``logfile``."""
    logfile = Path(logfile)
    logfile.parent.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        with open(logfile, "a") as fh:
            fh.write(line + "\n")

    return log


def mean_sd(values: Sequence[float | None]) -> tuple[float, float, int]:
    """(mean, sample sd (ddof=1; 0 for one value), n) of the finite values; None and NaN are left out."""
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, int(v.size)


def format_mean_sd(mean: float, sd: float, n: int, *, digits: int = 3, missing: str = "n/a") -> str:
    """A table cell: ``"m ± s"`` for n > 1, ``"m"`` for one value, ``missing`` for none."""
    if n == 0 or not np.isfinite(mean):
        return missing
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"


def with_overrides(profile: Any, overrides: Sequence[str]) -> Any:
    """A copy of the dataclass ``profile`` with ``--set KEY=VALUE`` overrides applied.

    VALUE is JSON (``steps=600``, ``ratio=0.5``, ``crop=[96, 96]``, ``limit=null``), or the plain
    text for a text field (``preset=small`` or ``preset="small"``); it is converted to the field's
    current type (a JSON list to a tuple for a tuple field). An unknown KEY exits with an error that
    lists the fields.
    """
    import dataclasses

    profile = dataclasses.replace(profile)
    for item in overrides:
        key, _, raw = item.partition("=")
        if not hasattr(profile, key):
            raise SystemExit(f"error: --set {item}: unknown profile field {key!r}; fields: {', '.join(dataclasses.asdict(profile))}")
        current = getattr(profile, key)
        if isinstance(current, str) and not raw.startswith('"'):
            value: Any = raw
        else:
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                raise SystemExit(f"error: --set {item}: {raw!r} is not a JSON value (e.g. 600, 0.5, [96, 96], null)") from None
            if current is not None and value is not None:
                value = tuple(value) if isinstance(current, tuple) else type(current)(value)
        setattr(profile, key, value)
    return profile


def run_jobs(worker: Callable[[dict[str, Any]], str], jobs: Sequence[dict[str, Any]], n_jobs: int = 1) -> float:
    """Run ``worker(job)`` for every job, in ``n_jobs`` spawned processes when > 1 (``worker`` must be
    a module-level function), printing each returned message as it comes. Returns the seconds taken.

    A SIGTERM to this process (``kill PID``) ends the worker processes too: it is turned into
    ``SystemExit``, so the pool is terminated on the way out (by default the workers would be left
    running, unseen, using the CPU)."""
    t0 = time.time()
    if n_jobs > 1:
        import multiprocessing as mp
        import signal
        import threading

        def stop(signum: int, frame: Any) -> None:
            raise SystemExit(f"stopped by signal {signum}")

        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, stop) if main else None
        try:
            with mp.get_context("spawn").Pool(n_jobs) as pool:
                for msg in pool.imap_unordered(worker, jobs):
                    print(msg, flush=True)
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous)
    else:
        for job in jobs:
            print(worker(job), flush=True)
    seconds = time.time() - t0
    print(f"total {seconds:.0f} s", flush=True)
    return seconds


def fold_job(run_fold: Callable[..., Any], job: dict[str, Any]) -> str:
    """One (dataset, fold) job of a recipe: ``run_fold(log=..., **job)`` with ``job["threads"]`` torch
    threads, logging to ``work/<profile_name>/log-<dataset>-fold<k>.txt``. A failure returns a
    FAILED message (traceback in the log) so that the other folds go on. For :func:`run_jobs`:
    ``functools.partial(fold_job, run_fold)`` with a module-level ``run_fold``."""
    import traceback

    import torch

    job = dict(job)
    torch.set_num_threads(job.pop("threads"))
    logfile = Path(job["work"]) / job["profile_name"] / f"log-{job['dataset']}-fold{job['fold']}.txt"
    log = file_logger(logfile)
    try:
        run_fold(log=log, **job)
        return f"{job['dataset']} fold {job['fold']}: ok"
    except Exception:  # one failing fold must not stop the others
        log(traceback.format_exc())
        return f"{job['dataset']} fold {job['fold']}: FAILED (see {logfile})"
