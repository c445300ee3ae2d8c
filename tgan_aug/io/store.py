"""zarr v3 stores: work in progress and large outputs, one group per sequence, OME-Zarr 0.5 compatible.

Layout of a store (a folder, usually ``*.zarr``), format version 2::

    STORE/zarr.json                 root group; attributes {"tgan_aug": {"format": "tgan-aug-store",
                                    "format_version": 2}}
    STORE/<name>/                   one group per sequence (seq000, seq001, ... or given names); an
                                    OME-Zarr multiscale image when the sequence has images
        0        (T, Y, X) <dtype>  images (multiscale level 0); only when the sequence has images
        labels/                     OME-Zarr labels group, listing the label image "tracks"
        labels/tracks/0 (T, Y, X) uint16   track ids, 0 = background (OME label image, level 0)
        lineage  (N, 4) int64       rows id, t_start, t_end, parent (CTC man_track.txt)
        attributes: format_version, axes ["t", "y", "x"], shape, image_dtype, intensity_range,
                    provenance, n_tracks, complete; "ome" (multiscales, axes t/y/x in frame/pixel)

Image and label arrays are chunked one frame per chunk. The OME metadata comes from
:mod:`tgan_aug.io.ome`, so napari (napari-ome-zarr), Fiji/MoBIE, bioio and neuroglancer open a
sequence group as an image with its label layer. Format version 1 stores (``labels`` and
``images`` arrays directly in the sequence group, no OME metadata) are still read.

Writes stream frame by frame (:class:`StoreWriter`), so a sequence larger than memory can be
written. ``complete: true`` is written last, after the lineage has been checked against every
frame; a sequence without it (an interrupted write) is refused when read. Chunks are
zstd-compressed with checksums, so a damaged chunk is detected when read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from masksynth.tracked import (
    AXES,
    TrackedMasks,
    TrackedVideo,
    frame_ids,
    validate_frame_ids,
)
from tgan_aug.errors import UserError
from tgan_aug.io._tiff import as_labels
from tgan_aug.io.ome import IMAGE_PATH, LABEL_NAME, LABELS_PATH, image_attrs, label_image_attrs, labels_group_attrs

__all__ = [
    "FORMAT_VERSION",
    "StoreSequence",
    "StoreWriter",
    "is_store",
    "list_store_sequences",
    "open_store_sequence",
    "read_store",
    "write_store",
]

#: Version of the store layout written by this code; readers accept this and older.
#: 1: labels / images arrays in the sequence group; 2: OME-Zarr 0.5 image + label image.
FORMAT_VERSION = 2
#: Array paths inside a sequence group, by format version: (labels, images).
_ARRAY_PATHS = {1: ("labels", "images"), 2: (LABELS_PATH, IMAGE_PATH)}
_ROOT_KEY = "tgan_aug"
#: Frames written per call by write_store (their chunks are compressed in parallel).
_BLOCK = 8
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _compressors():
    from zarr.codecs import ZstdCodec

    return (ZstdCodec(level=1, checksum=True),)


def _root_attrs(path: Path) -> dict[str, Any] | None:
    """The store's root attributes, or None when ``path`` is not a tgan-aug store."""
    meta = path / "zarr.json"
    if not meta.is_file():
        return None
    try:
        doc = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{meta} is unreadable ({exc}); the store is damaged: write it again") from None
    attrs = doc.get("attributes", {}) if isinstance(doc, dict) else {}
    info = attrs.get(_ROOT_KEY)
    return info if isinstance(info, dict) else None


def is_store(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder holding a tgan-aug zarr store."""
    path = Path(path)
    return path.is_dir() and _root_attrs(path) is not None


def _check_version(version: Any, where: str) -> None:
    if not isinstance(version, int):
        raise UserError(f"{where} has no valid format_version (found {version!r}); the store is damaged: write it again")
    if version > FORMAT_VERSION:
        raise UserError(
            f"{where} has format version {version}, newer than this tgan-aug reads (up to "
            f"{FORMAT_VERSION}); upgrade tgan-aug (pip install -U tgan-aug)"
        )


def _open_root(path: Path, *, create: bool):
    """Open (or with ``create``, create) the root group after checking what the path is."""
    import zarr

    if not path.exists():
        if not create:
            raise UserError(f"{path} does not exist; give the path of a tgan-aug store (made by import-ctc or write_store)")
        path.mkdir(parents=True)
    if not path.is_dir():
        raise UserError(f"{path} is a file, not a tgan-aug store folder; choose another path")
    info = _root_attrs(path)
    if info is None:
        if not create:
            raise UserError(f"{path} is not a tgan-aug store (no zarr.json with tgan_aug attributes); check the path")
        if any(path.iterdir()):
            raise UserError(f"{path} exists, is not empty and is not a tgan-aug store; choose a new or empty folder")
        # mode "a" + attributes: zarr.json appears once, complete; never deletes what another
        # process (a shard writing into the same new store) may have created meanwhile.
        attrs = {_ROOT_KEY: {"format": "tgan-aug-store", "format_version": FORMAT_VERSION}}
        return zarr.open_group(store=str(path), mode="a", zarr_format=3, attributes=attrs)
    _check_version(info.get("format_version"), f"store {path}")
    return zarr.open_group(store=str(path), mode="r+" if create else "r", zarr_format=3)


def list_store_sequences(path: str | os.PathLike) -> list[str]:
    """Names of the sequences in a store (sorted), complete or not."""
    path = Path(path)
    _open_root(path, create=False)
    return sorted(
        entry.name
        for entry in os.scandir(path)
        if entry.is_dir() and (Path(entry.path) / "zarr.json").is_file() and not entry.name.startswith(".")
    )


def choose_sequences(path: str | os.PathLike, wanted: list[str] | None) -> list[str]:
    """The store's sequences to export: ``wanted`` (checked, duplicates dropped) or all of them."""
    names = list_store_sequences(path)
    if not names:
        raise UserError(f"{path} holds no sequences; nothing to export")
    if not wanted:
        return names
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise UserError(f"{path} has no sequence {unknown[0]!r}; it holds {', '.join(names)} (--sequence)")
    return list(dict.fromkeys(wanted))


def check_store_target(path: str | os.PathLike, *, append: bool = False, overwrite: bool = False,
                       flag: str = "STORE") -> None:
    """Refuse to write into an existing, non-empty store unless adding (``append``, ``--append``) or
    replacing (``overwrite``, ``--overwrite``) was asked for, so no command adds sequences to an
    existing output silently. ``flag`` names the argument in the message."""
    path = Path(path)
    if append or overwrite or not path.exists():
        return
    if path.is_dir() and not any(path.iterdir()):
        return
    held = list_store_sequences(path) if _root_attrs(path) is not None else []
    what = f"holds sequences {', '.join(held[:5])}{' ...' if len(held) > 5 else ''}" if held else "exists and is not empty"
    raise UserError(f"{flag} {path} {what}; pass --append to add sequences to it, --overwrite to also replace "
                    "sequences of the same names, or choose a new path")


def _next_name(path: Path) -> str:
    existing = set(list_store_sequences(path)) if is_store(path) else set()
    n = 0
    while f"seq{n:03d}" in existing:
        n += 1
    return f"seq{n:03d}"


class StoreWriter:
    """Stream one sequence into a store, frame by frame.

    path: the store folder (created when absent; an existing non-store folder must be empty).
    name: sequence group name (letters, digits, ``_ . -``), e.g. "seq000".
    shape: (T, Y, X) of the sequence.
    image_dtype: dtype of the images (None: masks only).
    intensity_range: (low, high) of the images; default: min and max of the written frames.
    provenance: JSON-serialisable dict saying what made the data.
    overwrite: replace an existing sequence of that name (otherwise UserError).

    Use as a context manager; call :meth:`write_frame` for every t, then :meth:`finalize`.
    Until ``finalize`` succeeds the sequence is marked incomplete and reading it fails.

    >>> with StoreWriter("out.zarr", "seq000", shape=(T, Y, X), image_dtype="uint8") as w:
    ...     for t in range(T):
    ...         w.write_frame(t, labels[t], images[t])
    ...     w.finalize(lineage)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        name: str,
        *,
        shape: tuple[int, int, int],
        image_dtype: Any = None,
        intensity_range: tuple[float, float] | None = None,
        provenance: dict[str, Any] | None = None,
        overwrite: bool = False,
    ) -> None:
        self.path = Path(path)
        self.name = str(name)
        if not _NAME.match(self.name):
            raise UserError(f"sequence name must be letters, digits, '_', '.' or '-' (e.g. seq000), got {name!r}")
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3 or min(shape) < 1:
            raise UserError(f"shape must be (T, Y, X) with positive sizes, got {shape}")
        self.shape = shape
        try:
            self.image_dtype = None if image_dtype is None else np.dtype(image_dtype)
        except TypeError:
            raise UserError(f"image_dtype {image_dtype!r} is not a numpy dtype") from None
        if self.image_dtype is not None and self.image_dtype.kind not in "uif":
            raise UserError(f"image_dtype must be an integer or float dtype, got {self.image_dtype}")
        try:
            json.dumps(provenance or {})
        except TypeError as exc:
            raise UserError(f"provenance must be JSON-serialisable: {exc}") from None
        self._range = intensity_range
        self._lo, self._hi = np.inf, -np.inf
        self._ids: list[np.ndarray | None] = [None] * shape[0]
        self._done = False

        root = _open_root(self.path, create=True)
        if (self.path / self.name).exists():
            if not overwrite:
                raise UserError(
                    f"{self.path}: sequence {self.name!r} already exists; pass --overwrite "
                    "to replace it, or choose another name"
                )
            shutil.rmtree(self.path / self.name)
        group = root.create_group(self.name)
        attrs = {
            "format_version": FORMAT_VERSION,
            "axes": list(AXES),
            "shape": list(shape),
            "image_dtype": None if self.image_dtype is None else self.image_dtype.name,
            "intensity_range": None,
            "provenance": provenance or {},
            "complete": False,
        }
        if self.image_dtype is not None:
            attrs["ome"] = image_attrs(self.name)
        group.attrs.update(attrs)
        chunks = (1, shape[1], shape[2])
        label_group = group.create_group("labels", attributes={"ome": labels_group_attrs()})
        label_group.create_group(
            LABEL_NAME, attributes={"ome": label_image_attrs(has_image=self.image_dtype is not None)}
        )
        self._labels = group.create_array(
            LABELS_PATH, shape=shape, chunks=chunks, dtype="uint16", fill_value=0,
            compressors=_compressors(), dimension_names=AXES,
        )
        self._images = None
        if self.image_dtype is not None:
            self._images = group.create_array(
                IMAGE_PATH, shape=shape, chunks=chunks, dtype=self.image_dtype, fill_value=0,
                compressors=_compressors(), dimension_names=AXES,
            )
        self._group = group

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # On an exception the sequence stays marked incomplete (never mistaken for finished).
        if exc_type is None and not self._done:
            raise RuntimeError(
                f"StoreWriter for {self.path}/{self.name} closed without finalize(lineage); "
                "the sequence stays incomplete"
            )

    def write_frame(self, t: int, labels: np.ndarray, image: np.ndarray | None = None) -> None:
        """Write frame ``t``: labels (Y, X) ids 0..65535; image (Y, X) when the sequence has images."""
        self.write_frames(t, np.asarray(labels)[None], None if image is None else np.asarray(image)[None])

    def write_frames(self, start: int, labels: np.ndarray, images: np.ndarray | None = None) -> None:
        """Write frames ``start .. start+K-1`` at once (chunks are encoded in parallel).

        labels: (K, Y, X) ids 0..65535; images: (K, Y, X) when the sequence has images.
        """
        if self._done:
            raise RuntimeError("write_frames after finalize")
        labels = np.asarray(labels)
        start = int(start)
        stop = start + (labels.shape[0] if labels.ndim == 3 else 1)
        where = f"frame {start}" if stop == start + 1 else f"frames {start}..{stop - 1}"
        if not (0 <= start and stop <= self.shape[0]):
            raise UserError(f"{where}: outside the sequence's frames 0..{self.shape[0] - 1}")
        if labels.shape != (stop - start, *self.shape[1:]):
            raise UserError(f"{where}: labels have shape {labels.shape[1:]}, the store expects {self.shape[1:]} (Y, X)")
        labels = as_labels(labels, f"{where} labels")
        if (images is None) != (self._images is None):
            raise UserError(
                f"{where}: "
                + ("the store was opened without image_dtype, so images cannot be written"
                   if images is not None else "images are required (the store has images)")
            )
        if images is not None:
            images = np.asarray(images)
            if images.shape != labels.shape:
                raise UserError(f"{where}: image has shape {images.shape[1:]}, the store expects {self.shape[1:]} (Y, X)")
            target = self.image_dtype
            if images.dtype != target:
                if not (np.can_cast(images.dtype, target, casting="safe") or images.dtype.kind == target.kind == "f"):
                    raise UserError(
                        f"{where}: image dtype {images.dtype} does not fit the store's {target}; convert the images first"
                    )
                images = images.astype(target)
            self._images[start:stop] = images
            if images.size:
                self._lo = min(self._lo, float(images.min()))
                self._hi = max(self._hi, float(images.max()))
        self._labels[start:stop] = labels
        for k in range(stop - start):
            self._ids[start + k] = frame_ids(labels[k])

    def finalize(self, lineage: np.ndarray) -> None:
        """Check ``lineage`` (N, 4) against every written frame, store it, then mark complete."""
        if self._done:
            return
        missing = [t for t, ids in enumerate(self._ids) if ids is None]
        if missing:
            shown = ", ".join(str(t) for t in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise UserError(f"{self.path}/{self.name}: frames {shown} were never written; write every frame before finalize")
        lineage = np.asarray(lineage, dtype=np.int64).reshape(-1, 4)
        lineage = lineage[np.argsort(lineage[:, 0], kind="stable")]
        validate_frame_ids(self._ids, lineage)  # CTCValidationError names track and frame
        self._group.create_array(
            "lineage", shape=lineage.shape, chunks=(max(len(lineage), 1), 4), dtype="int64",
            fill_value=0, compressors=_compressors(),
        )[...] = lineage
        if self._range is not None:
            lo, hi = (float(v) for v in self._range)
        elif self._images is not None and np.isfinite(self._lo):
            lo, hi = self._lo, self._hi
        else:
            lo = hi = None
        attrs = dict(self._group.attrs)
        attrs.update(
            {
                "intensity_range": None if lo is None else [lo, hi],
                "n_tracks": int(len(lineage)),
                "complete": True,  # the completeness marker: written last
            }
        )
        self._group.attrs.update(attrs)
        self._done = True


@dataclass
class StoreSequence:
    """Lazy view of one complete sequence: zarr arrays read frame by frame on indexing.

    labels: zarr array (T, Y, X) uint16; images: zarr array (T, Y, X) or None;
    lineage: (N, 4) int64 in memory; attrs: the group attributes.
    """

    path: Path
    name: str
    labels: Any
    images: Any
    lineage: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.labels.shape)  # type: ignore[return-value]

    @property
    def n_frames(self) -> int:
        return self.shape[0]

    @property
    def intensity_range(self) -> tuple[float, float] | None:
        r = self.attrs.get("intensity_range")
        return None if r is None else (float(r[0]), float(r[1]))

    @property
    def provenance(self) -> dict[str, Any]:
        return dict(self.attrs.get("provenance") or {})

    def load(self, *, validate: bool = True) -> TrackedVideo | TrackedMasks:
        """All frames in memory: TrackedVideo when the sequence has images, else TrackedMasks."""
        labels = np.asarray(self.labels[...])
        masks = TrackedMasks(labels, self.lineage, validate=validate)
        if self.images is None:
            return masks
        return TrackedVideo(
            masks, np.asarray(self.images[...]), intensity_range=self.intensity_range, provenance=self.provenance
        )


def open_store_sequence(path: str | os.PathLike, name: str) -> StoreSequence:
    """Open one complete sequence for lazy per-frame access (``seq.labels[t]``, ``seq.images[t]``).

    Raises UserError when the store or sequence is missing, incomplete (an interrupted write)
    or written in a newer format version.
    """
    import zarr

    path = Path(path)
    root = _open_root(path, create=False)
    names = list_store_sequences(path)
    if name not in names:
        raise UserError(
            f"{path} has no sequence {name!r}; it holds: {', '.join(names) or 'none'} (choose with --sequence)"
        )
    try:
        group = root[name]
    except Exception as exc:  # unreadable metadata
        raise UserError(f"{path}/{name} is damaged ({exc}); write it again with --overwrite") from None
    attrs = dict(group.attrs)
    _check_version(attrs.get("format_version"), f"sequence {path}/{name}")
    if attrs.get("complete") is not True:
        raise UserError(
            f"{path}/{name} is incomplete (its write was interrupted or never finalized); "
            "run the command that writes it again with --overwrite"
        )
    labels_path, images_path = _ARRAY_PATHS.get(attrs["format_version"], _ARRAY_PATHS[FORMAT_VERSION])
    try:
        labels = group[labels_path]
        images = group[images_path] if images_path in group else None
        lineage = np.asarray(group["lineage"][...], dtype=np.int64).reshape(-1, 4)
    except (KeyError, zarr.errors.BaseZarrError) as exc:  # type: ignore[attr-defined]
        raise UserError(f"{path}/{name} is damaged ({exc}); write it again with --overwrite") from None
    return StoreSequence(path, name, labels, images, lineage, attrs)


def read_store(
    path: str | os.PathLike, name: str | None = None, *, validate: bool = True
) -> TrackedVideo | TrackedMasks:
    """Read one sequence into memory (see :meth:`StoreSequence.load`).

    name: the sequence; may be omitted when the store holds exactly one.
    validate: re-check the CTC rules (labels against lineage) on read.
    """
    path = Path(path)
    if name is None:
        names = list_store_sequences(path)
        if not names:
            raise UserError(f"{path} holds no sequences; write one with import-ctc or write_store")
        if len(names) > 1:
            raise UserError(f"{path} holds sequences {', '.join(names)}; choose one (name=..., --sequence)")
        name = names[0]
    try:
        return open_store_sequence(path, name).load(validate=validate)
    except RuntimeError as exc:  # zarr/codec errors: checksum mismatch, truncated chunk
        raise UserError(f"{path}/{name}: a chunk is unreadable ({exc}); write the sequence again with --overwrite") from None


def write_store(
    path: str | os.PathLike,
    data: TrackedVideo | TrackedMasks,
    *,
    name: str | None = "seq000",
    overwrite: bool = False,
    provenance: dict[str, Any] | None = None,
    progress: bool = False,
) -> str:
    """Write one sequence into a store (created when absent), frame by frame.

    data: labels (T, Y, X) uint16 + lineage, and for a TrackedVideo images, intensity range
        and provenance.
    name: the sequence group; None picks the first free ``seqNNN``.
    overwrite: replace an existing sequence of that name (otherwise UserError).
    provenance: stored instead of the data's own (TrackedMasks carry none).
    Returns the sequence name.
    """
    path = Path(path)
    if name is None:
        name = _next_name(path)
    if isinstance(data, TrackedVideo):
        masks, images = data.masks, data.images
        kwargs = dict(image_dtype=images.dtype, intensity_range=data.intensity_range, provenance=data.provenance)
    elif isinstance(data, TrackedMasks):
        masks, images, kwargs = data, None, {}  # type: ignore[var-annotated]
    else:
        raise UserError(f"data must be a TrackedVideo or TrackedMasks, got {type(data).__name__}")
    if provenance is not None:
        kwargs["provenance"] = provenance
    with StoreWriter(path, name, shape=masks.shape, overwrite=overwrite, **kwargs) as writer:
        with tqdm(total=masks.n_frames, desc=f"storing {name}", unit="frame", disable=not progress, leave=False) as bar:
            for t in range(0, masks.n_frames, _BLOCK):
                sl = slice(t, min(t + _BLOCK, masks.n_frames))
                writer.write_frames(t, masks.labels[sl], None if images is None else images[sl])
                bar.update(sl.stop - sl.start)
        writer.finalize(masks.lineage)
    return name
