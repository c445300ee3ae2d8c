"""The ``tgan-aug`` command line: a thin layer over the library.

Each command module defines click commands and lists them in ``COMMANDS``; this group loads
the modules lazily so ``tgan-aug --help`` stays fast. User errors print one line
(``error: ...``) and exit with code 2, without a traceback.
"""

from __future__ import annotations

import functools
import importlib
import sys
import warnings

import click

from tgan_aug import __version__

#: command name -> "module:attribute" (modules under tgan_aug.cli)
_COMMANDS: dict[str, str] = {
    # data (foundation)
    "info": "data_cmds:info",
    "import-ctc": "data_cmds:import_ctc",
    "export-ctc": "data_cmds:export_ctc",
    "export-geff": "data_cmds:export_geff",
    "import-geff": "data_cmds:import_geff",
    # masksynth
    "synth-masks": "masks_cmds:synth_masks",
    "augment-masks": "masks_cmds:augment_masks",
    "stats": "masks_cmds:stats",
    # generator training
    "train": "train_cmds:train",
    # realism metrics
    "evaluate": "eval_cmds:evaluate",
    # trackers
    "track": "tracker_cmds:track",
    "train-tracker": "tracker_cmds:train_tracker",
    "eval-tracking": "tracker_cmds:eval_tracking",
    # segmentation
    "train-segmenter": "segment_cmds:train_segmenter",
    "segment": "segment_cmds:segment",
    # rendering
    "render": "render_cmds:render",
    "fit-painter": "render_cmds:fit_painter",
    "demo": "render_cmds:demo",
    "models": "model_cmds:models",
}


def register(name: str, target: str) -> None:
    """Register a command implemented at ``tgan_aug.cli.<module>:<attribute>``."""
    _COMMANDS[name] = target


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = _COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(f"tgan_aug.cli.{module}"), attr)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tgan-aug")
def cli() -> None:
    """tgan-aug: synthetic tracked time-lapse microscopy for training cell trackers.

    \b
    Example:
      tgan-aug demo out/                 # the whole pipeline on the shipped model
      tgan-aug info path/to/ctc/01_GT    # what a dataset holds
    """


def _show_warning(message, category, filename, lineno, file=None, line=None, *, default):
    """``warnings.showwarning`` for the CLI: a :class:`TganAugWarning` is one line ``warning: ...``;
    other warnings go to ``default`` (the one that was installed)."""
    from tgan_aug.errors import TganAugWarning

    if issubclass(category, TganAugWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        default(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the group, turns user errors into one line + exit 2 and
    tgan-aug's warnings into one line ``warning: ...``."""
    from tgan_aug.errors import USER_ERRORS

    shown = warnings.showwarning
    warnings.showwarning = functools.partial(_show_warning, default=shown)
    try:
        cli.main(args=argv, prog_name="tgan-aug", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except USER_ERRORS as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:  # disk full, permission denied, ...
        import errno

        name = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        if exc.errno == errno.ENOSPC:
            click.echo(f"error: no space left on the device while writing{name or ' the output'}; free space there "
                       "or write elsewhere (the partial output this command created was removed)", err=True)
        else:
            click.echo(f"error: {exc.strerror or exc}{name}: check the path, permissions and free space", err=True)
        sys.exit(2)
    finally:
        warnings.showwarning = shown
    sys.exit(0)

