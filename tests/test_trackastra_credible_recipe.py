"""The pure parts of recipes/trackastra-credible: where the snapshots fall, and the table and
curves made from result files (the recipe itself needs the shared data and an hour of training)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "trackastra-credible" / "run.py"


@pytest.fixture(scope="module")
def recipe():
    spec = importlib.util.spec_from_file_location("trackastra_credible", RECIPE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_snapshots_are_spread_evenly_and_end_with_the_run(recipe):
    assert recipe.snapshot_steps(recipe.Profile(steps=1600, points=4)) == [400, 800, 1200, 1600]
    assert recipe.snapshot_steps(recipe.Profile(steps=3, points=5)) == [1, 2, 3]


def _run(seed: int, mota: dict[int, float], causes: dict[str, int] | None = None) -> dict:
    points = [{"step": s, "linking": "tgan-aug", "scores": {"MOTA": m, "IDF1": m, "HOTA": m, "TRA": m, "BC(1)": None}}
              for s, m in mota.items()]
    points[-1]["scores"] |= causes or {}  # the recipe adds them for the final model
    return {"dataset": "bacteria", "seed": seed, "profile": "cpu", "profile_settings": {}, "train_s": 10.0,
            "device": "cpu", "points": points}


def test_table_and_curve_average_over_seeds_next_to_btrack(recipe, tmp_path):
    d = tmp_path / "bacteria"
    d.mkdir()
    (d / "btrack.json").write_text(json.dumps({"scores": {"MOTA": 0.8, "IDF1": 0.6, "HOTA": 0.7, "TRA": 0.9, "BC(1)": 0.2}}))
    for seed, m in ((0, {100: 0.5, 200: 0.7}), (1, {100: 0.6, 200: 0.9})):
        causes = {k: 10 * (seed + 1) for k in recipe.CAUSE_KEYS}
        (d / f"trackastra_seed{seed}.json").write_text(json.dumps(_run(seed, m, causes)))
    assert recipe.curve(recipe._load(tmp_path)[1], "bacteria", "tgan-aug", "MOTA") == {100: [0.5, 0.6], 200: [0.7, 0.9]}
    table = recipe.make_table(tmp_path)
    assert "| btrack | btrack_cells.json | - | 0.800 | 0.600 | 0.700 | 0.900 | 0.200 |" in table
    assert "| trackastra | tgan-aug | 200 | 0.800 ± 0.141 |" in table and "seeds [0, 1]" in table
    # identity switches by cause: the final models' mean over seeds; btrack's file has none (an older run)
    assert "| trackastra, tgan-aug | " + " | ".join(["15"] * len(recipe.CAUSE_KEYS)) + " |" in table
    assert "| btrack | " not in table.split("Identity switches")[1]
    [png] = recipe.make_figures(tmp_path)
    assert png.name == "mota_vs_steps_bacteria.png" and png.stat().st_size > 1000
