"""The pure parts of the realism recipes (recipes/realism): scale naming, run reuse, the Figure 5
separability score. The recipes themselves need the shared data and hours of training; these
checks need neither."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from recipes.realism import common as C
from recipes.realism import fig5_density


def _scale(*argv: str) -> C.Scale:
    p = argparse.ArgumentParser()
    C.add_common_args(p)
    return C.scale_from_args(p.parse_args(list(argv)))


def test_other_budgets_get_their_own_scale_name():
    assert _scale("--scale", "cpu").name == "cpu"
    assert _scale("--scale", "cpu", "--parallel", "1", "--seeds", "0").name == "cpu"  # same runs
    assert _scale("--scale", "cpu", "--lo-steps", "1200", "--sr-steps", "400").name == "cpu-lo1200-sr400"
    assert _scale("--scale", "cpu", "--minutes", "5").name.endswith("-5min")


def test_a_run_is_reused_only_with_the_same_command(tmp_path, monkeypatch):
    monkeypatch.setattr(C, "WORK", tmp_path)
    scale = _scale("--scale", "cpu")
    job = C.Job("psc", "lowres", "full", 0)
    assert not C.is_done(job, scale)
    job.checkpoint(scale).parent.mkdir(parents=True)
    job.checkpoint(scale).write_bytes(b"x")
    assert not C.is_done(job, scale)  # no command recorded: made by something else
    (job.run_dir(scale) / "command.txt").write_text(" ".join(job.command(scale)) + "\n")
    assert C.is_done(job, scale)
    longer = C.Scale(**{**scale.to_dict(), "lo_steps": scale.lo_steps + 1})
    assert not C.is_done(job, longer)  # other step count: retrain, never mix
    # the same run made in another checkout, by another Python: still the same command
    moved = [("/elsewhere/.venv/bin/python" if i == 0 else t.replace(str(tmp_path), "/elsewhere/recipes/realism/work"))
             for i, t in enumerate(job.command(scale))]
    (job.run_dir(scale) / "command.txt").write_text(" ".join(moved) + "\n")
    assert C.is_done(job, scale)
    (job.run_dir(scale) / "command.txt").write_text(" ".join(moved).replace("--seed 0", "--seed 1") + "\n")
    assert not C.is_done(job, scale)


def test_superres_runs_are_shared_except_for_nostyle():
    jobs = C.lowres_jobs(["psc"], ["full", "perframe", "nostyle"], (0, 1))
    sr = sorted({(j.variant, j.seed) for j in jobs if j.stage == "superres"})
    assert sr == [("base", 0), ("base", 1), ("nostyle", 0), ("nostyle", 1)]
    assert sum(j.stage == "lowres" for j in jobs) == 6


def test_rendering_variants_render_their_training_variants_models():
    from recipes.realism import table1

    assert C.training_variant("full-nomatch") == "full" and C.training_variant("perframe") == "perframe"
    assert C.RENDER_VARIANTS["full-nomatch"][1] == {"intensity_match": "none"}
    rows = [m for m, _ in table1.METHODS]
    assert {"full", "full-nomatch", "painter", "painter-nolineage"} <= set(rows)
    assert all(C.training_variant(m) in C.LOWRES_VARIANTS for m in rows if m not in C.PAINTERS)  # each has a training run
    assert C.RENDER_VARIANTS["full-nosmooth"][1] == {"track_smoothing": 0.0, "carry_over": 0.0}
    # a re-run of one dataset writes its own files, never over the full table's
    assert table1.result_stem(["bacteria"]) == "table1-bacteria" and table1.result_stem(["bacteria", "psc"]) == "table1"


def _blobs(centres, shape=(64, 64), r=5):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    lab = np.zeros(shape, np.int32)
    for i, (y, x) in enumerate(centres, 1):
        lab[(yy - y) ** 2 + (xx - x) ** 2 <= r * r] = i
    return lab


def test_separability_match_counts_merges_and_hits():
    gt = _blobs([(20, 20), (20, 31)])  # two touching-distance cells
    same = fig5_density.match(gt, gt)
    assert same["f1"] == 1.0 and same["merged"] == 0.0 and same["dice"] == 1.0
    merged = fig5_density.match(gt, (gt > 0).astype(np.int32))  # one segment covering both
    assert merged["merged"] == 1.0 and merged["f1"] == 0.0
    nothing = fig5_density.match(gt, np.zeros_like(gt))
    assert nothing["f1"] == 0.0 and nothing["dice"] == 0.0


def test_segmentation_separates_clear_cells_and_not_blurred_ones():
    from scipy import ndimage as ndi

    gt = _blobs([(16, 16), (16, 46), (46, 16), (46, 46), (31, 31)])
    rng = np.random.default_rng(0)
    clear = 0.2 + 0.6 * (gt > 0) + rng.normal(0, 0.02, gt.shape)
    area = fig5_density.median_cell_area(gt[None])
    good = fig5_density.score(clear[None].astype(np.float32), gt[None], area)
    assert good["f1"] >= 0.8 and good["merged"] == 0.0
    smeared = ndi.gaussian_filter(clear, 12)  # cells dissolved into the background
    bad = fig5_density.score(smeared[None].astype(np.float32), gt[None], area)
    assert bad["f1"] < good["f1"]


@pytest.mark.parametrize("variant", sorted(C.LOWRES_VARIANTS))
def test_every_variant_command_is_a_train_command(variant):
    scale = _scale("--scale", "cpu")
    cmd = C.Job("psc", "lowres", variant, 0).command(scale)
    assert cmd[2:5] == ["tgan_aug.cli", "train", "lowres"]
    assert cmd[cmd.index("--max-steps") + 1] == str(scale.lo_steps)
    for s in C.LOWRES_VARIANTS[variant]:
        assert s in cmd
    # the overrides are real configuration keys with valid values
    from tgan_aug.training.config import TrainConfig

    cfg = TrainConfig._preset("small", stage="lowres").with_overrides(C.LOWRES_VARIANTS[variant])
    for s in C.LOWRES_VARIANTS[variant]:
        key, raw = s.split("=")
        obj = cfg
        for part in key.split("."):
            obj = getattr(obj, part)
        assert str(obj).lower() == raw.lower() or obj == float(raw)


def test_table_columns_are_registered_metrics_and_an_unknown_one_fails():
    assert [c.key for c in C.TABLE_COLUMNS[:3]] == ["SSIM [minmax]", "PSNR [minmax]", "SSIM [strict]"]
    with pytest.raises(KeyError, match="metric 'FVD' is not in tgan_aug.metrics.registry"):
        C.Column("FVD", "strict", "FVD ↓")
    agg = {"full": {"SSIM [minmax]": (0.5, 0.1, 3), "PSNR [minmax]": (20.0, 1.0, 3)}}
    row = C.markdown_table(agg, [("full", "tGAN")]).splitlines()[2]
    assert row.startswith("| tGAN | 0.500 ± 0.100 | 20.00 ± 1.00 | n/a |")


def test_prepared_half_size_data_keeps_its_divisions(tmp_path, monkeypatch, tracked_factory):
    """prepare_dataset's rescaling keeps parent links (it once re-derived the lineage from the labels
    alone, so bacteria-phc's half-size copy lost all its divisions)."""
    from masksynth.tracked import TrackedVideo
    from tgan_aug.io.ctc import read_ctc, write_ctc

    masks = tracked_factory(frames=8, divide_at=3)
    images = np.random.default_rng(0).integers(0, 255, masks.shape, dtype=np.uint8)
    write_ctc(tmp_path / "toy", TrackedVideo(masks, images), sequence="01")
    monkeypatch.setattr(C, "WORK", tmp_path / "work")
    monkeypatch.setitem(C.DATASETS, "toy", {"folder": "toy", "sequence": "01", "crop": None, "invert": False})
    got = C.prepare_dataset("toy", 0.5, tmp_path)
    train = read_ctc(got["train_dir"], sequence="01").masks
    assert train.shape == (6, 24, 32) and train.n_divisions == masks.n_divisions == 1
    assert got["full"].masks.n_divisions == 1
