"""Helpers of the experiment scripts: step markers, the file logger, mean ± sd table cells."""

from __future__ import annotations

import json

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
