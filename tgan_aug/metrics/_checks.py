"""Validation and intensity-scaling helpers shared by the metric modules."""

from __future__ import annotations

import numpy as np

from tgan_aug.errors import UserError


def as_video(video: np.ndarray, name: str, *, min_frames: int = 1) -> np.ndarray:
    """Check ``video`` is a real-valued (T, Y, X) array with at least ``min_frames`` frames; return it as an ndarray."""
    arr = np.asarray(video)
    if arr.ndim != 3:
        raise UserError(f"{name}: expected a (T, Y, X) video, got an array of shape {arr.shape}; pass one channel, frames first")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise UserError(f"{name}: expected integer or float intensities, got dtype {arr.dtype}")
    if arr.shape[0] < min_frames:
        raise UserError(f"{name}: needs at least {min_frames} frames, got {arr.shape[0]}")
    if min(arr.shape[1:]) < 1:
        raise UserError(f"{name}: empty frames of size {arr.shape[1:]}")
    return arr


def as_labels(labels: np.ndarray, video: np.ndarray) -> np.ndarray:
    """``labels`` as an ndarray, or a UserError naming both shapes when it is not the (T, Y, X) of ``video``."""
    labels = np.asarray(labels)
    if labels.shape != video.shape:
        raise UserError(f"labels {labels.shape} and images {video.shape} must have the same (T, Y, X)")
    return labels


def check_paired(real: np.ndarray, fake: np.ndarray, *, what: str = "paired metrics") -> None:
    """Raise a UserError naming both shapes when REAL and FAKE differ in frame count or frame size."""
    if real.shape[0] != fake.shape[0]:
        raise UserError(
            f"{what} need REAL and FAKE with the same number of frames: REAL has {real.shape[0]}, FAKE has "
            f"{fake.shape[0]}; render FAKE from REAL's masks (or drop paired metrics: --unpaired)"
        )
    if real.shape[1:] != fake.shape[1:]:
        raise UserError(
            f"{what} need REAL and FAKE frames of the same size (Y, X): REAL {real.shape[1:]}, FAKE {fake.shape[1:]}; "
            f"render FAKE at REAL's size (or drop paired metrics: --unpaired)"
        )


def check_range(data_range: tuple[float, float], name: str = "intensity_range") -> tuple[float, float]:
    """(lo, hi) as floats with hi > lo, else a UserError naming the parameter."""
    try:
        lo, hi = (float(v) for v in data_range)
    except (TypeError, ValueError):
        raise UserError(f"{name}: expected (low, high), got {data_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise UserError(f"{name}: expected finite low < high, got ({lo}, {hi}); a constant REAL video has no intensity range, pass one explicitly")
    return lo, hi


def to_unit(video: np.ndarray, data_range: tuple[float, float]) -> np.ndarray:
    """Map intensities from ``data_range`` (lo, hi) to [0, 1] (float32, not clipped)."""
    lo, hi = data_range
    return ((np.asarray(video, dtype=np.float32) - lo) / (hi - lo)).astype(np.float32, copy=False)


def to_uint8(video: np.ndarray, data_range: tuple[float, float]) -> np.ndarray:
    """Map ``data_range`` to 0..255 and clip (for OpenCV optical flow)."""
    return np.clip(np.rint(to_unit(video, data_range) * 255.0), 0, 255).astype(np.uint8)


def log_ratio(fake_value: float, real_value: float, *, eps: float = 1e-6) -> float:
    """|log((fake + eps) / (real + eps))|: 0 when FAKE matches REAL, large when FAKE is far too high or too low."""
    return float(abs(np.log((fake_value + eps) / (real_value + eps))))
