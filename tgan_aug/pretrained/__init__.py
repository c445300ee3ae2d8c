"""The model zoo: trained checkpoints shipped inside the package, with a registry of checksums.

``registry.json`` maps a model name to its entry::

    {"file": "NAME.pt", "sha256": ..., "size_mb": ..., "preset": ..., "modality": ...,
     "trained_on": ..., "licence": ..., "card": "NAME.md", "strip": "NAME-strip.png",
     "bank": "NAME-bank.npz", "figures": {"strict SSIM": {"tgan": .., "painter": ..}, ...},
     "steps": ..., "time": ..., "quality": ..., "recipe": ...}

``card`` is the model card (Markdown), ``strip`` a PNG of real | rendered | painter frames and
``bank`` the data profile of the training data (shape bank + calibrated motion/division
statistics, :mod:`masksynth.profile`), so masks can be made "like" the model's data.
:func:`pretrained_path` returns a checkpoint's path after checking its sha256; :func:`resolve_model`
takes a shipped name or a ``.pt`` path (``render --model``, ``train --init``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tgan_aug.errors import UserError

__all__ = ["DEFAULT_MODEL", "HEADLINE_FIGURE", "registry", "model_entry", "pretrained_path", "load_pretrained",
           "resolve_model", "model_card", "model_profile", "models_summary", "models_table"]

DEFAULT_MODEL = "hela-small"
#: the realism figure ``tgan-aug models`` shows per model (tGAN, with the painter's in brackets)
HEADLINE_FIGURE = "FID-DeepSea"
_HERE = Path(__file__).resolve().parent


def registry() -> dict[str, dict[str, Any]]:
    """name -> registry entry (empty when no model is shipped)."""
    path = _HERE / "registry.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def _valid_names(reg: dict[str, Any]) -> str:
    return ", ".join(sorted(reg)) or "none are shipped in this installation"


def model_entry(name: str, *, flag: str = "--model") -> dict[str, Any]:
    """The registry entry of the shipped model ``name``; a UserError lists the valid names otherwise."""
    reg = registry()
    if name not in reg:
        raise UserError(f"{flag} {name!r}: no such shipped model; choose one of: {_valid_names(reg)}")
    return reg[name]


def _file_of(name: str, key: str) -> Path:
    entry = model_entry(name)
    if not entry.get(key):
        raise UserError(f"shipped model {name!r} has no {key} file in the registry; rebuild it with recipes/model-zoo/build_model.py")
    path = _HERE / entry[key]
    if not path.is_file():
        raise UserError(f"shipped model {name!r}: file {path} is missing from the installation; reinstall tgan-aug")
    return path


def pretrained_path(name: str = DEFAULT_MODEL) -> Path:
    """Path of the shipped checkpoint ``name`` after checking its sha256 against the registry."""
    from tgan_aug.hashing import file_sha256

    reg = registry()
    if name not in reg:
        raise UserError(f"pretrained model {name!r} is not shipped (shipped: {_valid_names(reg)}); "
                        "pass --checkpoint CKPT from 'tgan-aug train'")
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


def resolve_model(name_or_path: str | Path, *, flag: str = "--model") -> Path:
    """A shipped model name (checked against its sha256) or the path of a ``.pt`` checkpoint -> its Path.

    A name that is neither raises a UserError naming ``flag`` and listing the shipped models.
    """
    text = str(name_or_path)
    reg = registry()
    if text in reg:
        return pretrained_path(text)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    if text.endswith(".pt"):
        raise UserError(f"{flag} {text}: no such checkpoint file; give an existing .pt file or a shipped model "
                        f"({_valid_names(reg)})")
    raise UserError(f"{flag} {text!r}: no such shipped model; choose one of: {_valid_names(reg)} (or give a .pt checkpoint path)")


def model_card(name: str) -> str:
    """The Markdown model card of the shipped model ``name``."""
    return _file_of(name, "card").read_text(encoding="utf-8")


def model_profile(name: str):
    """The data profile (:class:`masksynth.profile.DataProfile`: shape bank, calibrated synthesis
    config, statistics) of the shipped model ``name``'s training data, at its working pixel scale."""
    from masksynth.profile import load_profile

    return load_profile(_file_of(name, "bank"))


def models_summary() -> list[dict[str, Any]]:
    """One JSON-ready dict per shipped model (name order): name, modality, trained_on, licence,
    sha256, size_mb, preset, figures and the card/strip/bank file names."""
    keys = ("modality", "trained_on", "licence", "sha256", "size_mb", "preset", "figures", "card", "strip", "bank")
    return [{"name": name, **{k: entry.get(k) for k in keys}} for name, entry in sorted(registry().items())]


def _figure(entry: dict[str, Any], key: str) -> str:
    fig = (entry.get("figures") or {}).get(key)
    if not fig:
        return "n/a"
    return f"{fig['tgan']:.3g} ({fig['painter']:.3g})"


def models_table() -> str:
    """Plain-text table of the shipped models: name, modality, size, the headline realism figure."""
    rows = [("name", "modality", "size", f"{HEADLINE_FIGURE} tGAN (painter), lower is better")]
    for item in models_summary():
        size = f"{item['size_mb']:.1f} MB" if item.get("size_mb") else "?"
        default = " *" if item["name"] == DEFAULT_MODEL else ""
        rows.append((item["name"] + default, item.get("modality") or "?", size, _figure(item, HEADLINE_FIGURE)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines + ["", "* default model. 'tgan-aug models NAME' prints a model's card."])
