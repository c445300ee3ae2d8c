"""load_tracked: dispatch on what the path is, and a clear one-line UserError for every bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tifffile

from masksynth import TrackedVideo
from tgan_aug.errors import UserError
from tgan_aug.io import load_tracked, write_ctc, write_store
from tgan_aug.io.load import describe_source, split_pair


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


# ------------------------------------------------------------------------------------ dispatch


def test_dispatch_store_ctc_and_pair(tmp_path, video, ctc_dir):
    store = tmp_path / "s.zarr"
    write_store(store, video, name="a")
    write_store(store, video.masks, name="b")
    got = load_tracked(store)
    assert [name for name, _ in got] == ["a", "b"]
    assert got[0][1].masks == video.masks and got[1][1] == video.masks
    assert [n for n, _ in load_tracked(store, sequence="b")] == ["b"]

    [(name, data)] = load_tracked(ctc_dir)
    assert name == "01" and isinstance(data, TrackedVideo) and data.masks == video.masks
    assert load_tracked(ctc_dir / "01_GT")[0][1].masks == video.masks

    img, msk = tmp_path / "i.tif", tmp_path / "m.tif"
    tifffile.imwrite(img, video.images, photometric="minisblack")
    tifffile.imwrite(msk, video.labels, photometric="minisblack")
    [(name, data)] = load_tracked(f"{img}:{msk}")
    assert name == "m" and np.array_equal(data.labels, video.labels)
    assert describe_source(f"{img}:{msk}") == "tiff-pair"
    assert describe_source(store) == "store" and describe_source(ctc_dir) == "ctc"


def test_several_ctc_sequences(tmp_path, video, tracked_factory, video_maker):
    root = write_ctc(tmp_path / "ds", video)
    write_ctc(root, video_maker(tracked_factory(seed=4, frames=3)), sequence="02")
    got = load_tracked(root)
    assert [n for n, _ in got] == ["01", "02"] and got[1][1].n_frames == 3
    assert [n for n, _ in load_tracked(root, sequence="02")] == ["02"]
    with pytest.raises(UserError, match="has no annotated CTC sequence '03'"):
        load_tracked(root, sequence="03")


def test_split_pair():
    assert split_pair("a/b.tif:c/d.tiff") is not None
    assert split_pair("a/b.tif") is None
    assert split_pair("a:b") is None


# ------------------------------------------------------------------------------------ bad input


def test_missing_path(tmp_path):
    with pytest.raises(UserError, match=r"nope does not exist; give a CTC dataset folder") as info:
        load_tracked(tmp_path / "nope")
    _one_line(info)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"empty is empty; give a CTC dataset folder") as info:
        load_tracked(tmp_path / "empty")
    _one_line(info)


def test_folder_that_is_no_dataset_and_single_tiff(tmp_path, video):
    (tmp_path / "misc").mkdir()
    (tmp_path / "misc" / "notes.txt").write_text("hello")
    with pytest.raises(UserError, match="neither a tgan-aug store nor a CTC dataset"):
        load_tracked(tmp_path / "misc")
    tifffile.imwrite(tmp_path / "one.tif", video.images, photometric="minisblack")
    with pytest.raises(UserError, match="single TIFF; give the images and masks as IMAGES.tif:MASKS.tif"):
        load_tracked(tmp_path / "one.tif")


@pytest.mark.parametrize("which", ["01_GT/TRA/man_track003.tif", "01/t004.tif"])
def test_truncated_tiff_names_the_file(ctc_dir, which):
    path = ctc_dir / which
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=rf"cannot read TIFF .*{os.path.basename(which)} .*truncated or corrupt") as info:
        load_tracked(ctc_dir)
    _one_line(info)


def test_truncated_tiff_pair(tmp_path, video):
    img, msk = tmp_path / "i.tif", tmp_path / "m.tif"
    tifffile.imwrite(img, video.images, photometric="minisblack")
    tifffile.imwrite(msk, video.labels, photometric="minisblack")
    img.write_bytes(img.read_bytes()[:300])
    with pytest.raises(UserError, match=r"cannot read TIFF .*i.tif"):
        load_tracked(f"{img}:{msk}")


def test_images_and_masks_with_different_frame_counts(ctc_dir, video):
    tifffile.imwrite(ctc_dir / "01" / "t006.tif", video.images[0], photometric="minisblack")
    with pytest.raises(UserError, match=r"01 has 7 frames but .*TRA has 6; images and masks must cover the same frames"):
        load_tracked(ctc_dir)
    assert load_tracked(ctc_dir, images=False)[0][1] == video.masks  # the masks alone still read


def test_images_and_masks_with_different_sizes(ctc_dir, video):
    for t in range(video.n_frames):
        tifffile.imwrite(ctc_dir / "01" / f"t{t:03d}.tif", video.images[t, :40], photometric="minisblack")
    with pytest.raises(UserError, match=r"t000.tif: images are 40x64 but masks in .*TRA are 48x64"):
        load_tracked(ctc_dir)


def test_one_frame_with_another_size(ctc_dir, video):
    tifffile.imwrite(ctc_dir / "01_GT" / "TRA" / "man_track002.tif", video.labels[2, :, :60], photometric="minisblack")
    with pytest.raises(UserError, match=r"man_track002.tif: frame size \(48, 60\) differs from man_track000.tif \(48, 64\)"):
        load_tracked(ctc_dir)


def test_man_track_that_contradicts_the_masks_names_track_and_frame(ctc_dir):
    path = ctc_dir / "01_GT" / "TRA" / "man_track.txt"
    rows = [line.split() for line in path.read_text().splitlines()]
    for row in rows:
        if row[0] == "2":
            row[2] = "4"  # track 2 really ends at frame 5
    path.write_text("".join(" ".join(r) + "\n" for r in rows))
    with pytest.raises(UserError, match=r"man_track.txt contradicts the masks in .*TRA: track 2, frame 5: ") as info:
        load_tracked(ctc_dir)
    _one_line(info)


def test_ids_above_65535_are_refused(ctc_dir, video):
    big = video.labels[1].astype(np.uint32)
    big[big == 2] = 70000
    tifffile.imwrite(ctc_dir / "01_GT" / "TRA" / "man_track001.tif", big, photometric="minisblack")
    with pytest.raises(UserError, match=r"man_track001.tif: label id 70000 does not fit in uint16 \(max 65535\)"):
        load_tracked(ctc_dir)


def test_negative_and_fractional_labels_are_refused(ctc_dir, video):
    path = ctc_dir / "01_GT" / "TRA" / "man_track000.tif"
    tifffile.imwrite(path, video.labels[0].astype(np.int32) - 1, photometric="minisblack")
    with pytest.raises(UserError, match="label ids must be >= 0"):
        load_tracked(ctc_dir)
    tifffile.imwrite(path, video.labels[0].astype(np.float32) + 0.5, photometric="minisblack")
    with pytest.raises(UserError, match="whole numbers"):
        load_tracked(ctc_dir)
