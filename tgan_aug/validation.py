"""Validation of user arrays at the library's boundary: one validator, shared by every entry point.

The entry points that take a user's video (trackers, :mod:`tgan_aug.training.data`,
:func:`tgan_aug.training.background.estimate_background`, rendering) call :func:`validate_video`
once and work on the arrays it returns. The networks behind them check tensor layouts with
``ValueError`` (a programming error); what a user can get wrong is reported here, as a one-line
:class:`UserError` that names the input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tgan_aug.errors import UserError

__all__ = ["validate_video"]


def validate_video(
    images: Any,
    labels: Any,
    *,
    name: str = "video",
    min_frames: int = 1,
    images_optional: bool = False,
    binary_ok: bool = False,
) -> tuple[np.ndarray | None, np.ndarray]:
    """Check a video and its label masks; return them as numpy arrays (no copy when already arrays).

    images: (T, Y, X) real-valued intensities (any integer or float dtype, any units); may be None
        when ``images_optional``.
    labels: (T, Y, X) integer label masks, 0 = background, value = cell (or track) id, >= 0;
        bool masks (True = cell) too when ``binary_ok``.
    name: what the user gave (a flag, a file pair, a sequence name), named first in every message.
    min_frames: fewest frames T accepted (tracking needs 2).
    Returns (images or None, labels).

    Raises:
        UserError: labels are not 3-D (T, Y, X); labels are not integer (or bool when
            ``binary_ok``); labels hold negative values; images are missing (unless
            ``images_optional``), not of the labels' shape, or not real-valued; T < min_frames.
    """
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise UserError(f"{name}: labels must be (T, Y, X) label masks, got shape {labels.shape}")
    if labels.dtype == bool:
        if not binary_ok:
            raise UserError(f"{name}: labels must be an integer label mask (0 = background), got dtype bool")
    elif not np.issubdtype(labels.dtype, np.integer):
        raise UserError(f"{name}: labels must be an integer label mask (0 = background), got dtype {labels.dtype}")
    elif np.issubdtype(labels.dtype, np.signedinteger) and labels.size and labels.min() < 0:
        raise UserError(f"{name}: labels must be >= 0 (0 = background), got a minimum of {labels.min()}")
    if images is None:
        if not images_optional:
            raise UserError(f"{name}: images are missing; pass the (T, Y, X) intensities with the labels")
    else:
        images = np.asarray(images)
        if images.shape != labels.shape:
            raise UserError(
                f"{name}: images {images.shape} and labels {labels.shape} must both be (T, Y, X) of one shape"
            )
        if not np.issubdtype(images.dtype, np.number) or np.issubdtype(images.dtype, np.complexfloating):
            raise UserError(f"{name}: images must be real-valued intensities, got dtype {images.dtype}")
    if labels.shape[0] < min_frames:
        raise UserError(f"{name}: needs at least {min_frames} frame{'s' * (min_frames != 1)}, got {labels.shape[0]}")
    return images, labels
