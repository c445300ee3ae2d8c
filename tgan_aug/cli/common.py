"""Options shared by every command, so ``--device``, ``--seed``, ``--workers`` and
``--overwrite`` behave the same everywhere."""

from __future__ import annotations

import re

import click

from tgan_aug.device import resolve_device  # noqa: F401  (re-exported for the commands)
from tgan_aug.errors import UserError

device_option = click.option(
    "--device",
    default="auto",
    show_default=True,
    help="'auto' (CUDA if available, else CPU), 'cpu', 'cuda' or 'cuda:N'.",
)
seed_option = click.option("--seed", type=int, default=0, show_default=True, help="Random seed; the same seed gives the same output.")
workers_option = click.option(
    "--workers", type=click.IntRange(0), default=0, show_default=True, help="Worker processes for data loading (0 = in the main process)."
)
geff_option = click.option(
    "--geff", type=str, default=None,
    help="Also write the lineage graphs as GEFF into this folder (one NAME/tracks.geff + labels per sequence).",
)
overwrite_option = click.option("--overwrite", is_flag=True, help="Replace existing output (never done without this flag).")
append_option = click.option("--append", is_flag=True,
                             help="Add sequences to an existing store (refused without this flag or --overwrite).")


_SIZE = re.compile(r"^\s*(\d+)\s*[xX,]\s*(\d+)\s*$")


def parse_size(value: str | None, flag: str) -> tuple[int, int] | None:
    """'HEIGHTxWIDTH' (pixels, e.g. '512x768') -> (H, W); None stays None. ``flag`` names the option in errors."""
    if value is None:
        return None
    m = _SIZE.match(value)
    if not m:
        raise UserError(f"{flag} must be HEIGHTxWIDTH in pixels like 512x768, got {value!r}")
    return int(m.group(1)), int(m.group(2))
