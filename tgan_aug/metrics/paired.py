"""Paired pixel metrics: SSIM and PSNR between REAL and FAKE frames rendered from the same masks.

Protocols:
- ``"strict"`` (default): both videos in their recorded units, ``data_range = hi - lo`` of REAL's
  recorded intensity range. Brightness or contrast errors in FAKE count.
- ``"paper-minmax"``: every frame of each video is min-max normalised on its own to [0, 1] before
  comparison (what the tGAN paper's public test script does). It hides global brightness/contrast
  errors and flicker; offered only to reproduce the paper's numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np

from tgan_aug.errors import UserError
from tgan_aug.metrics._checks import as_video, check_paired, check_range

Protocol = Literal["strict", "paper-minmax"]
PROTOCOLS: tuple[str, ...] = ("strict", "paper-minmax")
#: PSNR of identical frames is infinite; per-frame values are capped here (dB)
PSNR_CAP_DB = 100.0


def _frame_pairs(real: np.ndarray, fake: np.ndarray, data_range: tuple[float, float], protocol: str) -> tuple[Iterator[tuple[np.ndarray, np.ndarray]], float]:
    """Validate, then yield (real_t, fake_t) as float64 one frame at a time (no whole-video copies)."""
    real = as_video(real, "real")
    fake = as_video(fake, "fake")
    check_paired(real, fake, what="SSIM/PSNR")
    if protocol == "strict":
        lo, hi = check_range(data_range, "data_range")
        conv, dr = (lambda a: np.asarray(a, dtype=np.float64)), hi - lo
    elif protocol == "paper-minmax":
        conv, dr = _minmax, 1.0
    else:
        raise UserError(f"protocol={protocol!r}: expected one of {PROTOCOLS}")
    return ((conv(real[t]), conv(fake[t])) for t in range(real.shape[0])), dr


def _minmax(frame: np.ndarray) -> np.ndarray:
    v = np.asarray(frame, dtype=np.float64)
    lo, span = v.min(), v.max() - v.min()
    return (v - lo) / (span if span > 0 else 1.0)


def ssim_frames(real: np.ndarray, fake: np.ndarray, *, data_range: tuple[float, float], protocol: Protocol = "strict") -> np.ndarray:
    """Per-frame SSIM (skimage, 7x7 uniform window).

    real, fake: (T, Y, X) any real dtype, same shape. data_range: REAL's recorded (lo, hi).
    Returns (T,) float64 in [-1, 1]; 1 = identical.
    """
    from skimage.metrics import structural_similarity

    pairs, dr = _frame_pairs(real, fake, data_range, protocol)
    win = min(7, *np.shape(real)[1:])
    win -= 1 - win % 2  # odd
    return np.array([structural_similarity(a, b, data_range=dr, win_size=max(win, 3)) for a, b in pairs], dtype=np.float64)


def psnr_frames(real: np.ndarray, fake: np.ndarray, *, data_range: tuple[float, float], protocol: Protocol = "strict") -> np.ndarray:
    """Per-frame PSNR in dB: ``10 log10(dr^2 / MSE)``, capped at :data:`PSNR_CAP_DB` for identical frames.

    real, fake: (T, Y, X), same shape. data_range: REAL's recorded (lo, hi) (``dr = hi - lo``). Returns (T,) float64.
    """
    pairs, dr = _frame_pairs(real, fake, data_range, protocol)
    mse = np.array([((a - b) ** 2).mean() for a, b in pairs])
    floor = dr**2 * 10 ** (-PSNR_CAP_DB / 10)
    return 10 * np.log10(dr**2 / np.maximum(mse, floor))
