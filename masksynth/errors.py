"""Errors meant for the user, and the shared check that configuration dicts hold only known keys.

This is the bottom layer (numpy-free, torch-free); ``tgan_aug.errors`` re-exports these names, so
``except tgan_aug.errors.UserError`` catches errors raised in masksynth too.
"""

from __future__ import annotations

import dataclasses
from typing import Any


class UserError(ValueError):
    """Bad input from the user (path, file content, option). The message names what and the fix."""


def reject_unknown_keys(cls: type, data: Any, *, what: str) -> None:
    """Raise :class:`UserError` unless ``data`` is a mapping whose keys are fields of dataclass ``cls``.

    ``what`` names the configuration in the message ("SynthConfig", "training config", ...),
    which lists the unknown keys and the valid ones.
    """
    if not isinstance(data, dict):
        raise UserError(f"{what} must be a mapping of option names to values, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise UserError(f"unknown {what} key(s): {', '.join(unknown)}; valid keys: {', '.join(sorted(names))}")
