"""Fixtures for the training tests: a small TIFF pair (images + labels) written under tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch


def write_pair(folder: Path, tracked, *, seed: int = 0) -> str:
    """Write ``img.tif`` (uint16: dim noisy background, bright cells) and ``mask.tif``; returns 'img:mask'."""
    import tifffile

    rng = np.random.default_rng(seed)
    lab = tracked.labels
    yy, xx = np.mgrid[: lab.shape[1], : lab.shape[2]]
    background = 800 + 300 * np.sin(yy / 9.0) * np.cos(xx / 13.0)  # structured, so "no cells" is testable
    img = background[None] + 150 * rng.standard_normal(lab.shape) + 3000 * (lab > 0)
    folder.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(folder / "img.tif", np.clip(img, 0, 65535).astype(np.uint16))
    tifffile.imwrite(folder / "mask.tif", lab)
    return f"{folder / 'img.tif'}:{folder / 'mask.tif'}"


@pytest.fixture
def tiff_pair(tmp_path, tracked_factory) -> str:
    """'IMAGES.tif:MASKS.tif' of an 8-frame 80x96 sequence with three cells and one division."""
    return write_pair(tmp_path / "data", tracked_factory(frames=8, height=80, width=96, seed=1))


@pytest.fixture(autouse=True)
def _one_thread():
    """Training tests share two cores with everyone: one intra-op thread, restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
