"""``tgan-aug render --renderer painter``: fit from data or a saved file, determinism, store + CTC outputs, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from masksynth.tracked import TrackedVideo
from tgan_aug.io import list_store_sequences, read_ctc, read_store, write_store


@pytest.fixture
def masks_store(tmp_path, tracked_factory):
    path = tmp_path / "masks.zarr"
    for i in range(3):
        write_store(path, tracked_factory(frames=5, height=40, width=56, seed=i), name=f"seq{i:03d}")
    return path


@pytest.fixture
def real_store(tmp_path, tracked_factory):
    """'Real' data to fit on: bright cells (170) on a ramp background (~100) with noise, uint8."""
    masks = tracked_factory(frames=6, height=48, width=64, seed=9)
    rng = np.random.default_rng(0)
    img = 100 + np.linspace(-5, 5, 64)[None, None] + np.where(masks.labels > 0, 70.0, 0.0) + rng.normal(0, 3, masks.labels.shape)
    path = tmp_path / "real.zarr"
    write_store(path, TrackedVideo(masks, np.clip(np.rint(img), 0, 255).astype(np.uint8)), name="real")
    return path


def _render(run_cli, masks, out, *extra: str) -> None:
    code, _, err = run_cli(["render", str(masks), "-o", str(out), "--renderer", "painter", *extra])
    assert code == 0, err


def test_painter_render_is_deterministic_and_passes_labels_through(masks_store, real_store, tmp_path, run_cli, seeded_renders):
    _render(run_cli, masks_store, tmp_path / "a.zarr", "--fit", str(real_store), "--seed", "3")
    _render(run_cli, masks_store, tmp_path / "b.zarr", "--fit", str(real_store), "--seed", "3")
    _render(run_cli, masks_store, tmp_path / "c.zarr", "--fit", str(real_store), "--seed", "4")
    for name, src, a in seeded_renders(masks_store, *(tmp_path / f"{x}.zarr" for x in "abc")):
        assert a.images.dtype == np.uint8 and a.images.shape == src.labels.shape
        assert a.provenance["renderer"] == "painter" and a.provenance["painter_fit"] == str(real_store)
        assert a.provenance["painter_fitted_on"] == ["real"] and a.provenance["seed"] == 3
        # bright cells on a grey background, as in the data it was fitted on
        assert a.images[src.labels > 0].mean() - a.images[src.labels == 0].mean() > 40


def test_saved_fit_renders_like_the_data_and_exports_ctc(masks_store, real_store, tmp_path, run_cli):
    code, _, err = run_cli(["fit-painter", str(real_store), "-o", str(tmp_path / "fit")])
    assert code == 0, err
    fit = tmp_path / "fit.npz"
    assert fit.is_file() and fit.stat().st_size < 300_000
    code, _, err = run_cli(["fit-painter", str(real_store), "-o", str(fit)])
    assert code == 2 and "--overwrite" in err
    _render(run_cli, masks_store, tmp_path / "d.zarr", "--fit", str(real_store), "--seed", "1")
    _render(run_cli, masks_store, tmp_path / "f.zarr", "--fit", str(fit), "--seed", "1", "--ctc", str(tmp_path / "ctc"))
    for i, name in enumerate(list_store_sequences(masks_store)):
        d, f = read_store(tmp_path / "d.zarr", name), read_store(tmp_path / "f.zarr", name)
        np.testing.assert_array_equal(d.images, f.images)
        assert len(f.provenance["painter_fit_sha256"]) == 64
        ctc = read_ctc(tmp_path / "ctc", sequence=f"{i + 1:02d}")
        np.testing.assert_array_equal(ctc.images, f.images)
        np.testing.assert_array_equal(ctc.masks.labels, f.masks.labels)


def test_painter_shards_equal_unsharded(masks_store, real_store, tmp_path, run_cli):
    fit = ["--fit", str(real_store), "--seed", "2"]
    _render(run_cli, masks_store, tmp_path / "all.zarr", *fit)
    for k in range(2):
        _render(run_cli, masks_store, tmp_path / "sh.zarr", *fit, "--shard", f"{k}/2")
    for name in list_store_sequences(masks_store):
        np.testing.assert_array_equal(read_store(tmp_path / "all.zarr", name).images, read_store(tmp_path / "sh.zarr", name).images)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--renderer", "painter"], "--renderer painter needs --fit"),
        (["--renderer", "painter", "--fit", "{tmp}/nope"], r"--fit .*nope: no such file or folder"),
        (["--renderer", "painter", "--fit", "{masks}"], "holds masks but no images"),
        (["--renderer", "painter", "--fit", "{real}", "--checkpoint", "x.pt"], "--checkpoint is for --renderer tgan"),
        (["--renderer", "painter", "--fit", "{real}", "--background", "bank"], "--background is for --renderer tgan"),
        (["--fit", "{real}"], "--fit is for --renderer painter"),
        (["--renderer", "painter", "--fit", "{tmp}/bad.npz"], "cannot read a painter fit"),
    ],
)
def test_painter_errors_name_the_flag(args, message, masks_store, real_store, tmp_path, run_cli):
    (tmp_path / "bad.npz").write_text("no zip")
    args = [a.format(tmp=tmp_path, masks=masks_store, real=real_store) for a in args]
    code, _, err = run_cli(["render", str(masks_store), "-o", str(tmp_path / "v.zarr"), *args])
    assert code == 2
    assert err.count("\n") == 1
    assert re.search(message, err), err
    assert not (tmp_path / "v.zarr").exists()
