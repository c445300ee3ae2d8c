"""Images without masks (what `segment` reads) and folders of per-frame masks (what `track --detections` reads)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from tgan_aug.errors import UserError
from tgan_aug.io.images import read_image_sequences, read_mask_folder


def _write_seq(folder, frames):
    folder.mkdir(parents=True)
    for t, f in enumerate(frames):
        tifffile.imwrite(folder / f"t{t:03d}.tif", f)


def test_ctc_folders_without_annotations_and_tiff_stacks(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 255, (3, 8, 9), dtype=np.uint8), rng.integers(0, 255, (2, 8, 9), dtype=np.uint8)
    _write_seq(tmp_path / "ds" / "01", a)
    _write_seq(tmp_path / "ds" / "02", b)
    (tmp_path / "ds" / "notes").mkdir()
    both = read_image_sequences(tmp_path / "ds")
    assert [n for n, _ in both] == ["01", "02"] and np.array_equal(both[0][1], a) and np.array_equal(both[1][1], b)
    assert [n for n, _ in read_image_sequences(tmp_path / "ds", sequence="02")] == ["02"]
    assert np.array_equal(read_image_sequences(tmp_path / "ds" / "01")[0][1], a)
    tifffile.imwrite(tmp_path / "movie.tif", a)
    assert read_image_sequences(tmp_path / "movie.tif")[0][0] == "movie"
    with pytest.raises(UserError, match="no sequence '03'"):
        read_image_sequences(tmp_path / "ds", sequence="03")
    with pytest.raises(UserError, match="no CTC image folder"):
        read_image_sequences(tmp_path / "ds" / "notes")
    with pytest.raises(UserError, match="does not exist"):
        read_image_sequences(tmp_path / "nope")


def test_mask_folder_needs_contiguous_frames(tmp_path):
    m = np.zeros((6, 6), np.uint16)
    m[1:3, 1:3] = 7
    for t in (0, 1, 3):
        tifffile.imwrite(tmp_path / f"mask{t:03d}.tif", m)
    with pytest.raises(UserError, match="frames 2 missing"):
        read_mask_folder(tmp_path)
    tifffile.imwrite(tmp_path / "mask002.tif", m)
    assert read_mask_folder(tmp_path).shape == (4, 6, 6)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no maskTTT.tif"):
        read_mask_folder(tmp_path / "empty")
