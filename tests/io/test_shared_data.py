"""Exact round trips CTC -> store -> CTC and ``tgan-aug info`` facts on the real shared data.

Skipped with a reason when ../shared/data (or TGAN_AUG_SHARED_DATA) is absent; the same round
trips run on data the tests build in test_ctc.py / test_cli_data.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from tgan_aug.cli import main
from tgan_aug.io import export_ctc, import_ctc, read_man_track

pytestmark = pytest.mark.shared_data


def _rows(path: Path) -> list[list[int]]:
    return sorted(read_man_track(path).tolist())


def _assert_same_frames(src: list[Path], dst: list[Path]) -> None:
    assert len(src) == len(dst)
    for a, b in zip(src, dst):
        x, y = tifffile.imread(a), tifffile.imread(b)
        assert x.dtype == y.dtype and np.array_equal(x, y), f"{a} != {b}"


def _info(path: Path, capsys) -> dict:
    with pytest.raises(SystemExit) as exit_info:
        main(["info", str(path), "--json"])
    out, err = capsys.readouterr()
    assert exit_info.value.code in (0, None), err
    [facts] = json.loads(out)
    return facts


def test_bacteria_round_trip_is_exact(shared_data, tmp_path, capsys):
    src = shared_data / "bacteria-phc"
    store, out = tmp_path / "b.zarr", tmp_path / "ctc"
    assert import_ctc(src, store) == ["01"]
    assert export_ctc(store, out) == {"01": "01"}
    _assert_same_frames(sorted((src / "01_GT" / "TRA").glob("man_track*.tif")), sorted((out / "01_GT" / "TRA").glob("man_track*.tif")))
    _assert_same_frames(sorted((src / "01").glob("t*.tif")), sorted((out / "01").glob("t*.tif")))
    assert _rows(out / "01_GT" / "TRA" / "man_track.txt") == _rows(src / "01_GT" / "TRA" / "man_track.txt")
    facts = _info(store, capsys)
    assert (facts["tracks"], facts["divisions"]) == (714, 356)


def test_psc_round_trip_is_exact_with_derived_lineage(shared_data, tmp_path):
    src = shared_data / "PhC-C2DL-PSC"
    store, out = tmp_path / "p.zarr", tmp_path / "ctc"
    assert import_ctc(src, store) == ["02"]
    export_ctc(store, out)
    _assert_same_frames(sorted((src / "02_ST" / "SEG").glob("man_seg*.tif")), sorted((out / "02_GT" / "TRA").glob("man_track*.tif")))
    _assert_same_frames(sorted((src / "02").glob("t*.tif")), sorted((out / "02").glob("t*.tif")))
    rows = _rows(out / "02_GT" / "TRA" / "man_track.txt")
    assert len(rows) == 89 and all(parent == 0 for *_, parent in rows)
    # export -> import -> export again gives the same man_track.txt (lineage now read from the file)
    import_ctc(out, tmp_path / "again.zarr")
    export_ctc(tmp_path / "again.zarr", tmp_path / "ctc2")
    assert (tmp_path / "ctc2" / "02_GT" / "TRA" / "man_track.txt").read_text() == (out / "02_GT" / "TRA" / "man_track.txt").read_text()


def test_info_prints_the_documented_facts(shared_data, capsys):
    psc = _info(shared_data / "PhC-C2DL-PSC", capsys)
    assert (psc["frames"], psc["height"], psc["width"], psc["image_dtype"]) == (50, 576, 720, "uint8")
    assert psc["tracks"] == 89 and psc["divisions"] == 0
    assert (psc["cells_min"], psc["cells_max"]) == (65, 75)
    bac = _info(shared_data / "bacteria-phc", capsys)
    assert (bac["frames"], bac["height"], bac["width"], bac["image_dtype"]) == (53, 1305, 1009, "uint8")
    assert (bac["tracks"], bac["divisions"]) == (714, 356)
    assert (bac["cells_first"], bac["cells_last"]) == (2, 358)
    with pytest.raises(SystemExit):
        main(["info", str(shared_data / "bacteria-phc")])
    text = capsys.readouterr().out
    for line in ("frames             53", "size (Y x X)       1305 x 1009", "tracks             714",
                 "divisions          356", "cells per frame    2 -> 358"):
        assert line in text


@pytest.mark.parametrize("dataset, tracks, divisions", [("bacteria-phc", 714, 356), ("PhC-C2DL-PSC", 89, 0)])
def test_geff_round_trips_are_exact(shared_data, tmp_path, dataset, tracks, divisions):
    """store -> GEFF -> store and GEFF -> store -> GEFF give back the same tracks, pixels and graph."""
    from geff.core_io import read_to_memory
    from geff.validate.data import ValidationConfig

    from tgan_aug.io import export_geff, import_geff, read_store

    store = tmp_path / "s.zarr"
    [name] = import_ctc(shared_data / dataset, store)
    first = export_geff(store, tmp_path / "g1")[name]
    import_geff(first, tmp_path / "back.zarr")
    original, back = read_store(store, name).masks, read_store(tmp_path / "back.zarr", name)
    assert back == original and (back.n_tracks, back.n_divisions) == (tracks, divisions)
    second = export_geff(tmp_path / "back.zarr", tmp_path / "g2")[name]
    checks = ValidationConfig(graph=True, lineage=True, tracklet=True)
    a, b = read_to_memory(str(first), data_validation=checks), read_to_memory(str(second), data_validation=checks)
    np.testing.assert_array_equal(a["node_ids"], b["node_ids"])
    np.testing.assert_array_equal(a["edge_ids"], b["edge_ids"])
    assert a["node_props"].keys() == b["node_props"].keys()
    for key in a["node_props"]:
        np.testing.assert_array_equal(a["node_props"][key]["values"], b["node_props"][key]["values"])
    assert len(a["node_ids"]) == int((original.lineage[:, 2] - original.lineage[:, 1] + 1).sum())
