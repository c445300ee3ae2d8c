"""zarr stores: streaming writes, completeness marker, versions, several sequences, lazy access."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr

from masksynth import CTCValidationError, TrackedMasks, TrackedVideo
from tgan_aug.errors import UserError
from tgan_aug.io.store import (
    FORMAT_VERSION,
    StoreWriter,
    is_store,
    list_store_sequences,
    open_store_sequence,
    read_store,
    write_store,
)


def test_round_trip_video_is_exact(tmp_path, video):
    store = tmp_path / "s.zarr"
    assert write_store(store, video) == "seq000"
    got = read_store(store)
    assert isinstance(got, TrackedVideo)
    assert got.masks == video.masks
    np.testing.assert_array_equal(got.images, video.images)
    assert got.images.dtype == video.images.dtype
    assert got.intensity_range == video.intensity_range
    assert got.provenance == {"made_by": "tests"}


def test_layout_attributes_and_chunks_read_by_plain_zarr(tmp_path, video):
    store = tmp_path / "s.zarr"
    write_store(store, video, name="clip")
    root = zarr.open_group(str(store), mode="r")
    assert root.attrs["tgan_aug"]["format_version"] == FORMAT_VERSION
    group = root["clip"]
    attrs = dict(group.attrs)
    assert attrs["axes"] == ["t", "y", "x"] and attrs["complete"] is True
    assert attrs["image_dtype"] == "uint8" and attrs["shape"] == list(video.labels.shape)
    assert attrs["intensity_range"] == list(video.intensity_range)
    for key in ("labels/tracks/0", "0"):  # OME label image level 0, image level 0
        assert group[key].chunks == (1, *video.labels.shape[1:])
        assert tuple(group[key].metadata.dimension_names) == ("t", "y", "x")
    np.testing.assert_array_equal(group["labels/tracks/0"][...], video.labels)
    np.testing.assert_array_equal(group["0"][...], video.images)
    np.testing.assert_array_equal(group["lineage"][...], video.lineage)


def test_masks_only_and_several_sequences(tmp_path, tracked, video):
    store = tmp_path / "s.zarr"
    write_store(store, tracked)
    assert write_store(store, video, name=None) == "seq001"
    write_store(store, video, name="real_01")
    assert list_store_sequences(store) == ["real_01", "seq000", "seq001"]
    assert isinstance(read_store(store, "seq000"), TrackedMasks)
    assert read_store(store, "seq000") == tracked
    with pytest.raises(UserError, match="holds sequences real_01, seq000, seq001; choose one"):
        read_store(store)
    with pytest.raises(UserError, match="has no sequence 'nope'"):
        read_store(store, "nope")


def test_existing_sequence_needs_overwrite(tmp_path, video, tracked_factory):
    store = tmp_path / "s.zarr"
    write_store(store, video)
    with pytest.raises(UserError, match=r"sequence 'seq000' already exists; pass --overwrite"):
        write_store(store, video)
    other = tracked_factory(seed=2, frames=4)
    write_store(store, other, overwrite=True)
    assert read_store(store) == other


def test_streaming_writer_frame_by_frame(tmp_path, video):
    store = tmp_path / "s.zarr"
    with StoreWriter(store, "s", shape=video.labels.shape, image_dtype="uint8", provenance={"seed": 1}) as w:
        for t in reversed(range(video.n_frames)):  # any order
            w.write_frame(t, video.labels[t], video.images[t])
        w.finalize(video.lineage[::-1])  # rows in any order; stored sorted by id
    got = read_store(store, "s")
    assert got.masks == video.masks
    assert got.intensity_range == (float(video.images.min()), float(video.images.max()))
    assert got.provenance == {"seed": 1}


def test_lazy_access(tmp_path, video):
    store = tmp_path / "s.zarr"
    write_store(store, video)
    seq = open_store_sequence(store, "seq000")
    assert seq.shape == video.labels.shape and seq.n_frames == video.n_frames
    np.testing.assert_array_equal(seq.labels[2], video.labels[2])
    np.testing.assert_array_equal(seq.images[3], video.images[3])
    np.testing.assert_array_equal(seq.lineage, video.lineage)


def test_interrupted_write_is_never_complete(tmp_path, video):
    store = tmp_path / "s.zarr"
    with pytest.raises(KeyboardInterrupt):
        with StoreWriter(store, "seq000", shape=video.labels.shape, image_dtype="uint8") as w:
            for t in range(3):
                w.write_frame(t, video.labels[t], video.images[t])
            raise KeyboardInterrupt  # simulated kill in the middle of the write
    assert list_store_sequences(store) == ["seq000"]
    with pytest.raises(UserError, match=r"seq000 is incomplete .*again with --overwrite"):
        read_store(store)
    with pytest.raises(UserError, match="incomplete"):
        open_store_sequence(store, "seq000")
    write_store(store, video, overwrite=True)  # the fix the message gives works
    assert read_store(store).masks == video.masks


def test_closing_without_finalize_is_an_error(tmp_path, video):
    with pytest.raises(RuntimeError, match="without finalize"):
        with StoreWriter(tmp_path / "s.zarr", "a", shape=video.labels.shape) as w:
            w.write_frame(0, video.labels[0])
    with pytest.raises(UserError, match="incomplete"):
        read_store(tmp_path / "s.zarr")


def test_finalize_checks_frames_and_lineage(tmp_path, video):
    with StoreWriter(tmp_path / "s.zarr", "a", shape=video.labels.shape) as w:
        w.write_frame(0, video.labels[0])
        with pytest.raises(UserError, match="frames 1, 2, 3, 4, 5 were never written"):
            w.finalize(video.lineage)
        for t in range(1, video.n_frames):
            w.write_frame(t, video.labels[t])
        bad = video.lineage.copy()
        bad[1, 2] -= 1  # track 2 ends one frame early
        with pytest.raises(CTCValidationError, match=r"track 2, frame 5"):
            w.finalize(bad)
        w.finalize(video.lineage)
    assert read_store(tmp_path / "s.zarr") == video.masks


def test_write_frame_rejects_bad_frames(tmp_path, video):
    with pytest.raises(RuntimeError):
        with StoreWriter(tmp_path / "s.zarr", "a", shape=video.labels.shape, image_dtype="uint8") as w:
            with pytest.raises(UserError, match="outside the sequence's frames 0..5"):
                w.write_frame(6, video.labels[0], video.images[0])
            with pytest.raises(UserError, match=r"labels have shape \(2, 2\)"):
                w.write_frame(0, np.zeros((2, 2), np.uint16), video.images[0])
            with pytest.raises(UserError, match="images are required"):
                w.write_frame(0, video.labels[0])
            with pytest.raises(UserError, match="does not fit in uint16"):
                w.write_frame(0, video.labels[0].astype(np.int64) + 70000, video.images[0])
            with pytest.raises(UserError, match="image dtype float64 does not fit the store's uint8"):
                w.write_frame(0, video.labels[0], video.images[0].astype(np.float64))


def test_newer_format_version_is_refused(tmp_path, video):
    store = tmp_path / "s.zarr"
    write_store(store, video)
    meta = store / "seq000" / "zarr.json"
    doc = json.loads(meta.read_text())
    doc["attributes"]["format_version"] = FORMAT_VERSION + 1
    meta.write_text(json.dumps(doc))
    with pytest.raises(UserError, match=rf"format version {FORMAT_VERSION + 1}, newer than .*upgrade tgan-aug"):
        read_store(store)
    meta = store / "zarr.json"
    doc = json.loads(meta.read_text())
    doc["attributes"]["tgan_aug"]["format_version"] = FORMAT_VERSION + 5
    meta.write_text(json.dumps(doc))
    with pytest.raises(UserError, match=rf"store .*s.zarr has format version {FORMAT_VERSION + 5}"):
        list_store_sequences(store)
    with pytest.raises(UserError, match="newer than"):
        write_store(store, video, name="more")


def test_paths_that_are_not_stores(tmp_path, video):
    with pytest.raises(UserError, match="does not exist"):
        read_store(tmp_path / "missing.zarr")
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("x")
    assert not is_store(other)
    with pytest.raises(UserError, match="is not a tgan-aug store"):
        read_store(other)
    with pytest.raises(UserError, match="not empty and is not a tgan-aug store"):
        write_store(other, video)
    empty = tmp_path / "empty"
    empty.mkdir()
    write_store(empty, video)  # an empty folder becomes a store
    assert is_store(empty)


def test_damaged_chunk_is_reported(tmp_path, video):
    store = tmp_path / "s.zarr"
    write_store(store, video)
    chunk = store / "seq000" / "labels" / "tracks" / "0" / "c" / "2" / "0" / "0"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    with pytest.raises(UserError, match="chunk is unreadable"):
        read_store(store)
