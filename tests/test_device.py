"""Devices belong to the library (tgan_aug.device); library code never reaches up into the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tgan_aug
from tgan_aug.device import resolve_device
from tgan_aug.errors import UserError


def _cli_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in getattr(node, "names", [])] if isinstance(node, ast.Import) else []
        found += [f"{path.name}:{node.lineno} imports {n}" for n in names if n == "tgan_aug.cli" or n.startswith("tgan_aug.cli.")]
    return found


def test_library_modules_do_not_import_the_cli():
    root = Path(tgan_aug.__file__).parent
    offenders = [hit for p in sorted(root.rglob("*.py")) if "cli" not in p.relative_to(root).parts for hit in _cli_imports(p)]
    assert offenders == []


def test_resolve_device_names_and_errors():
    assert str(resolve_device("cpu")) == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(UserError, match="--device 'gpu0' is not a device name"):
        resolve_device("gpu0")


def test_cli_common_reexports_the_library_function():
    from tgan_aug.cli import common

    assert common.resolve_device is resolve_device
