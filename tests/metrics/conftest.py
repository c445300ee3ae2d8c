"""Fixtures of the metric tests: one small synthetic REAL video (see metric_videos.py)."""

from __future__ import annotations

import numpy as np
import pytest

from metric_videos import make_video


@pytest.fixture(scope="session")
def video() -> tuple[np.ndarray, np.ndarray]:
    """(images (16, 64, 64) uint8, labels (16, 64, 64) uint16): the REAL video of the metric tests."""
    return make_video()
