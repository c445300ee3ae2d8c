"""Numbered run folders (``runs/00000-lowres-small/``) and the metrics JSONL log.

A run folder is created with ``mkdir`` (no ``exist_ok``), so two runs started at the same time
never share one, and an existing folder is never reused.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

__all__ = ["make_run_dir", "MetricsLog", "read_metrics"]

_RUN_RE = re.compile(r"^(\d{5,})-")


def make_run_dir(root: str | Path, desc: str) -> Path:
    """Create ``root/NNNNN-desc`` with the next free number (one more than the largest there)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", desc).strip("-") or "run"
    numbers = [int(m.group(1)) for p in root.iterdir() if (m := _RUN_RE.match(p.name))]
    n = max(numbers, default=-1) + 1
    while True:
        path = root / f"{n:05d}-{safe}"
        try:
            path.mkdir()
            return path
        except FileExistsError:  # another process took the number
            n += 1


class MetricsLog:
    """Append one JSON object per line to ``path`` (flushed each time, so a crash loses nothing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(clean, sort_keys=True) + "\n")


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All records of a metrics JSONL file (a truncated last line is ignored)."""
    out = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
