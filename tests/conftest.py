"""Shared fixtures: small seeded tracked sequences built in memory, and the optional shared data.

Tests write only under ``tmp_path`` and never use the network.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from masksynth import TrackedMasks

REPO = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path | None:
    env = os.environ.get("TGAN_AUG_SHARED_DATA")
    if env:
        return Path(env)
    default = REPO.parent / "shared" / "data"
    return default if default.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real shared data (``TGAN_AUG_SHARED_DATA`` or ``../shared/data``); skips with a reason when absent."""
    path = _shared_data_dir()
    if path is None or not path.is_dir():
        pytest.skip(
            "real shared data not found: set TGAN_AUG_SHARED_DATA to the folder holding "
            "bacteria-phc/ and PhC-C2DL-PSC/ (../shared/data next to the repository)"
        )
    return path


def make_tracked(
    *, frames: int = 6, height: int = 48, width: int = 64, seed: int = 0, divide_at: int | None = 3
) -> TrackedMasks:
    """A small valid sequence: three square cells drifting right; cell 1 divides into 4 and 5.

    labels: (frames, height, width) uint16. With ``divide_at=t`` the mother (id 1) ends at t-1 and
    daughters 4 and 5 (parent 1) start at t. Deterministic for a given seed (seed jitters the start).
    """
    rng = np.random.default_rng(seed)
    labels = np.zeros((frames, height, width), dtype=np.uint16)
    starts = {1: (8, 6), 2: (28, 6), 3: (8, 36)}
    jitter = rng.integers(0, 3, size=2)
    rows: dict[int, list[int]] = {}
    for t in range(frames):
        dx = t + int(jitter[1])
        for tid, (y, x) in starts.items():
            if tid == 1 and divide_at is not None and t >= divide_at:
                labels[t, y : y + 4, x + dx : x + dx + 6] = 4
                labels[t, y + 6 : y + 10, x + dx : x + dx + 6] = 5
                for d in (4, 5):
                    rows.setdefault(d, [d, t, t, 1])[2] = t
                continue
            yy = y + int(jitter[0])
            labels[t, yy : yy + 10, x + dx : x + dx + 6] = tid
            rows.setdefault(tid, [tid, t, t, 0])[2] = t
    lineage = np.array(sorted(rows.values()), dtype=np.int64)
    return TrackedMasks(labels, lineage)


@pytest.fixture
def run_cli(capsys):
    """``run_cli(args)``: run ``tgan-aug ARGS`` through the real entry point (``main``, which exits);
    returns (exit code, stdout, stderr)."""
    from tgan_aug.cli import main

    def run(args: list[str]) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            main(list(args))
        out, err = capsys.readouterr()
        return int(info.value.code or 0), out, err

    return run


@pytest.fixture
def tracked() -> TrackedMasks:
    """A small valid :class:`TrackedMasks` with one division (see :func:`make_tracked`)."""
    return make_tracked()


@pytest.fixture
def tracked_factory():
    """The :func:`make_tracked` builder, for tests that need other sizes or seeds."""
    return make_tracked


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` skip, saying why, on machines without CUDA (CI has none)."""
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device; none is available on this machine")
    for item in gpu_items:
        item.add_marker(skip)
