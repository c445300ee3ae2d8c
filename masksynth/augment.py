"""Augmentation of real tracked sequences that keeps track ids and lineage valid.

Geometric transforms (rot90, flips) never change the lineage. Crops and temporal cuts can
remove a track's pixels in some frames; :func:`relineage` repairs the lineage the CTC way:
a track that disappears and comes back is split, the later part getting a new id whose parent
is the earlier part; a daughter whose mother is gone entirely becomes a root (parent 0); a
mother that keeps one daughter keeps a one-child link (valid in CTC).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from masksynth.tracked import MAX_ID, TrackedMasks, validate_tracked
from masksynth.errors import UserError

__all__ = [
    "relineage",
    "rot90",
    "flip",
    "crop",
    "time_slice",
    "split_time",
    "morph_cells",
    "augment_tracked",
    "augment_many",
]

_K3 = np.ones((3, 3), np.uint8)


def _presence(labels: np.ndarray, n: int) -> np.ndarray:
    """(T, n) bool: id present in frame t."""
    return np.stack([np.bincount(f.ravel(), minlength=n)[:n] > 0 for f in labels]) if len(labels) else np.zeros((0, n), bool)


def relineage(labels: np.ndarray, lineage: np.ndarray, *, validate: bool = True) -> TrackedMasks:
    """Make the lineage of ``labels`` valid again after pixels were removed.

    labels: (T, Y, X) uint16 whose ids come from a valid sequence with ``lineage`` (N, 4), but
    frames or pixels were cut (crop, temporal slice). Tracks are split at gaps (new ids, parent
    = the earlier part); parents are re-pointed to the last surviving part of the mother, or set
    to 0 when the mother has no pixels left; rows of vanished tracks are dropped.
    Returns a new validated :class:`TrackedMasks` (labels copied only where ids change).
    """
    labels = np.asarray(labels)
    if labels.dtype != np.uint16:
        labels = labels.astype(np.uint16)
    lineage = np.asarray(lineage, dtype=np.int64).reshape(-1, 4)
    n = int(max(labels.max() if labels.size else 0, lineage[:, 0].max() if len(lineage) else 0)) + 1
    pres = _presence(labels, n)
    parent_of = {int(r[0]): int(r[3]) for r in lineage}
    next_id = n
    out = labels
    copied = False
    segments: dict[int, list[tuple[int, int, int]]] = {}  # original id -> [(new id, t0, t1)]
    for tid in range(1, n):
        frames = np.flatnonzero(pres[:, tid])
        if frames.size == 0:
            continue
        breaks = np.flatnonzero(np.diff(frames) > 1)
        starts = np.concatenate([[frames[0]], frames[breaks + 1]])
        ends = np.concatenate([frames[breaks], [frames[-1]]])
        segs = [(tid, int(starts[0]), int(ends[0]))]
        for s, e in zip(starts[1:].tolist(), ends[1:].tolist()):
            if next_id > MAX_ID:
                raise UserError("repairing the lineage needs more than 65535 track ids; use shorter sequences")
            if not copied:
                out, copied = out.copy(), True
            for t in range(s, e + 1):
                f = out[t]
                f[f == tid] = next_id
            segs.append((next_id, s, e))
            next_id += 1
        segments[tid] = segs
    rows = []
    for tid, segs in segments.items():
        first_parent = 0
        p = parent_of.get(tid, 0)
        if p in segments:
            cand = [s for s in segments[p] if s[2] < segs[0][1]]
            first_parent = cand[-1][0] if cand else 0
        prev = first_parent
        for k, (nid, s, e) in enumerate(segs):
            rows.append([nid, s, e, prev if k else first_parent])
            prev = nid
    lin = np.array(sorted(rows), dtype=np.int64).reshape(-1, 4)
    if validate:
        validate_tracked(out, lin)
    return TrackedMasks(out, lin, validate=False)


def rot90(masks: TrackedMasks, k: int = 1) -> TrackedMasks:
    """Rotate every frame by k x 90 degrees (counter-clockwise, axes (Y, X)); lineage unchanged."""
    return TrackedMasks(np.ascontiguousarray(np.rot90(masks.labels, k, axes=(1, 2))), masks.lineage.copy(), validate=False)


def flip(masks: TrackedMasks, axis: str) -> TrackedMasks:
    """Mirror every frame along ``axis`` "y" (up-down) or "x" (left-right); lineage unchanged."""
    if axis not in ("y", "x"):
        raise UserError(f"flip axis must be 'y' or 'x', got {axis!r}")
    ax = 1 if axis == "y" else 2
    return TrackedMasks(np.ascontiguousarray(np.flip(masks.labels, ax)), masks.lineage.copy(), validate=False)


def crop(masks: TrackedMasks, *, y: int, x: int, height: int, width: int) -> TrackedMasks:
    """Spatial crop [y, y+height) x [x, x+width) of every frame, lineage repaired (:func:`relineage`)."""
    t, h, w = masks.shape
    if not (0 <= y and 0 <= x and height >= 1 and width >= 1 and y + height <= h and x + width <= w):
        raise UserError(
            f"crop y={y}, x={x}, {height}x{width} does not fit in frames of {h}x{w}; "
            "choose a crop inside the frame"
        )
    return relineage(np.ascontiguousarray(masks.labels[:, y : y + height, x : x + width]), masks.lineage)


def time_slice(masks: TrackedMasks, start: int, stop: int) -> TrackedMasks:
    """Frames [start, stop), renumbered from 0, lineage repaired (cut mothers become roots)."""
    if not 0 <= start < stop <= masks.n_frames:
        raise UserError(
            f"time slice [{start}, {stop}) must satisfy 0 <= start < stop <= {masks.n_frames} (frames)"
        )
    return relineage(masks.labels[start:stop], masks.lineage)


def split_time(masks: TrackedMasks, length: int, *, stride: int | None = None) -> list[TrackedMasks]:
    """Sub-sequences of ``length`` frames every ``stride`` frames (default: no overlap)."""
    if length < 1 or length > masks.n_frames:
        raise UserError(f"split length must be in 1..{masks.n_frames} frames, got {length}")
    stride = stride or length
    if stride < 1:
        raise UserError(f"split stride must be >= 1 frame, got {stride}")
    return [time_slice(masks, s, s + length) for s in range(0, masks.n_frames - length + 1, stride)]


def morph_cells(
    masks: TrackedMasks,
    *,
    rng: np.random.Generator,
    prob: float = 0.5,
    radius: int = 1,
) -> TrackedMasks:
    """Per-cell erosion or dilation: each track is, with probability ``prob``, eroded or dilated
    (half each) by ``radius`` pixels in every frame (per-track choice, so no flicker).

    Dilation only takes background pixels whose 3x3 neighbourhood holds that one cell (no
    overlaps); erosion never removes a cell from a frame (a cell that would vanish keeps its
    pixels), so track spans and lineage stay as they are.
    """
    if not 0.0 <= prob <= 1.0:
        raise UserError(f"morph probability must be in [0, 1], got {prob}")
    if not 0 <= radius <= 5:
        raise UserError(f"morph radius must be in 0..5 pixels, got {radius}")
    lin = masks.lineage
    n = int(max(masks.labels.max(), lin[:, 0].max() if len(lin) else 0)) + 1
    mode = np.zeros(n, np.int8)  # -1 erode, +1 dilate
    if len(lin):
        u = rng.random(len(lin))
        sign = np.where(rng.random(len(lin)) < 0.5, -1, 1)
        mode[lin[:, 0]] = np.where(u < prob, sign, 0)
    out = masks.labels.copy()
    for t in range(out.shape[0]):
        f = out[t]
        for _ in range(radius):
            hi = cv2.dilate(f, _K3)
            lo = cv2.erode(np.where(f > 0, f, np.uint16(MAX_ID)), _K3)
            # erosion of boundary pixels of eroding cells
            ero = (f > 0) & (mode[f] < 0) & ((hi != f) | (lo != f) | (cv2.erode(f, _K3) == 0))
            # dilation into background with a single neighbouring dilating cell
            dil = (f == 0) & (hi > 0) & (hi == lo) & (mode[hi] > 0)
            before = np.bincount(f.ravel(), minlength=n)
            g = f.copy()
            g[ero] = 0
            after = np.bincount(g.ravel(), minlength=n)
            vanished = (before > 0) & (after == 0)
            if vanished.any():
                restore = ero & vanished[f]
                g[restore] = f[restore]
            g[dil] = hi[dil]
            f = g
        out[t] = f
    return TrackedMasks(out, lin.copy(), validate=False)


def augment_tracked(
    masks: TrackedMasks,
    *,
    rng: np.random.Generator,
    rotate: bool = True,
    flips: bool = True,
    crop_size: tuple[int, int] | None = None,
    length: int | None = None,
    morph_prob: float = 0.0,
    morph_radius: int = 1,
    validate: bool = True,
) -> TrackedMasks:
    """One random augmented copy of a tracked sequence.

    masks: (T, Y, X) labels + lineage. rotate: random k x 90 degrees (k in 0..3; 90/270 swap
    Y and X). flips: random up-down / left-right mirror. crop_size: (height, width) of a random
    crop (after rotation). length: a random window of that many frames. morph_prob: per-track
    erosion/dilation probability (see :func:`morph_cells`). The lineage stays valid (checked
    when ``validate``).
    """
    out = masks
    if length is not None:
        if not 1 <= length <= out.n_frames:
            raise UserError(f"length must be in 1..{out.n_frames} frames, got {length}")
        s = int(rng.integers(0, out.n_frames - length + 1))
        out = time_slice(out, s, s + length)
    if rotate:
        k = int(rng.integers(4))
        if k:
            out = rot90(out, k)
    if flips:
        if rng.random() < 0.5:
            out = flip(out, "y")
        if rng.random() < 0.5:
            out = flip(out, "x")
    if crop_size is not None:
        ch, cw = crop_size
        _, h, w = out.shape
        if ch > h or cw > w or ch < 1 or cw < 1:
            raise UserError(f"crop size {ch}x{cw} does not fit in frames of {h}x{w}; choose a smaller crop")
        y = int(rng.integers(0, h - ch + 1))
        x = int(rng.integers(0, w - cw + 1))
        out = crop(out, y=y, x=x, height=ch, width=cw)
    if morph_prob > 0:
        out = morph_cells(out, rng=rng, prob=morph_prob, radius=morph_radius)
    if validate:
        validate_tracked(out.labels, out.lineage)
    return out


def augment_many(
    masks: TrackedMasks, *, copies: int, seed: int | Sequence[int], **options
) -> list[TrackedMasks]:
    """``copies`` augmented copies (:func:`augment_tracked`), copy i seeded with (seed..., i)."""
    base = list(seed) if isinstance(seed, (list, tuple)) else [int(seed)]
    return [augment_tracked(masks, rng=np.random.default_rng(base + [i]), **options) for i in range(copies)]
