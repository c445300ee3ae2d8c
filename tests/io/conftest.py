"""I/O test helpers: small videos built in memory and CTC folders written by hand with tifffile.

The hand-written folders do not use tgan_aug.io, so readers are tested against an independent writer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from masksynth import TrackedMasks, TrackedVideo


def make_video(masks: TrackedMasks, *, dtype=np.uint8, seed: int = 0) -> TrackedVideo:
    """Random images (T, Y, X) of ``dtype`` over ``masks``: cells brighter than background."""
    rng = np.random.default_rng(seed)
    hi = 255 if np.dtype(dtype) == np.uint8 else 4000
    img = rng.integers(0, hi // 2, size=masks.shape) + (masks.labels > 0) * (hi // 2)
    return TrackedVideo(masks, img.astype(dtype), provenance={"made_by": "tests"})


def write_ctc_by_hand(
    root: Path,
    labels: np.ndarray,
    *,
    lineage: np.ndarray | None = None,
    images: np.ndarray | None = None,
    sequence: str = "01",
    truth: str = "GT",
    kind: str = "TRA",
    digits: int = 3,
    frames: list[int] | None = None,
) -> Path:
    """Write a CTC sequence with plain tifffile calls; returns the dataset folder ``root``.

    lineage: written as man_track.txt (TRA only) when given. frames: which frame numbers get a
    mask file (default all).
    """
    folder = root / f"{sequence}_{truth}" / kind
    folder.mkdir(parents=True, exist_ok=True)
    stem = "man_track" if kind == "TRA" else "man_seg"
    for t in frames if frames is not None else range(labels.shape[0]):
        tifffile.imwrite(folder / f"{stem}{t:0{digits}d}.tif", labels[t], photometric="minisblack")
    if lineage is not None:
        (folder / "man_track.txt").write_text("".join(f"{a} {b} {c} {d}\n" for a, b, c, d in np.asarray(lineage).tolist()))
    if images is not None:
        (root / sequence).mkdir(parents=True, exist_ok=True)
        for t in range(images.shape[0]):
            tifffile.imwrite(root / sequence / f"t{t:0{digits}d}.tif", images[t], photometric="minisblack")
    return root


@pytest.fixture
def video(tracked) -> TrackedVideo:
    """A small TrackedVideo (6 x 48 x 64, uint8 images, one division)."""
    return make_video(tracked)


@pytest.fixture
def ctc_dir(tmp_path, video) -> Path:
    """A CTC dataset folder written by hand: 01/t000.tif.. + 01_GT/TRA with man_track.txt."""
    return write_ctc_by_hand(tmp_path / "ds", video.labels, lineage=video.lineage, images=video.images)


@pytest.fixture
def video_maker():
    """:func:`make_video`: TrackedVideo with random images over given masks (dtype=, seed=)."""
    return make_video


@pytest.fixture
def ctc_writer():
    """:func:`write_ctc_by_hand`: write a CTC sequence with plain tifffile calls."""
    return write_ctc_by_hand
