"""Tiny segmentation data: dark (or bright) discs on a noisy background, some touching."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from masksynth.tracked import TrackedMasks, TrackedVideo, lineage_from_labels

#: Tests that run DeepSea's shipped weights; they skip, saying why, without the optional package.
needs_deepsea = pytest.mark.skipif(
    importlib.util.find_spec("deepsea") is None,
    reason="the optional 'deepsea' package (it ships the segmentation weights) is not installed: "
    "pip install -c constraints.txt -e '.[trackers]'",
)

#: disc centres (y, x) at frame 0; discs 2 and 3 touch
CENTRES = [(16, 16), (16, 38), (16, 50), (44, 22), (46, 46)]


def make_discs(*, frames: int = 3, size: int = 64, radius: int = 6, bright: bool = False, seed: int = 0) -> TrackedVideo:
    """Discs of ``radius`` px drifting 1 px/frame down, 80 grey levels darker (or brighter)
    than a background of 170, noise sd 8; uint8 images (T, size, size), linked track ids."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((frames, size, size), np.uint16)
    yy, xx = np.mgrid[:size, :size]
    for t in range(frames):
        for i, (cy, cx) in enumerate(CENTRES, start=1):
            labels[t][((yy - cy - t) ** 2 + (xx - cx) ** 2 < radius**2) & (labels[t] == 0)] = i
    delta = 80 if bright else -80
    images = (170 + delta * (labels > 0) + rng.normal(0, 8, labels.shape)).clip(0, 255).astype(np.uint8)
    out, lineage = lineage_from_labels(labels)
    return TrackedVideo(TrackedMasks(out, lineage), images)


@pytest.fixture
def discs() -> TrackedVideo:
    return make_discs()


@pytest.fixture
def disc_dataset(tmp_path, discs):
    """A CTC dataset folder (``01/`` + ``01_GT/TRA``) of :func:`make_discs`."""
    from tgan_aug.io import write_ctc

    write_ctc(tmp_path / "ds", discs, sequence="01")
    return tmp_path / "ds"
