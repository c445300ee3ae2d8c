"""The command-line entry point: version, help for every command, user errors as one line + exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from tgan_aug import __version__
from tgan_aug.cli import _COMMANDS, cli


def test_version(run_cli):
    code, out, _ = run_cli(["--version"])
    assert code == 0 and __version__ in out


@pytest.mark.parametrize("name", sorted(_COMMANDS))
def test_every_command_has_help_with_an_example(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"'tgan-aug {name} --help' shows no example"


def test_unknown_command_exits_2(run_cli):
    code, _, err = run_cli(["no-such-command"])
    assert code == 2 and "no-such-command" in err


def test_user_error_is_one_line_without_traceback(tmp_path):
    missing = tmp_path / "nope"
    proc = subprocess.run(
        [sys.executable, "-c", "from tgan_aug.cli import main; main()", "info", str(missing)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(missing) in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
