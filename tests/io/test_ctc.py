"""CTC folders: reading every layout, writing atomically, and acceptance by independent readers."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import tifffile

from masksynth import NotLinkedError, TrackedMasks, TrackedVideo
from tgan_aug.errors import UserError
from tgan_aug.io import ctc as ctc_mod
from tgan_aug.io.ctc import list_ctc_sequences, read_ctc, read_man_track, write_ctc


def _unlinked_labels(frames: int = 5) -> np.ndarray:
    """Three fixed squares whose ids rotate every frame: per-frame labels, not linked over time."""
    labels = np.zeros((frames, 32, 48), dtype=np.uint16)
    for t in range(frames):
        for k in range(3):
            labels[t, 4:14, 4 + 14 * k : 14 + 14 * k] = (k + t) % 3 + 1
    return labels


# ------------------------------------------------------------------------------------ reading


@pytest.mark.parametrize("sub", ["", "01", "01_GT", "01_GT/TRA"])
def test_read_any_folder_of_the_sequence(ctc_dir, video, sub):
    got = read_ctc(ctc_dir / sub if sub else ctc_dir)
    assert isinstance(got, TrackedVideo)
    assert got.masks == video.masks
    np.testing.assert_array_equal(got.images, video.images)
    assert got.images.dtype == np.uint8
    assert got.provenance["lineage"] == "man_track.txt"


def test_read_four_digit_frames_and_uint16_images(tmp_path, tracked, video_maker, ctc_writer):
    video = video_maker(tracked, dtype=np.uint16)
    root = ctc_writer(tmp_path / "ds", video.labels, lineage=video.lineage, images=video.images, digits=4)
    got = read_ctc(root)
    assert got.images.dtype == np.uint16
    np.testing.assert_array_equal(got.images, video.images)
    assert got.masks == video.masks


def test_read_without_images(ctc_dir, video):
    got = read_ctc(ctc_dir, images=False)
    assert isinstance(got, TrackedMasks) and got == video.masks


def test_silver_truth_seg_lineage_derived_from_ids(tmp_path, video, ctc_writer):
    root = ctc_writer(tmp_path / "ds", video.labels, images=video.images, truth="ST", kind="SEG")
    got = read_ctc(root)
    assert got.provenance["masks"] == "01_ST/SEG"
    assert got.provenance["lineage"] == "derived from mask ids"
    np.testing.assert_array_equal(got.labels, video.labels)
    expected = video.lineage.copy()
    expected[:, 3] = 0  # SEG ids carry no parent links
    np.testing.assert_array_equal(got.lineage, expected)


def test_tra_without_man_track_derives_lineage(tmp_path, video, ctc_writer):
    root = ctc_writer(tmp_path / "ds", video.labels, images=video.images)
    got = read_ctc(root)
    assert got.provenance["lineage"] == "derived from mask ids"
    np.testing.assert_array_equal(got.lineage[:, :3], video.lineage[:, :3])


def test_unlinked_seg_is_refused_not_guessed(tmp_path, ctc_writer):
    root = ctc_writer(tmp_path / "ds", _unlinked_labels(), truth="ST", kind="SEG")
    with pytest.raises(NotLinkedError, match="does not guess links") as info:
        read_ctc(root)
    assert "01_ST/SEG" in str(info.value)


def test_sparse_gold_seg_is_refused_with_the_reason(tmp_path, video, ctc_writer):
    root = ctc_writer(tmp_path / "ds", video.labels, truth="GT", kind="SEG", frames=[0, 2, 5])
    with pytest.raises(UserError, match=r"frames 1, 3, 4 missing.*gold-truth SEG"):
        read_ctc(root)


def test_auto_prefers_tracking_masks_and_options_select(tmp_path, video, ctc_writer):
    root = ctc_writer(tmp_path / "ds", video.labels, lineage=video.lineage, images=video.images)
    ctc_writer(root, video.labels, truth="ST", kind="SEG")
    assert read_ctc(root).provenance["masks"] == "01_GT/TRA"
    assert read_ctc(root, gt="ST").provenance["masks"] == "01_ST/SEG"
    assert read_ctc(root, kind="SEG").provenance["masks"] == "01_ST/SEG"
    with pytest.raises(UserError, match="no mask files for sequence 01"):
        read_ctc(root, gt="GT", kind="SEG")


def test_several_sequences(tmp_path, video, ctc_writer):
    root = ctc_writer(tmp_path / "ds", video.labels, lineage=video.lineage, images=video.images)
    ctc_writer(root, video.labels, lineage=video.lineage, sequence="02")
    assert list_ctc_sequences(root) == ["01", "02"]
    assert list_ctc_sequences(root / "02_GT") == ["02"]
    with pytest.raises(UserError, match="holds sequences 01, 02; choose one"):
        read_ctc(root)
    assert isinstance(read_ctc(root, sequence="02"), TrackedMasks)
    with pytest.raises(UserError, match="sequence '01' but sequence='02'"):
        read_ctc(root / "01_GT", sequence="02")


def test_man_track_malformed_line_names_file_and_line(ctc_dir):
    path = ctc_dir / "01_GT" / "TRA" / "man_track.txt"
    path.write_text("1 0 2 0\n2 0 x 0\n")
    with pytest.raises(UserError, match=r"man_track.txt line 2: expected 4 integers"):
        read_man_track(path)


def test_gap_in_frame_numbers(ctc_dir):
    os.remove(ctc_dir / "01_GT" / "TRA" / "man_track002.tif")
    with pytest.raises(UserError, match=r"TRA: mask files for frames 2 missing"):
        read_ctc(ctc_dir)


# ------------------------------------------------------------------------------------ writing


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_write_read_round_trip_is_exact(tmp_path, tracked, dtype, video_maker):
    video = video_maker(tracked, dtype=dtype)
    out = write_ctc(tmp_path / "out", video, sequence="03", seg=True)
    assert out == tmp_path / "out"
    got = read_ctc(out)
    assert got.masks == video.masks
    assert got.images.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got.images, video.images)
    # independent reader: tifffile on every file, man_track.txt as text
    for t in range(video.n_frames):
        np.testing.assert_array_equal(tifffile.imread(out / "03_GT" / "TRA" / f"man_track{t:03d}.tif"), video.labels[t])
        np.testing.assert_array_equal(tifffile.imread(out / "03_GT" / "SEG" / f"man_seg{t:03d}.tif"), video.labels[t])
        np.testing.assert_array_equal(tifffile.imread(out / "03" / f"t{t:03d}.tif"), video.images[t])
    rows = [list(map(int, line.split())) for line in (out / "03_GT" / "TRA" / "man_track.txt").read_text().splitlines()]
    assert rows == video.lineage.tolist()


def test_write_masks_only_and_four_digits(tmp_path, tracked):
    out = write_ctc(tmp_path / "out", tracked, digits=4)
    assert not (out / "01").exists()
    assert (out / "01_GT" / "TRA" / "man_track0000.tif").is_file()
    assert read_ctc(out) == tracked


def test_existing_output_needs_overwrite(tmp_path, video, tracked_factory, video_maker):
    out = write_ctc(tmp_path / "out", video)
    with pytest.raises(UserError, match=r"out/01 already exists; pass --overwrite"):
        write_ctc(out, video)
    other = video_maker(tracked_factory(seed=3, frames=4))
    write_ctc(out, other, sequence="02")  # another sequence in the same dataset is fine
    write_ctc(out, other, overwrite=True)
    assert read_ctc(out, sequence="01").masks == other.masks
    assert read_ctc(out, sequence="02").masks == other.masks
    assert sorted(p.name for p in out.iterdir()) == ["01", "01_GT", "02", "02_GT"]


@pytest.mark.parametrize("existing", [False, True])
def test_interrupted_write_leaves_nothing_that_looks_finished(tmp_path, video, monkeypatch, existing):
    out = tmp_path / "out"
    if existing:
        write_ctc(out, video)
    calls = {"n": 0}
    real = ctc_mod.write_tiff

    def failing(path, array):
        calls["n"] += 1
        if calls["n"] > 4:
            raise OSError(28, "No space left on device")
        real(path, array)

    monkeypatch.setattr(ctc_mod, "write_tiff", failing)
    with pytest.raises(OSError):
        write_ctc(out, video, overwrite=True)
    monkeypatch.undo()
    if existing:  # the old output is untouched and no partial folder is left
        assert read_ctc(out).masks == video.masks
        assert sorted(p.name for p in out.iterdir()) == ["01", "01_GT"]
    else:
        assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_write_rejects_bad_arguments(tmp_path, video):
    with pytest.raises(UserError, match="two or more digits"):
        write_ctc(tmp_path / "o", video, sequence="a1")
    with pytest.raises(UserError, match="digits must be 3 or 4"):
        write_ctc(tmp_path / "o", video, digits=5)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is not a folder"):
        write_ctc(tmp_path / "file", video)


# ------------------------------------------------------------------ accepted by independent tools


def test_written_ctc_passes_py_ctcmetrics_validation(tmp_path, video):
    pytest.importorskip("ctc_metrics")
    from ctc_metrics.metrics import valid
    from ctc_metrics.utils.filesystem import parse_masks, read_tracking_file
    from ctc_metrics.utils.representations import match

    out = write_ctc(tmp_path / "out", video)
    tra = str(out / "01_GT" / "TRA")
    tracks = read_tracking_file(os.path.join(tra, "man_track.txt"))
    masks = parse_masks(tra)
    assert len(masks) == video.n_frames
    labels = [match(None, m)[1] for m in masks]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # any complaint fails the test
        assert valid(masks, tracks, labels) == 1
    # the same check rejects a broken file (so the test can fail)
    bad = tracks.copy()
    bad[0, 2] += 1
    with pytest.warns(UserWarning):
        assert valid(masks, bad, labels) == 0


def test_written_ctc_loads_in_trackastra_ctcdata(tmp_path, tracked_factory, video_maker):
    pytest.importorskip("trackastra")
    import sys

    from trackastra.data import CTCData

    video = video_maker(tracked_factory(frames=8))
    out = write_ctc(tmp_path / "out", video)
    data = CTCData(root=str(out / "01"), ndim=2, window_size=4, features="regionprops")
    assert len(data) > 0
    np.testing.assert_array_equal(data.gt_masks, video.labels.astype(np.int32))
    assert sum(data.n_divs) > 0  # the division 1 -> 4, 5 is seen
    assert not any(m.split(".")[0] in ("torchvision", "lightning", "torchmetrics") for m in sys.modules)
