"""Stores are OME-Zarr 0.5: validated with ome-zarr-models, read by ome-zarr-py; format 1 stores still open."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from ome_zarr_models.v05.image import Image
from ome_zarr_models.v05.image_label import ImageLabel
from ome_zarr_models.v05.labels import Labels

from tgan_aug.errors import UserError
from tgan_aug.io import read_store, write_store
from tgan_aug.io.ome import image_attrs


def test_sequence_with_images_validates_as_ome_image_with_label_image(tmp_path, video):
    store = tmp_path / "s.zarr"
    write_store(store, video, name="clip")
    group = zarr.open_group(str(store / "clip"), mode="r")
    image = Image.from_zarr(group)  # raises pydantic.ValidationError when not OME-Zarr 0.5
    [multiscale] = image.attributes.ome.multiscales
    assert [(a.name, a.type, a.unit) for a in multiscale.axes] == [
        ("t", "time", "frame"), ("y", "space", "pixel"), ("x", "space", "pixel")]
    assert [d.path for d in multiscale.datasets] == ["0"]
    labels = Labels.from_zarr(group["labels"])
    assert labels.label_paths == ["tracks"]
    label = ImageLabel.from_zarr(group["labels/tracks"])
    assert label.attributes.ome.image_label.source.image == "../../"
    # tgan-aug's own attributes and lineage stay beside the OME metadata
    attrs = dict(group.attrs)
    assert attrs["complete"] is True and attrs["format_version"] == 2 and attrs["n_tracks"] == len(video.lineage)
    np.testing.assert_array_equal(group["lineage"][...], video.lineage)


def test_masks_only_sequence_has_a_valid_label_image(tmp_path, tracked):
    store = tmp_path / "s.zarr"
    write_store(store, tracked)
    group = zarr.open_group(str(store / "seq000"), mode="r")
    assert "ome" not in group.attrs  # no image: the sequence group is no multiscale image
    assert Labels.from_zarr(group["labels"]).label_paths == ["tracks"]
    assert ImageLabel.from_zarr(group["labels/tracks"]).attributes.ome.image_label.source is None


def test_ome_zarr_py_reads_image_and_labels(tmp_path, video):
    """ome-zarr-py (the reader behind napari-ome-zarr) finds the image and its label layer."""
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    store = tmp_path / "s.zarr"
    write_store(store, video, name="clip")
    nodes = list(Reader(parse_url(str(store / "clip")))())
    by_path = {n.zarr.path.rstrip("/").rsplit("/", 1)[-1]: n for n in nodes}
    image, label = by_path["clip"], by_path["tracks"]
    assert [a["name"] for a in image.metadata["axes"]] == ["t", "y", "x"]
    np.testing.assert_array_equal(np.asarray(image.data[0]), video.images)
    np.testing.assert_array_equal(np.asarray(label.data[0]), video.labels)
    assert any(type(s).__name__ == "Label" for s in label.specs)


def test_validation_is_not_vacuous(tmp_path, video):
    """The validator used above rejects a sequence whose multiscale names a missing level."""
    store = tmp_path / "s.zarr"
    write_store(store, video, name="clip")
    group = zarr.open_group(str(store / "clip"), mode="r+")
    ome = image_attrs("clip")
    ome["multiscales"][0]["datasets"][0]["path"] = "images"  # the format-1 path, absent now
    group.attrs["ome"] = ome
    with pytest.raises(ValueError, match="Expected to find an array at images"):
        Image.from_zarr(zarr.open_group(str(store / "clip"), mode="r"))


def _write_format_1(path, video):
    """A store as format version 1 wrote it: labels / images arrays directly in the sequence."""
    root = zarr.open_group(str(path), mode="w", zarr_format=3,
                           attributes={"tgan_aug": {"format": "tgan-aug-store", "format_version": 1}})
    group = root.create_group("seq000")
    for key, data in (("labels", video.labels), ("images", video.images)):
        group.create_array(key, data=data, chunks=(1, *data.shape[1:]), dimension_names=("t", "y", "x"))
    group.create_array("lineage", data=video.lineage)
    group.attrs.update({"format_version": 1, "axes": ["t", "y", "x"], "shape": list(video.labels.shape),
                        "image_dtype": "uint8", "intensity_range": list(video.intensity_range),
                        "provenance": {}, "n_tracks": len(video.lineage), "complete": True})


def test_format_1_stores_keep_opening_and_accept_new_sequences(tmp_path, video, tracked):
    store = tmp_path / "old.zarr"
    _write_format_1(store, video)
    got = read_store(store, "seq000")
    np.testing.assert_array_equal(got.images, video.images)
    assert got.masks == video.masks
    write_store(store, tracked, name="new")  # a format-2 sequence beside the old one
    assert read_store(store, "new") == tracked and read_store(store, "seq000").masks == video.masks
    zarr.open_group(str(store / "seq000"), mode="r+").attrs["format_version"] = 7
    with pytest.raises(UserError, match="format version 7, newer than .*upgrade tgan-aug"):
        read_store(store, "seq000")
