"""The one data model: tracked label masks with CTC lineage, and rendered videos.

``TrackedMasks`` holds ``labels`` (T, Y, X) uint16, where a pixel's value is its track id
(0 = background), and ``lineage`` (N, 4) int64 with rows ``id, t_start, t_end, parent``
(parent 0 = none), exactly the rows of a CTC ``man_track.txt``. ``TrackedVideo`` adds the
images, their intensity range and provenance.

The CTC rules are checked by :func:`validate_tracked`; its error names the first violation.
Numpy only: this module never imports torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "AXES",
    "CTCValidationError",
    "NotLinkedError",
    "TrackedMasks",
    "TrackedVideo",
    "validate_tracked",
    "lineage_from_labels",
    "track_extents",
    "frame_ids",
    "validate_frame_ids",
    "ids_look_linked",
]

#: Axis names of every (T, Y, X) array in the project (kept in store metadata).
AXES = ("t", "y", "x")
MAX_ID = int(np.iinfo(np.uint16).max)


class CTCValidationError(ValueError):
    """Labels and lineage break a CTC rule. ``track_id`` and ``frame`` locate the first violation."""

    def __init__(self, message: str, *, track_id: int | None = None, frame: int | None = None):
        where = []
        if track_id is not None:
            where.append(f"track {track_id}")
        if frame is not None:
            where.append(f"frame {frame}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)
        self.track_id = track_id
        self.frame = frame


class NotLinkedError(ValueError):
    """Label ids are not consistent over time; tgan-aug does not guess links between frames."""


def frame_ids(frame: np.ndarray) -> np.ndarray:
    """Sorted non-zero ids present in one frame.

    frame: (Y, X) non-negative integer array (uint16 labels: one bincount pass, no sort).
    Returns (K,) int64, ascending, 0 excluded.
    """
    flat = np.asarray(frame).ravel()
    if flat.size == 0:
        return np.zeros(0, dtype=np.int64)
    if flat.dtype.kind == "u" and flat.dtype.itemsize <= 2:
        counts = np.bincount(flat)
        counts[0] = 0
        return np.flatnonzero(counts).astype(np.int64, copy=False)
    ids = np.unique(flat).astype(np.int64, copy=False)
    return ids[ids != 0]


def track_extents(labels: np.ndarray) -> dict[int, list[int]]:
    """Frames where each id appears.

    labels: (T, Y, X) integer array, 0 = background.
    Returns {id: sorted list of frame indices}.
    """
    frames: dict[int, list[int]] = {}
    for t in range(labels.shape[0]):
        for i in frame_ids(labels[t]).tolist():
            frames.setdefault(i, []).append(t)
    return frames


def _as_lineage(lineage: Any) -> np.ndarray:
    arr = np.asarray(lineage, dtype=np.int64)
    if arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise CTCValidationError(
            f"lineage must have shape (N, 4) with rows 'id t_start t_end parent', got {arr.shape}"
        )
    return arr


def validate_tracked(labels: np.ndarray, lineage: np.ndarray) -> None:
    """Check the CTC tracking rules; raise :class:`CTCValidationError` at the first violation.

    labels: (T, Y, X) uint16, value = track id, 0 = background.
    lineage: (N, 4) int rows ``id, t_start, t_end, parent``.

    Rules: ids unique and > 0; t_start <= t_end within [0, T); a track's pixels exist in every
    frame from t_start to t_end and in no other (no gaps); every label in the masks has a row;
    every parent exists and ends before its child starts.
    """
    if labels.ndim != 3:
        raise CTCValidationError(f"labels must be (T, Y, X), got {labels.ndim} dimensions")
    if labels.dtype != np.uint16:
        raise CTCValidationError(f"labels must be uint16, got {labels.dtype}")
    validate_frame_ids([frame_ids(labels[t]) for t in range(labels.shape[0])], lineage)


def validate_frame_ids(ids_per_frame: list[np.ndarray], lineage: np.ndarray) -> None:
    """:func:`validate_tracked` from the ids present in each frame (same rules, same errors).

    ids_per_frame: one (K,) int array of the non-zero ids of each frame (see :func:`frame_ids`),
    so a streaming writer can check a sequence without holding all its frames; T = its length.
    lineage: (N, 4) int rows ``id, t_start, t_end, parent``.
    """
    lineage = _as_lineage(lineage)
    n_frames = len(ids_per_frame)
    rows: dict[int, tuple[int, int, int]] = {}
    for tid, t0, t1, parent in lineage.tolist():
        if tid <= 0 or tid > MAX_ID:
            raise CTCValidationError(f"id must be in 1..{MAX_ID}", track_id=tid)
        if tid in rows:
            raise CTCValidationError("id appears in more than one lineage row", track_id=tid)
        if not 0 <= t0 <= t1 < n_frames:
            raise CTCValidationError(
                f"t_start={t0}, t_end={t1} must satisfy 0 <= t_start <= t_end < {n_frames}",
                track_id=tid,
            )
        rows[tid] = (t0, t1, parent)
    for tid, (t0, _t1, parent) in sorted(rows.items()):
        if parent == 0:
            continue
        if parent == tid:
            raise CTCValidationError("track is its own parent", track_id=tid)
        if parent not in rows:
            raise CTCValidationError(f"parent {parent} has no lineage row", track_id=tid, frame=t0)
        if rows[parent][1] >= t0:
            raise CTCValidationError(
                f"parent {parent} ends at frame {rows[parent][1]}, not before the child starts",
                track_id=tid,
                frame=t0,
            )
    seen: dict[int, int] = {}  # id -> last frame seen
    for t, ids in enumerate(ids_per_frame):
        ids = np.asarray(ids)
        for tid in ids[ids > 0].tolist():
            if tid not in rows:
                raise CTCValidationError("label in the masks has no lineage row", track_id=tid, frame=t)
            t0, t1, _ = rows[tid]
            if not t0 <= t <= t1:
                raise CTCValidationError(
                    f"label present outside its lineage span [{t0}, {t1}]", track_id=tid, frame=t
                )
            if tid in seen and seen[tid] != t - 1:
                raise CTCValidationError("track has a gap (absent in an earlier frame)", track_id=tid, frame=t)
            if tid not in seen and t != t0:
                raise CTCValidationError(f"track starts at frame {t}, lineage says {t0}", track_id=tid, frame=t)
            seen[tid] = t
    for tid, (t0, t1, _) in sorted(rows.items()):
        if tid not in seen:
            raise CTCValidationError("lineage row has no pixels in the masks", track_id=tid, frame=t0)
        if seen[tid] != t1:
            raise CTCValidationError(
                f"track ends at frame {seen[tid]}, lineage says {t1}", track_id=tid, frame=seen[tid] + 1
            )


def ids_look_linked(labels: np.ndarray, *, min_overlap: float = 0.2) -> bool:
    """Heuristic: do label ids persist over time (tracked) rather than being per-frame?

    For ids present in consecutive frames, the median fraction of a cell's pixels at t+1 that
    keep the same id must be at least ``min_overlap``. Per-frame segmentations numbered
    1..n in every frame fail this; tracked masks of cells that move less than their own size pass.
    labels: (T, Y, X) integer array.
    """
    fractions = []
    for t in range(labels.shape[0] - 1):
        a, b = labels[t], labels[t + 1]
        common = np.intersect1d(np.unique(a), np.unique(b))
        common = common[common > 0]
        if common.size == 0:
            continue
        area = np.bincount(a.ravel(), minlength=int(common.max()) + 1)
        same = np.bincount(a[(a == b) & (a > 0)].ravel(), minlength=area.size)
        fractions.extend((same[common] / np.maximum(area[common], 1)).tolist())
    if not fractions:
        return labels.shape[0] <= 1 or not labels.any()
    return float(np.median(fractions)) >= min_overlap


def lineage_from_labels(
    labels: np.ndarray, *, check_linked: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Derive CTC lineage from labels whose ids are consistent over time.

    A track with a temporal gap is split: the part after the gap gets a new id whose parent is
    the part before (the CTC convention for a track that reappears). No other links are made;
    per-frame labels are not relabelled (raise :class:`NotLinkedError` when ids look unlinked).

    labels: (T, Y, X) integer array, 0 = background.
    Returns (labels uint16 (T, Y, X), lineage int64 (N, 4)), labels copied only if ids changed.
    """
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"labels must be (T, Y, X), got shape {labels.shape}")
    if labels.size and labels.min() < 0:
        raise ValueError("labels must be >= 0 (0 = background)")
    top = int(labels.max()) if labels.size else 0
    if top > MAX_ID:
        raise ValueError(
            f"label id {top} does not fit in uint16 (max {MAX_ID}); relabel the tracks to fewer ids"
        )
    if check_linked and not ids_look_linked(labels):
        raise NotLinkedError(
            "label ids are not linked over time (they look like per-frame segmentations); "
            "tgan-aug does not guess links: provide tracked masks (CTC TRA with man_track.txt) "
            "or track them first"
        )
    out = labels.astype(np.uint16, copy=False)
    extents = track_extents(out)
    next_id = max(extents, default=0) + 1
    rows: list[list[int]] = []
    copied = False
    for tid in sorted(extents):
        frames = extents[tid]
        segments: list[list[int]] = [[frames[0]]]
        for t in frames[1:]:
            if t == segments[-1][-1] + 1:
                segments[-1].append(t)
            else:
                segments.append([t])
        rows.append([tid, segments[0][0], segments[0][-1], 0])
        prev = tid
        for seg in segments[1:]:
            if next_id > MAX_ID:
                raise ValueError("splitting tracks at gaps needs more than 65535 ids")
            if not copied:
                out, copied = out.copy(), True
            for t in seg:
                out[t][out[t] == tid] = next_id
            rows.append([next_id, seg[0], seg[-1], prev])
            prev, next_id = next_id, next_id + 1
    lineage = np.array(sorted(rows), dtype=np.int64).reshape(-1, 4)
    return out, lineage


@dataclass(eq=False)
class TrackedMasks:
    """Tracked instance masks with exact CTC lineage.

    labels: (T, Y, X) uint16, 0 = background, value = track id.
    lineage: (N, 4) int64 rows ``id, t_start, t_end, parent`` (parent 0 = none), sorted by id.
    Construction validates the CTC rules unless ``validate=False`` (for trusted internal use).
    """

    labels: np.ndarray
    lineage: np.ndarray
    validate: dataclasses.InitVar[bool] = True

    def __post_init__(self, validate: bool) -> None:
        labels = np.asarray(self.labels)
        if labels.dtype != np.uint16:
            if labels.size and (labels.min() < 0 or labels.max() > MAX_ID):
                raise CTCValidationError(
                    f"label ids must be in 0..{MAX_ID} to fit uint16, got {labels.min()}..{labels.max()}"
                )
            labels = labels.astype(np.uint16)
        self.labels = labels
        lin = _as_lineage(self.lineage)
        self.lineage = lin[np.argsort(lin[:, 0], kind="stable")] if len(lin) else lin
        if validate:
            validate_tracked(self.labels, self.lineage)

    @classmethod
    def from_labels(cls, labels: np.ndarray, *, check_linked: bool = True) -> "TrackedMasks":
        """Build from labels whose ids are consistent over time (see :func:`lineage_from_labels`)."""
        out, lineage = lineage_from_labels(labels, check_linked=check_linked)
        return cls(out, lineage, validate=False)

    @property
    def n_frames(self) -> int:
        return int(self.labels.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.labels.shape)  # type: ignore[return-value]

    @property
    def n_tracks(self) -> int:
        return int(len(self.lineage))

    @property
    def n_divisions(self) -> int:
        """Number of mothers with two or more daughters."""
        return int(self.mothers().size)

    def mothers(self) -> np.ndarray:
        """Sorted ids (int64) of the tracks that divide: two or more daughters name them as parent."""
        parents = self.lineage[:, 3]
        ids, counts = np.unique(parents[parents > 0], return_counts=True)
        return ids[counts >= 2].astype(np.int64)

    def validate(self) -> None:  # type: ignore[override]
        validate_tracked(self.labels, self.lineage)

    def cells_per_frame(self) -> np.ndarray:
        """(T,) int64: number of cells in each frame."""
        return np.array([np.count_nonzero(np.unique(f)) for f in self.labels], dtype=np.int64)

    def summary(self) -> dict[str, Any]:
        """Facts a person checks first: frames, size, cells per frame, tracks, divisions."""
        cpf = self.cells_per_frame()
        lengths = self.lineage[:, 2] - self.lineage[:, 1] + 1 if self.n_tracks else np.zeros(0)
        return {
            "frames": self.n_frames,
            "height": self.shape[1],
            "width": self.shape[2],
            "label_dtype": str(self.labels.dtype),
            "cells_per_frame_min": int(cpf.min()) if cpf.size else 0,
            "cells_per_frame_max": int(cpf.max()) if cpf.size else 0,
            "cells_per_frame_mean": float(cpf.mean()) if cpf.size else 0.0,
            "tracks": self.n_tracks,
            "divisions": self.n_divisions,
            "mean_track_length": float(lengths.mean()) if lengths.size else 0.0,
        }

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TrackedMasks)
            and self.labels.shape == other.labels.shape
            and np.array_equal(self.labels, other.labels)
            and np.array_equal(self.lineage, other.lineage)
        )


@dataclass(eq=False)
class TrackedVideo:
    """Images with their tracked masks.

    masks: the :class:`TrackedMasks` (labels (T, Y, X) uint16 + lineage).
    images: (T, Y, X) array, same T, Y, X as the labels; any real dtype (uint8, uint16, float32).
    intensity_range: (low, high) in image units; the range the values are meant to lie in
        (default: min and max over the whole sequence). Metrics use ``high - low`` as data range.
    provenance: what made it (command, seed, checkpoint hash, source data), JSON-serialisable.
    """

    masks: TrackedMasks
    images: np.ndarray
    intensity_range: tuple[float, float] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        if images.ndim != 3:
            raise ValueError(f"images must be (T, Y, X), got shape {images.shape}")
        if images.shape != self.masks.labels.shape:
            raise ValueError(
                f"images {images.shape} and labels {self.masks.labels.shape} must have the same (T, Y, X)"
            )
        if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
            raise ValueError(f"images must be integer or float, got {images.dtype}")
        self.images = images
        if self.intensity_range is None:
            self.intensity_range = intensity_range_of(images)
        else:
            lo, hi = (float(v) for v in self.intensity_range)
            self.intensity_range = (lo, hi)

    @property
    def labels(self) -> np.ndarray:
        return self.masks.labels

    @property
    def lineage(self) -> np.ndarray:
        return self.masks.lineage

    @property
    def n_frames(self) -> int:
        return self.masks.n_frames

    def summary(self) -> dict[str, Any]:
        out = self.masks.summary()
        out["image_dtype"] = str(self.images.dtype)
        out["intensity_range"] = list(self.intensity_range or ())
        return out


def intensity_range_of(images: np.ndarray) -> tuple[float, float]:
    """(min, max) over a whole sequence, as floats; (0, 0) for an empty array."""
    if images.size == 0:
        return (0.0, 0.0)
    return (float(images.min()), float(images.max()))
