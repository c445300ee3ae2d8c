"""The end-to-end recipe (recipes/end-to-end) runs its smoke profile on a tiny synthetic CTC
dataset (masksynth masks painted by the painter) and writes records with every metric and the table."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.segment.conftest import needs_deepsea

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "end-to-end" / "end_to_end.py"


def load_recipe():
    spec = importlib.util.spec_from_file_location("_end_to_end_recipe", RECIPE)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def tiny_ctc_dataset(root: Path) -> Path:
    """A 10-frame 160x192 CTC dataset: masksynth cells (with divisions) painted dark on grey."""
    from masksynth import SynthConfig, synthesize
    from tgan_aug.baselines.painter import PainterParams, paint
    from tgan_aug.io import write_ctc

    cfg = SynthConfig.preset("mid", "flat").replace(size=(160, 192), frames=10, cells=10, mean_area=120.0,
                                                     division_rate=0.08, min_division_age=2, speed_mean=1.0)
    masks = synthesize(cfg, seed=3)
    radius = 4
    edge = np.where(np.arange(-radius, radius + 1) < 0, -70.0, 0.0)
    params = PainterParams(background=np.full((160, 192), 170, np.float32), edge_profile=edge, radius=radius, noise_sd=6.0)
    write_ctc(root, paint(masks, params, seed=0), sequence="01")
    return root


@needs_deepsea
def test_smoke_profile_records_every_metric_and_builds_table(tmp_path):
    recipe = load_recipe()
    data = tiny_ctc_dataset(tmp_path / "tiny")
    results = recipe.main(["--profile", "smoke", "--datasets", "psc", "--data", f"psc={data}", "--folds", "1",
                           "--work", str(tmp_path / "work"), "--results", str(tmp_path / "res")])
    recs = [json.loads(p.read_text()) for p in sorted(results.glob("psc/fold*/*__seed0.json"))]
    assert sorted({(r["fold"], r["condition"]) for r in recs}) == sorted((f, c) for f in (1,) for c in recipe.CONDITIONS)
    for r in recs:
        scores = recipe.flat_scores(r, "btrack")
        assert set(scores) == set(recipe.METRICS)
        assert all(scores[m] is not None for m in recipe.METRICS if m != "BC(1)"), (r["condition"], scores)
        assert 0 <= scores["SEG"] <= 1 and scores["TRA"] <= 1
        assert "BC(1)" in r["tracking"]["btrack"] or r["tracking"]["btrack"].get("fp_div(1)") is not None
    table = (results / "results.md").read_text()
    for needle in ("| limited+tgan |", "| tgan-only |", "Paired per-fold difference", "TSTR", "% of full", "segmenter train",
                   "| limited+tgan - limited+painter |", "| tgan-only - painter-only |",
                   "| limited+tgan - limited+painter-nolineage |", "| painter-nolineage-only |"):
        assert needle in table, needle
    assert (results / "psc.png").stat().st_size > 1000
    # the fold's generator was fitted (carry-over, track smoothing) on the fold's last frames and rendered with it
    timings = json.loads((tmp_path / "work" / "smoke" / "psc" / "fold1" / "synthetic_timings.json").read_text())
    assert {"carry_over", "track_smoothing"} <= set(timings), timings
    assert (tmp_path / "work" / "smoke" / "psc" / "fold1" / "generator" / "generator-fitted.pt").is_file()
    assert "Fitted carry-over / track smoothing per fold" in table
    # resumable: a second run only rebuilds the table (finished runs are read back, not re-trained)
    before = {p: p.stat().st_mtime_ns for p in results.glob("psc/fold*/*__seed0.json")}
    recipe.main(["--profile", "smoke", "--datasets", "psc", "--data", f"psc={data}", "--folds", "1",
                 "--work", str(tmp_path / "work"), "--results", str(tmp_path / "res")])
    assert {p: p.stat().st_mtime_ns for p in before} == before
    # another tracker is added to a finished condition from its saved segmentation (not segmented again)
    limited = results / "psc" / "fold1" / "limited__seed0.json"
    pred = tmp_path / "work" / "smoke" / "psc" / "fold1" / "predictions" / "limited__seed0.npz"
    pred_time, old = pred.stat().st_mtime_ns, json.loads(limited.read_text())
    recipe.main(["--profile", "smoke", "--datasets", "psc", "--data", f"psc={data}", "--folds", "1",
                 "--conditions", "limited", "--trackers", "btrack", "deepsea",
                 "--work", str(tmp_path / "work"), "--results", str(tmp_path / "res")])
    new = json.loads(limited.read_text())
    assert new["tracking"]["btrack"] == old["tracking"]["btrack"] and new["segmentation"] == old["segmentation"]
    assert 0 <= new["tracking"]["deepsea"]["TRA"] <= 1 and "deepsea" in new["timings"]["track_s"]
    assert pred.stat().st_mtime_ns == pred_time


@needs_deepsea
def test_ratio_grid_chooses_the_fraction_on_the_folds_validation_frames(tmp_path):
    """With ``ratio_grid``, limited+painter trains with the candidate fraction of the best validation
    SEG, scored on the fold's last frames (not the test frames); limited keeps no fraction."""
    from tgan_aug.fold_data import split_fold, validation_split
    from tgan_aug.io import read_ctc
    from tgan_aug.splits import cell_frames

    recipe = load_recipe()
    data = tiny_ctc_dataset(tmp_path / "tiny")
    results = recipe.main(["--profile", "smoke", "--datasets", "psc", "--data", f"psc={data}", "--folds", "1",
                           "--conditions", "limited", "limited+painter", "--set", "ratio_grid=[0.2, 0.8]",
                           "--work", str(tmp_path / "work"), "--results", str(tmp_path / "res")])
    rec = json.loads((results / "psc" / "fold1" / "limited+painter__seed0.json").read_text())
    seg = {float(k): v for k, v in rec["ratio_validation"]["validation_SEG"].items()}
    assert set(seg) == {0.2, 0.8}
    assert rec["ratio"] == rec["ratio_validation"]["ratio"] == recipe.best_ratio(seg)
    fdir = tmp_path / "work" / "smoke" / "psc" / "fold1"
    trained = json.loads((fdir / "segmenters" / "limited_painter__seed0" / "config.json").read_text())
    assert trained["data"]["ratio"] == rec["ratio"]
    assert "ratio" not in json.loads((results / "psc" / "fold1" / "limited__seed0.json").read_text())
    # the candidates were scored on the fold's last frames
    video = read_ctc(data, sequence="01")
    fit, val = validation_split(split_fold(video, 1, min_fold=recipe.PROFILES["smoke"].min_fold).limited)
    score = json.loads((fdir / "ratio-validation" / "scores" / "painter__ratio0.8.json").read_text())
    assert score["n_ref"] == cell_frames(val.labels) > 0
    assert fit.n_frames + val.n_frames == rec["data"]["train_frames"][1]
    assert "chosen per fold on the fold's validation frames" in (results / "results.md").read_text()


@needs_deepsea
def test_then_limited_starts_from_the_synthetic_only_segmenter(tmp_path):
    """painter-then-limited fine-tunes painter-only's segmenter (same fold and seed) on the fold, with
    the second-stage seed limited-then-limited uses; the start is trained on demand (no painter-only
    record asked for) and the table compares both against the equal-steps control."""
    import torch

    recipe = load_recipe()
    data = tiny_ctc_dataset(tmp_path / "tiny")
    results = recipe.main(["--profile", "smoke", "--datasets", "psc", "--data", f"psc={data}", "--folds", "1",
                           "--conditions", "limited", "limited-then-limited", "painter-then-limited",
                           "--work", str(tmp_path / "work"), "--results", str(tmp_path / "res")])
    assert not (results / "psc" / "fold1" / "painter-only__seed0.json").exists()
    seg = tmp_path / "work" / "smoke" / "psc" / "fold1" / "segmenters"
    done = {d: json.loads((seg / f"{d}__seed0" / "done.json").read_text())
            for d in ("limited", "painter-only", "limited-then-limited", "painter-then-limited")}
    assert done["painter-then-limited"]["init"] == "painter-only" and done["limited-then-limited"]["init"] == "limited"
    assert done["painter-then-limited"]["seed"] == done["limited-then-limited"]["seed"] == done["limited"]["seed"] + 100
    config = json.loads((seg / "painter-then-limited__seed0" / "config.json").read_text())
    assert config["init"] == str(seg / "painter-only__seed0") and config["data"]["synthetic"] == []
    start, tuned = (torch.load(seg / d / "model.pt", weights_only=True) for d in ("painter-only__seed0", "painter-then-limited__seed0"))
    assert any(not torch.equal(start[k], tuned[k]) for k in start)
    table = (results / "results.md").read_text()
    assert "| painter-then-limited - limited-then-limited |" in table


@needs_deepsea
def test_colony_only_trains_on_the_masksynth_colonies_alone(tmp_path):
    """painter-colony-only's segmenter sees the painted masksynth colony and none of the augmented
    copies painter-only trains on, limited+painter-colony the fold + that colony at limited+painter's
    synthetic fraction; without a colony in the profile it is a one-line error."""
    recipe = load_recipe()
    data = tiny_ctc_dataset(tmp_path / "tiny")
    args = ["--profile", "smoke", "--datasets", "psc", "--data", f"psc={data}", "--folds", "1",
            "--work", str(tmp_path / "work"), "--results", str(tmp_path / "res")]
    with pytest.raises(SystemExit, match="painter-colony-only trains on the masksynth colonies.*--set n_synth=1"):
        recipe.main([*args, "--conditions", "painter-colony-only"])
    conds = ["painter-only", "painter-colony-only", "limited+painter", "limited+painter-colony"]
    results = recipe.main([*args, "--conditions", *conds, "--set", "n_synth=1"])
    seg = tmp_path / "work" / "smoke" / "psc" / "fold1" / "segmenters"
    data = {c: json.loads((seg / f"{c.replace('+', '_')}__seed0" / "config.json").read_text())["data"] for c in conds}
    trained = {c: sorted(d["sequences"]) for c, d in data.items()}
    assert trained == {"painter-only": ["aug_p00_a00", "synth_00"], "painter-colony-only": ["synth_00"],
                       "limited+painter": ["aug_p00_a00", "limited", "synth_00"],
                       "limited+painter-colony": ["limited", "synth_00"]}, trained
    assert data["limited+painter-colony"]["ratio"] == data["limited+painter"]["ratio"] == 0.5  # limited+X's fraction
    table = (results / "results.md").read_text()
    assert "| painter-colony-only - painter-only |" in table and "| painter-colony-only |" in table
    assert "| limited+painter-colony - limited+painter |" in table


def test_best_ratio_takes_the_highest_seg_and_the_smaller_fraction_on_a_tie():
    recipe = load_recipe()
    assert recipe.best_ratio({0.5: 0.61, 0.9: 0.70, 0.7: 0.65}) == 0.9
    assert recipe.best_ratio({0.9: 0.70, 0.5: 0.70}) == 0.5


def test_validation_split_cuts_the_fold_in_time(tmp_path):
    from tgan_aug.errors import UserError
    from tgan_aug.fold_data import validation_split
    from tgan_aug.io import read_ctc
    from tgan_aug.splits import sub_video

    video = read_ctc(tiny_ctc_dataset(tmp_path / "tiny"), sequence="01")
    fit, val = validation_split(video)
    assert (fit.n_frames, val.n_frames) == (7, 3)
    assert np.array_equal(val.images, video.images[7:]) and np.array_equal(fit.labels, video.labels[:7])
    with pytest.raises(UserError, match="too short for a validation split"):
        validation_split(sub_video(video, t1=2))


def test_tracker_spec_reads_options():
    recipe = load_recipe()
    assert recipe.tracker_spec("btrack") == ("btrack", {})
    assert recipe.tracker_spec("trackastra:mode=ilp,threshold=0.2") == ("trackastra", {"mode": "ilp", "threshold": 0.2})
    with pytest.raises(SystemExit, match="expected NAME=VALUE"):
        recipe.tracker_spec("trackastra:ilp")


def test_conditions_name_their_renderer():
    recipe = load_recipe()
    from tgan_aug.fold_data import RENDERERS

    got = {c: recipe.renderer_of(c) for c in recipe.CONDITIONS}
    assert got == {"limited": None, "full": None, "limited+tgan": "tgan", "tgan-only": "tgan",
                   "limited+painter": "painter", "painter-only": "painter",
                   "limited+painter-nolineage": "painter-nolineage", "painter-nolineage-only": "painter-nolineage"}
    assert set(got.values()) - {None} == set(RENDERERS)
    assert {c: (recipe.renderer_of(c), recipe.pretrained_on(c)) for c in recipe.THEN_LIMITED} == {
        "limited-then-limited": (None, "limited"), "tgan-then-limited": ("tgan", "tgan-only"),
        "painter-then-limited": ("painter", "painter-only"),
        "painter-nolineage-then-limited": ("painter-nolineage", "painter-nolineage-only")}
    assert recipe.pretrained_on("limited+tgan") is None and recipe.pretrained_on("tgan-only") is None
    assert {c: recipe.renderer_of(c) for c in recipe.COLONY_ONLY} == {
        "tgan-colony-only": "tgan", "painter-colony-only": "painter", "painter-nolineage-colony-only": "painter-nolineage"}
    assert {c: recipe.renderer_of(c) for c in recipe.COLONY_MIXED} == {
        "limited+tgan-colony": "tgan", "limited+painter-colony": "painter",
        "limited+painter-nolineage-colony": "painter-nolineage"}


def test_profile_changes_name_the_set_fields():
    import dataclasses

    recipe = load_recipe()
    base = json.loads(json.dumps(dataclasses.asdict(recipe.PROFILES["cpu"])))
    recs = [{"profile": "cpu", "profile_settings": {**base, "seg_steps": 160, "seeds": s}} for s in (2, 3)]
    assert recipe.profile_changes(recs) == "seeds=2 / 3, seg_steps=160"
    assert recipe.profile_changes([{"profile": "cpu", "profile_settings": base}]) == ""


def test_paired_difference_and_seed_sd():
    recipe = load_recipe()
    mean, se, n = recipe.paired_difference({0: 0.5, 1: 0.7, 2: 0.6}, {0: 0.4, 1: 0.5, 2: 0.6, 3: 9.0})
    assert n == 3 and mean == pytest.approx(0.1) and se == pytest.approx(0.1 / np.sqrt(3))
    recs = [{"condition": "limited", "fold": f, "segmentation": {"SEG": v}, "tracking": {}}
            for f, v in ((0, 0.5), (0, 0.7), (1, 0.2), (1, 0.4))]
    assert recipe.seed_sd(recs, "btrack", "limited", "SEG") == pytest.approx(np.sqrt(0.04 / 2))
    assert recipe.fold_means(recs, "btrack", "limited", "SEG") == pytest.approx({0: 0.6, 1: 0.3})


def test_unknown_data_name_is_an_error(tmp_path):
    recipe = load_recipe()
    with pytest.raises(SystemExit, match="unknown dataset name"):
        recipe.main(["--data", f"hela={tmp_path}", "--results", str(tmp_path / "r")])


def test_unknown_polarity_is_an_error(tmp_path):
    recipe = load_recipe()
    with pytest.raises(SystemExit, match="polarity"):
        recipe.main(["--set", 'polarity="dark"', "--results", str(tmp_path / "r")])


def test_render_synthetic_paints_with_and_without_lineage(tmp_path):
    """'painter' and 'painter-nolineage' paint the same labels; only the second draws a daughter's gain
    anew (the images differ on daughters, not on cells that never divide); an unknown renderer is an error."""
    from masksynth.tracked import TrackedVideo
    from tgan_aug.errors import UserError
    from tgan_aug.fold_data import render_synthetic
    from tgan_aug.io import read_ctc

    video = read_ctc(tiny_ctc_dataset(tmp_path / "tiny"), sequence="01")
    assert isinstance(video, TrackedVideo) and (video.masks.lineage[:, 3] > 0).any()
    out, timings = render_synthetic(video, [("seq", video.masks)], tmp_path / "w", renderers=["painter", "painter-nolineage"])
    (_, a), (_, b) = out["painter"][0], out["painter-nolineage"][0]
    assert np.array_equal(a.labels, b.labels) and {"painter_s", "painter_nolineage_s"} <= set(timings)
    lin = video.masks.lineage
    daughters = np.isin(a.labels, lin[lin[:, 3] > 0, 0])
    founders_only = np.isin(a.labels, lin[(lin[:, 3] == 0) & ~np.isin(lin[:, 0], lin[:, 3]), 0])
    assert not np.array_equal(a.images[daughters], b.images[daughters])
    assert np.abs(a.images[founders_only].astype(float) - b.images[founders_only]).mean() < \
        np.abs(a.images[daughters].astype(float) - b.images[daughters]).mean()
    with pytest.raises(UserError, match="unknown"):
        render_synthetic(video, [("seq", video.masks)], tmp_path / "w", renderers=["painter-lineage"])


def test_synthetic_masks_of_a_dividing_fold_start_with_its_first_frame():
    """A fold whose cells divide is grown from its first frame's cells (the colony then grows as the
    fold's does), from one founder when that frame is empty; a fold without divisions keeps its
    largest per-frame count; synth_frames lengthens the masksynth sequences."""
    from masksynth import SynthConfig, relineage, synthesize
    from tgan_aug.errors import UserError
    from tgan_aug.fold_data import synthetic_masks

    cfg = SynthConfig.preset("mid", "flat").replace(size=(160, 192), frames=12, cells=3, mean_area=120.0,
                                                     division_rate=0.15, min_division_age=2, speed_mean=1.0)
    dividing = synthesize(cfg, seed=3)
    counts = dividing.cells_per_frame()
    assert dividing.n_divisions > 0 and counts[-1] > counts[0]
    (_, syn), = synthetic_masks(dividing, layout="flat", seed=0, n_aug=0, n_synth=1)
    assert syn.cells_per_frame()[0] == counts[0]
    (_, longer), = synthetic_masks(dividing, layout="flat", seed=0, n_aug=0, n_synth=1, synth_frames=1.5)
    assert longer.n_frames == 18 and longer.cells_per_frame()[-1] > syn.cells_per_frame()[-1]  # the colony grows on
    with pytest.raises(UserError, match="synth_frames"):
        synthetic_masks(dividing, layout="flat", seed=0, n_aug=0, n_synth=1, synth_frames=0)
    late = relineage(np.where(np.arange(12)[:, None, None] < 2, 0, dividing.labels), dividing.lineage)  # cells from frame 2
    (_, syn), = synthetic_masks(late, layout="flat", seed=0, n_aug=0, n_synth=1)
    assert late.cells_per_frame()[0] == 0 and syn.cells_per_frame()[0] == 1
    still = synthesize(cfg.replace(division_rate=0.0, enter_rate=0.3), seed=3)
    assert still.n_divisions == 0 and still.cells_per_frame().max() > still.cells_per_frame()[0]
    (_, syn), = synthetic_masks(still, layout="flat", seed=0, n_aug=0, n_synth=1)
    assert syn.cells_per_frame()[0] == still.cells_per_frame().max()
