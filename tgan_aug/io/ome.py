"""OME-Zarr 0.5 (NGFF) metadata for store sequences, built with ``ome-zarr-models``.

A sequence group is an OME-Zarr multiscale image (its images, level ``"0"``) with an OME label
image under ``labels/tracks`` (the track-id masks, level ``"0"``). The metadata is built from
``ome-zarr-models``' pydantic models (the OME-Zarr community's validating models) rather than
written by hand, so what the store carries is checked against the specification when written.

Axes are (t, y, x). Without a calibration the units are ``frame`` and ``pixel`` (the GEFF
convention for uncalibrated data; OME-Zarr readers show them as given) and every scale is 1.
"""

from __future__ import annotations

from typing import Any

from masksynth.tracked import AXES

__all__ = ["IMAGE_PATH", "LABEL_NAME", "LABELS_PATH", "image_attrs", "label_image_attrs", "labels_group_attrs"]

#: Path of the full-resolution image array inside a sequence group (multiscale level 0).
IMAGE_PATH = "0"
#: Name of the label image (OME ``labels`` list entry) and its level-0 array path.
LABEL_NAME = "tracks"
LABELS_PATH = f"labels/{LABEL_NAME}/0"

_TYPES = {"t": "time", "y": "space", "x": "space"}
_UNITS = {"t": "frame", "y": "pixel", "x": "pixel"}


def _multiscale(name: str, scale: tuple[float, float, float]):
    from ome_zarr_models.v05.axes import Axis
    from ome_zarr_models.v05.multiscales import Dataset, Multiscale

    axes = tuple(Axis(name=a, type=_TYPES[a], unit=_UNITS[a]) for a in AXES)
    return Multiscale(
        axes=axes,
        datasets=(Dataset.build(path=IMAGE_PATH, scale=list(scale), translation=None),),
        name=name,
    )


def _dump(model) -> dict[str, Any]:
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


def image_attrs(name: str, *, scale: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> dict[str, Any]:
    """The ``ome`` attribute of a sequence group: one multiscale image, axes (t, y, x), level "0"."""
    from ome_zarr_models.v05.image import ImageAttrs

    return _dump(ImageAttrs(version="0.5", multiscales=[_multiscale(name, scale)]))


def labels_group_attrs() -> dict[str, Any]:
    """The ``ome`` attribute of the ``labels`` group: lists the one label image ``tracks``."""
    from ome_zarr_models.v05.labels import LabelsAttrs

    return _dump(LabelsAttrs(version="0.5", labels=[LABEL_NAME]))


def label_image_attrs(
    *, scale: tuple[float, float, float] = (1.0, 1.0, 1.0), has_image: bool
) -> dict[str, Any]:
    """The ``ome`` attribute of ``labels/tracks``: a multiscale label image (track ids, level "0").

    has_image: the sequence group holds images (the label image then names it as its source).
    """
    from ome_zarr_models.v05.image_label import ImageLabelAttrs
    from ome_zarr_models.v05.image_label_types import Label, Source

    label = Label(version="0.5", source=Source(image="../../") if has_image else None)
    attrs = ImageLabelAttrs(
        version="0.5", multiscales=[_multiscale(LABEL_NAME, scale)], **{"image-label": label}
    )
    return _dump(attrs)
