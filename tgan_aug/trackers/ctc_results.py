"""Tracker output as CTC result folders: links between detections -> tracks -> ``RES/``.

A tracker sees per-frame detections (label masks whose ids need not persist over time) and
answers with links ``(t, label) -> (t + 1, label')``. :func:`links_to_tracked` turns those
links into CTC tracks (a mother with two linked children ends; each child starts a new track
whose parent is the mother); :func:`write_ctc_results` writes the CTC result folder
``RES/maskTTT.tif`` + ``RES/res_track.txt`` that the CTC evaluation (``py-ctcmetrics``) reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import tifffile

from masksynth.tracked import MAX_ID, TrackedMasks
from tgan_aug.errors import UserError

__all__ = ["Link", "links_to_tracked", "write_ctc_results", "read_ctc_results", "write_gt_tra"]

#: ``((t, label), (t2, label'))``, t2 > t: detection ``label`` in frame t continues as ``label'`` in t2.
Link = tuple[tuple[int, int], tuple[int, int]]


def _frame_ids(frame: np.ndarray) -> list[int]:
    ids = np.unique(frame)
    return [int(i) for i in ids[ids > 0]]


def links_to_tracked(detections: np.ndarray, links: Iterable[Link]) -> TrackedMasks:
    """Build CTC tracks from per-frame detections and frame-to-frame links.

    detections: (T, Y, X) integer label masks, 0 = background; ids are per frame (they may or
        may not persist over time; only ``links`` say what continues what).
    links: ``((t, a), (t2, b))`` pairs with t2 > t. Each detection has at most one incoming
        link; a detection with exactly one outgoing link to the next frame continues its
        track; one with two or more outgoing links divides (its track ends; every child starts
        a track with it as parent). A link over a gap (t2 > t + 1) starts a new track whose
        parent is the track before the gap (the CTC convention for a reappearing cell).
        Detections without links become tracks of their own; every detection is kept.
    Returns :class:`TrackedMasks` with new track ids 1..N (uint16), in order of first frame.
    """
    detections = np.asarray(detections)
    if detections.ndim != 3:
        raise UserError(f"detections must be (T, Y, X) label masks, got shape {detections.shape}")
    n_frames = detections.shape[0]
    present = [set(_frame_ids(f)) for f in detections]
    parent_of: dict[tuple[int, int], tuple[int, int]] = {}
    children: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for (ta, a), (tb, b) in links:
        src, dst = (int(ta), int(a)), (int(tb), int(b))
        if dst[0] <= src[0]:
            raise UserError(f"link {src} -> {dst} does not go forward in time")
        if not (0 <= src[0] < n_frames and src[1] in present[src[0]] and dst[0] < n_frames and dst[1] in present[dst[0]]):
            raise UserError(f"link {src} -> {dst} names a detection that is not in the masks")
        if dst in parent_of:
            raise UserError(f"detection {dst} has two incoming links ({parent_of[dst]} and {src}); trackers must not merge")
        parent_of[dst] = src
        children.setdefault(src, []).append(dst)

    track_of: dict[tuple[int, int], int] = {}
    rows: list[list[int]] = []  # id, t_start, t_end, parent
    for t in range(n_frames):
        for lab in sorted(present[t]):
            node = (t, lab)
            src = parent_of.get(node)
            if src is not None and len(children[src]) == 1 and t == src[0] + 1:
                tid = track_of[src]
                rows[tid - 1][2] = t
            else:
                tid = len(rows) + 1
                if tid > MAX_ID:
                    raise UserError(f"more than {MAX_ID} tracks do not fit CTC uint16 masks; track shorter sequences")
                parent = track_of[src] if src is not None else 0
                rows.append([tid, t, t, parent])
            track_of[node] = tid

    labels = np.zeros(detections.shape, dtype=np.uint16)
    for t in range(n_frames):
        if not present[t]:
            continue
        frame = detections[t]
        lut = np.zeros(int(frame.max()) + 1, dtype=np.uint16)
        for lab in present[t]:
            lut[lab] = track_of[(t, lab)]
        labels[t] = lut[frame]
    lineage = np.array(rows, dtype=np.int64).reshape(-1, 4)
    return TrackedMasks(labels, lineage)


def _digits(n_frames: int, digits: int) -> int:
    return max(digits, len(str(max(n_frames - 1, 0))))


def _prepare_dir(path: Path, *, overwrite: bool, what: str) -> None:
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise UserError(f"{what} folder {path} exists and is not empty; choose another path or pass --overwrite")
        for f in path.iterdir():
            if f.is_file() and (f.suffix == ".tif" or f.name in ("res_track.txt", "man_track.txt")):
                f.unlink()
    path.mkdir(parents=True, exist_ok=True)


def _write_track_file(path: Path, lineage: np.ndarray) -> None:
    text = "".join(f"{i} {a} {b} {p}\n" for i, a, b, p in np.asarray(lineage, dtype=np.int64).tolist())
    path.write_text(text)


def write_ctc_results(res_dir: str | Path, tracked: TrackedMasks, *, overwrite: bool = False, digits: int = 3) -> Path:
    """Write a CTC result folder: ``maskTTT.tif`` (uint16 (Y, X), value = track id) per frame
    and ``res_track.txt`` (rows ``L B E P``). Returns the folder path.

    tracked: the tracker's output (labels (T, Y, X) uint16 + lineage (N, 4)).
    overwrite: replace the masks and track file of an existing non-empty folder.
    digits: frame-number width (grown automatically for long sequences).
    """
    res_dir = Path(res_dir)
    _prepare_dir(res_dir, overwrite=overwrite, what="result")
    width = _digits(tracked.n_frames, digits)
    for t, frame in enumerate(tracked.labels):
        tifffile.imwrite(res_dir / f"mask{t:0{width}d}.tif", frame.astype(np.uint16), compression="zlib")
    _write_track_file(res_dir / "res_track.txt", tracked.lineage)
    return res_dir


def write_gt_tra(gt_dir: str | Path, tracked: TrackedMasks, *, overwrite: bool = False, digits: int = 3) -> Path:
    """Write ground truth as the CTC evaluation reads it: ``GT/TRA/man_trackTTT.tif`` + ``man_track.txt``.

    For evaluating in-memory sequences (:func:`tgan_aug.trackers.metrics.evaluate_tracked`);
    full CTC datasets (images too) are written by :func:`tgan_aug.io.write_ctc`.
    Returns the ``GT`` folder (the one holding ``TRA``).
    """
    gt_dir = Path(gt_dir)
    tra = gt_dir / "TRA"
    _prepare_dir(tra, overwrite=overwrite, what="ground-truth")
    width = _digits(tracked.n_frames, digits)
    for t, frame in enumerate(tracked.labels):
        tifffile.imwrite(tra / f"man_track{t:0{width}d}.tif", frame.astype(np.uint16), compression="zlib")
    _write_track_file(tra / "man_track.txt", tracked.lineage)
    return gt_dir


def read_ctc_results(res_dir: str | Path) -> TrackedMasks:
    """Read a CTC result folder written by :func:`write_ctc_results` (or any CTC tracker).

    Returns :class:`TrackedMasks` (validated: a folder that breaks the CTC rules raises
    :class:`~masksynth.tracked.CTCValidationError` naming the first violation).
    """
    res_dir = Path(res_dir)
    track_file = res_dir / "res_track.txt"
    if not track_file.is_file():
        raise UserError(f"{res_dir} is not a CTC result folder: res_track.txt is missing")
    files = sorted(res_dir.glob("mask*.tif"), key=lambda p: int(p.stem[4:]))
    if not files:
        raise UserError(f"{res_dir} holds no maskTTT.tif files")
    labels = np.stack([tifffile.imread(f) for f in files]).astype(np.uint16)
    text = track_file.read_text().split()
    lineage = np.array([int(v) for v in text], dtype=np.int64).reshape(-1, 4)
    return TrackedMasks(labels, lineage)
