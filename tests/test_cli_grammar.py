"""One grammar for the CLI: ``-o/--output`` for every output, ``--quiet`` wherever there are progress
bars, help text that reads cleanly (no word split across lines, a default shown once, plain words)."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from tgan_aug.cli import _COMMANDS, cli
from tgan_aug.text import plural

#: every command that writes a file or folder (train's stages included)
OUTPUT_COMMANDS = [
    "import-ctc", "export-ctc", "export-geff", "import-geff", "synth-masks", "augment-masks", "train", "train lowres",
    "train superres", "track", "train-tracker", "evaluate", "render", "fit-painter", "demo", "train-segmenter", "segment",
]
#: commands that only print
PRINT_COMMANDS = ["info", "stats", "eval-tracking", "models"]
#: commands that show progress bars
QUIET_COMMANDS = [
    "import-ctc", "export-ctc", "export-geff", "import-geff", "synth-masks", "augment-masks", "train", "train lowres",
    "train superres", "track", "train-tracker", "evaluate", "render", "demo", "train-segmenter", "segment",
]
#: the old spellings that keep working (hidden from --help)
ALIASED = {"train": "run_dir", "train lowres": "out_dir", "train superres": "out_dir", "track": "out_dir",
           "train-tracker": "out_dir", "evaluate": "out_dir"}


def _help(name: str, width: int = 80) -> str:
    """``tgan-aug NAME --help`` as printed in a terminal ``width`` columns wide (click leaves 2 of them
    free; CliRunner would otherwise force 80)."""
    result = CliRunner().invoke(cli, [*name.split(), "--help"], terminal_width=min(width, 80) - 2)
    assert result.exit_code == 0, result.output
    return result.output


def _command(name: str) -> click.Command:
    cmd: click.Command = cli
    for part in name.split():
        cmd = cmd.get_command(click.Context(cmd), part)  # type: ignore[union-attr]
    return cmd


def _record(name: str, flag: str, width: int = 80) -> str:
    """The help of one option as printed (its lines joined)."""
    text = _help(name, width)
    m = re.search(rf"^  (?:-\w, )?{re.escape(flag)}\b.*?(?=^  -|\Z)", text, flags=re.M | re.S)
    assert m, f"{flag} not in 'tgan-aug {name} --help'"
    return " ".join(m.group(0).split())


def test_every_command_is_classified():
    top = {n.split()[0] for n in OUTPUT_COMMANDS + PRINT_COMMANDS}
    assert top == set(_COMMANDS), "classify the new command in OUTPUT_COMMANDS or PRINT_COMMANDS"


@pytest.mark.parametrize("name", OUTPUT_COMMANDS)
def test_every_output_is_dash_o_output(name):
    text = _help(name)
    assert re.search(r"^  -o, --output\b", text, flags=re.M), f"'tgan-aug {name} --help' lists no -o, --output"
    assert not re.search(r"--out\b", text), f"'tgan-aug {name} --help' still shows --out"


@pytest.mark.parametrize("name", sorted(ALIASED))
def test_old_out_spelling_still_parses(name, tmp_path):
    """--out / -o / --output land in the same parameter; --help shows only -o, --output."""
    cmd = _command(name)
    required = {"track": ["DATA"], "evaluate": ["--real", "R", "--fake", "F"]}.get(name, [])
    for spelling in ("-o", "--output", "--out"):
        ctx = cmd.make_context(name, [*required, spelling, str(tmp_path / "x")], resilient_parsing=True)
        assert ctx.params[ALIASED[name]] == str(tmp_path / "x"), spelling


@pytest.mark.parametrize("name", QUIET_COMMANDS)
def test_quiet_wherever_there_are_progress_bars(name):
    assert re.search(r"^  --quiet\b", _help(name), flags=re.M), f"'tgan-aug {name} --help' has no --quiet"


@pytest.mark.parametrize("name", sorted(_COMMANDS) + ["train lowres", "train superres"])
@pytest.mark.parametrize("width", [60, 80])
def test_help_splits_no_word_across_lines(name, width):
    """Every word of every option's help appears whole in the printed help: click breaks a token
    longer than the help column mid-word ('tga' / 'n_aug/...'). A break after a hyphen is fine in
    prose ('phase-' / 'contrast') but not inside an option name ('--dry-' / 'run')."""
    raw = _help(name, width)
    broken_flags = re.findall(r"--[\w-]*-\n", raw)
    assert not broken_flags, f"'tgan-aug {name} --help' breaks {broken_flags} across lines"
    text = " ".join(re.sub(r"-\n\s+", "-", raw).split())
    for param in _command(name).params:
        for word in (getattr(param, "help", None) or "").split():
            assert word in text, f"'tgan-aug {name} --help' splits {word!r} across lines"


def test_track_config_help_is_whole():
    rec = _record("track", "--config")
    assert "btrack_cells.json" in rec and "tga n_aug" not in rec


def test_division_rate_default_shown_once():
    from masksynth import SynthConfig

    rec = _record("synth-masks", "--division-rate")
    assert rec.count("default") == 1 and rec.count("[") == 1, rec
    assert f"[default: {SynthConfig().division_rate}; 0<=x<=1]" in rec


@pytest.mark.parametrize("name, flag, words", [
    ("train", "--set", ["training setting", "--dry-run"]),
    ("train lowres", "--set", ["training setting", "--dry-run"]),
    ("train superres", "--lowres-checkpoint", ["p_lowres_input", "downsampled real frame"]),
    ("track", "--mode", ["greedy_nodiv: the same but never a division", "pip install 'tgan-aug[ilp]'"]),
    ("render", "--precision", ["bf16 (16-bit)", "fp32 (32-bit)", "GPU"]),
])
def test_expert_options_get_a_plain_sentence(name, flag, words):
    rec = _record(name, flag)
    for w in words:
        assert w in rec, f"{name} {flag}: {rec}"


def test_plural():
    assert plural(1, "sequence") == "1 sequence"
    assert plural(0, "sequence") == "0 sequences"
    assert plural(2, "daughter track") == "2 daughter tracks"
    assert plural(3, "mouse", "mice") == "3 mice"


def test_one_sequence_is_singular(tmp_path, run_cli):
    code, out, err = run_cli(["synth-masks", "--cells", "3", "--frames", "2", "--size", "32x32", "--quiet",
                              "-o", str(tmp_path / "m.zarr")])
    assert code == 0, err
    assert "wrote 1 sequence of 2x32x32" in out and "sequence(s)" not in out
    assert "synth-masks" not in err  # --quiet: no bar
