"""Helpers of the experiment scripts: step markers, the file logger, mean ± sd table cells."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tgan_aug.experiment import file_logger, format_mean_sd, mark_step_done, mean_sd, step_done


def test_step_markers(tmp_path):
    marker = tmp_path / "work" / "fold.zarr.done"
    assert not step_done(marker)
    mark_step_done(marker, {"frames": 3})
    assert step_done(marker) and json.loads(marker.read_text()) == {"frames": 3}


def test_file_logger_prints_and_appends(tmp_path, capsys):
    log = file_logger(tmp_path / "logs" / "run.txt")
    log("first")
    log("second")
    lines = (tmp_path / "logs" / "run.txt").read_text().splitlines()
    assert [ln.split(" ", 1)[1] for ln in lines] == ["first", "second"]
    assert capsys.readouterr().out.splitlines() == lines


def test_mean_sd_leaves_out_missing_values_and_formats_cells():
    m, s, n = mean_sd([1.0, None, 2.0, float("nan"), 3.0])
    assert (m, n) == (2.0, 3) and s == pytest.approx(1.0)  # sample sd (ddof=1)
    assert mean_sd([0.5]) == (0.5, 0.0, 1)
    assert mean_sd([None, float("nan")])[2] == 0
    assert format_mean_sd(m, s, n) == "2.000 ± 1.000"
    assert format_mean_sd(12.345, 0.5, 2, digits=2) == "12.35 ± 0.50"  # noqa: RUF001
    assert format_mean_sd(0.5, 0.0, 1) == "0.500"
    assert format_mean_sd(*mean_sd([]), missing="-") == "-" and format_mean_sd(np.nan, np.nan, 0) == "n/a"


def test_profile_overrides_keep_field_types_and_name_unknown_fields():
    from dataclasses import dataclass

    from tgan_aug.experiment import with_overrides

    @dataclass
    class P:
        steps: int = 10
        ratio: float = 0.5
        preset: str = "tiny"

    base = P()
    got = with_overrides(base, ["steps=600", "ratio=1", "preset=small"])
    assert got == P(600, 1.0, "small") and isinstance(got.ratio, float) and base == P()
    with pytest.raises(SystemExit, match="--set stpes=3: unknown profile field 'stpes'; fields: steps, ratio, preset"):
        with_overrides(base, ["stpes=3"])

    @dataclass
    class Q:
        crop: tuple = (64, 64)
        limit: int | None = None
        mode: str = "fold"

    assert with_overrides(Q(), ["crop=[96, 128]", "limit=5", 'mode="auto"']) == Q((96, 128), 5, "auto")
    assert with_overrides(Q(limit=5), ["limit=null"]).limit is None
    with pytest.raises(SystemExit, match="not a JSON value"):
        with_overrides(Q(), ["limit=five"])


def _square(job):
    return f"{job['x']} -> {job['x'] ** 2}"


def test_run_jobs_prints_every_message_serial_and_in_processes(capsys):
    from tgan_aug.experiment import run_jobs

    for n_jobs in (1, 2):
        run_jobs(_square, [{"x": 2}, {"x": 3}], n_jobs)
        lines = capsys.readouterr().out.splitlines()
        assert sorted(lines[:2]) == ["2 -> 4", "3 -> 9"] and lines[2].startswith("total ")


def _fails(*, log, **job):
    log("started")
    raise RuntimeError("boom")


def test_fold_job_logs_a_failure_and_returns_failed(tmp_path):
    from tgan_aug.experiment import fold_job

    job = {"threads": 1, "work": str(tmp_path), "profile_name": "smoke", "dataset": "psc", "fold": 2}
    msg = fold_job(_fails, job)
    log = (tmp_path / "smoke" / "log-psc-fold2.txt").read_text()
    assert msg.startswith("psc fold 2: FAILED") and "RuntimeError: boom" in log and job["threads"] == 1


def _live(pid: int) -> bool:
    """The process exists and is not a zombie (Linux /proc)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and _live(int(stat.parent.name)):
            out.append(int(stat.parent.name))
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux /proc to find child processes")
def test_run_jobs_killed_with_sigterm_ends_its_workers():
    """`kill PID` on a recipe running folds in processes stops the workers too (they used to keep
    running, unseen, after the parent died)."""
    import signal
    import subprocess
    import sys
    import time

    code = "import time; from tgan_aug.experiment import run_jobs; run_jobs(time.sleep, [120, 120], 2)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    workers: list[int] = []
    try:
        deadline = time.time() + 60
        while len(workers) < 2 and time.time() < deadline:
            time.sleep(0.2)
            workers = _children(proc.pid)
        assert len(workers) >= 2, "the pool's workers did not start"
        time.sleep(1.0)  # the workers are inside time.sleep
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) != 0
        deadline = time.time() + 30
        while any(_live(w) for w in workers) and time.time() < deadline:
            time.sleep(0.2)
        assert not [w for w in workers if _live(w)], "the workers outlived their parent"
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in workers:
            if _live(w):
                os.kill(w, signal.SIGKILL)
