"""Options shared by every command, so ``-o/--output``, ``--quiet``, ``--device``, ``--seed``,
``--workers`` and ``--overwrite`` behave the same everywhere."""

from __future__ import annotations

import re

import click

from tgan_aug.device import resolve_device  # noqa: F401  (re-exported for the commands)
from tgan_aug.errors import UserError


class Option(click.Option):
    """A click option with two extras.

    aliases: old spellings (e.g. ``--out``) that still work but are left out of ``--help`` and of
        error messages, so the help shows one grammar.
    shown_default: the default to print in click's own ``[default: ...]`` bracket when the real
        default is None (because an explicit value must be told apart from a preset's).
    """

    def __init__(self, *args, aliases: tuple[str, ...] = (), shown_default: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = tuple(aliases)
        self.shown_default = shown_default

    @property
    def public_opts(self) -> list[str]:
        """The spellings shown to the user (``self.opts`` without the aliases)."""
        return [o for o in self.opts if o not in self.aliases]

    def get_help_record(self, ctx: click.Context):
        saved = self.opts, self.default, self.show_default
        self.opts = self.public_opts
        if self.shown_default is not None:
            self.default, self.show_default = self.shown_default, True
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts, self.default, self.show_default = saved

    def get_error_hint(self, ctx: click.Context) -> str:
        return " / ".join(f"'{o}'" for o in self.public_opts)


def output_option(help: str, *, dest: str = "output", aliases: tuple[str, ...] = (), **kwargs):
    """``-o/--output``: where a command writes its main output (old spellings in ``aliases`` keep working)."""
    return click.option("-o", "--output", *aliases, dest, cls=Option, aliases=aliases, help=help, **kwargs)


def positional_or_output(positional: str | None, output: str | None, arg: str) -> str:
    """The output path given as the positional ``arg`` or as ``-o/--output`` (either, or both when equal)."""
    if positional is not None and output is not None and positional != output:
        raise UserError(f"{arg} {positional} and -o/--output {output} differ; give the output once")
    chosen = positional if positional is not None else output
    if chosen is None:
        raise UserError(f"say where to write: give {arg} or -o/--output {arg}")
    return chosen


quiet_option = click.option("--quiet", is_flag=True,
                            help="No progress bars or progress messages (results and errors are still printed).")
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
