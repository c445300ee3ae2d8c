"""Pretrained checkpoints shipped inside the package, with a registry of checksums.

``registry.json`` maps a model name to {"file", "sha256", "trained_on", "steps", "time", ...};
:func:`load_pretrained` returns the path of a shipped checkpoint after checking its sha256.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tgan_aug.errors import UserError

__all__ = ["DEFAULT_MODEL", "registry", "pretrained_path", "load_pretrained"]

DEFAULT_MODEL = "hela-small"
_HERE = Path(__file__).resolve().parent


def registry() -> dict[str, dict[str, Any]]:
    """name -> registry entry (empty when no model is shipped)."""
    path = _HERE / "registry.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def pretrained_path(name: str = DEFAULT_MODEL) -> Path:
    """Path of the shipped checkpoint ``name`` after checking its sha256 against the registry."""
    from tgan_aug.hashing import file_sha256

    reg = registry()
    if name not in reg:
        have = ", ".join(sorted(reg)) or "none are shipped in this installation"
        raise UserError(f"pretrained model {name!r} is not shipped ({have}); pass --checkpoint CKPT from 'tgan-aug train'")
    entry = reg[name]
    path = _HERE / entry["file"]
    if not path.is_file():
        raise UserError(f"pretrained model {name!r}: file {path} is missing from the installation; reinstall tgan-aug")
    digest = file_sha256(path)
    if digest != entry["sha256"]:
        raise UserError(f"pretrained model {name!r}: {path} has sha256 {digest[:12]}..., the registry says {entry['sha256'][:12]}...; reinstall tgan-aug")
    return path


def load_pretrained(name: str = DEFAULT_MODEL) -> dict[str, Any]:
    """The checked, loaded checkpoint dict of the shipped model ``name``."""
    from tgan_aug.training.checkpoint import load_checkpoint

    return load_checkpoint(pretrained_path(name))
