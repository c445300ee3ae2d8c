"""Cut tracked videos into the parts of an experiment: frame ranges and boxes, the time split,
the cells' region and quadrant folds.

Boxes are ``(y0, y1, x0, x1)`` in pixels, end-exclusive. Every cut keeps CTC rules (tracks cut
by a box or a frame range get their lineage repaired by :mod:`masksynth`).

Example::

    n_train = split_frames(video.n_frames)                       # first 70 % train, the rest test
    train = sub_video(video, t1=n_train, what="training part")
    fold = sub_video(train, box=fold_boxes(train.labels)[0], what="fold 0")
"""

from __future__ import annotations

import numpy as np

from masksynth.tracked import TrackedVideo
from tgan_aug.errors import UserError

__all__ = ["sub_video", "split_frames", "cell_box", "grow_box", "fold_boxes", "cell_frames"]

Box = tuple[int, int, int, int]


def sub_video(video: TrackedVideo, *, t0: int = 0, t1: int | None = None, box: Box | None = None, what: str = "") -> TrackedVideo:
    """Frames ``[t0, t1)`` and the ``box`` of a video, lineage repaired (CTC rules).

    The provenance records the source, ``what`` (a description), the frames and the box.
    """
    import masksynth

    t1 = video.n_frames if t1 is None else t1
    masks = masksynth.time_slice(video.masks, t0, t1)
    images = video.images[t0:t1]
    if box is not None:
        y0, y1, x0, x1 = box
        masks = masksynth.crop(masks, y=y0, x=x0, height=y1 - y0, width=x1 - x0)
        images = images[:, y0:y1, x0:x1]
    prov = {"source": video.provenance.get("source", ""), "subset": what, "frames": [t0, t1],
            "box_yyxx": list(box) if box is not None else None}
    return TrackedVideo(masks, np.ascontiguousarray(images), intensity_range=video.intensity_range, provenance=prov)


def split_frames(n_frames: int, *, test_fraction: float = 0.3) -> int:
    """Number of training frames of a time split: the first ``1 - test_fraction``; the rest are test frames."""
    return int(round(n_frames * (1 - test_fraction)))


def cell_box(labels: np.ndarray, *, margin: int = 16) -> Box:
    """Bounding box of all cells of (T, Y, X) labels over all frames, grown by ``margin`` px inside the frame."""
    _, H, W = labels.shape
    _, ys, xs = np.nonzero(labels > 0)
    if ys.size == 0:
        raise UserError(f"labels {labels.shape} hold no cells, so they have no cell region")
    return (max(0, int(ys.min()) - margin), min(H, int(ys.max()) + 1 + margin),
            max(0, int(xs.min()) - margin), min(W, int(xs.max()) + 1 + margin))


def grow_box(box: Box, shape: tuple[int, int], min_size: tuple[int, int]) -> Box:
    """``box`` grown to at least ``min_size`` (height, width), shifted to stay inside a frame of ``shape`` (Y, X)."""
    y0, y1, x0, x1 = box
    H, W = shape
    if y1 - y0 < min_size[0]:
        y0 = max(0, min(y0, H - min_size[0]))
        y1 = y0 + min_size[0]
    if x1 - x0 < min_size[1]:
        x0 = max(0, min(x0, W - min_size[1]))
        x1 = x0 + min_size[1]
    return (y0, y1, x0, x1)


def fold_boxes(labels: np.ndarray, *, margin: int = 16, min_size: tuple[int, int] = (144, 208)) -> list[Box]:
    """The 4 quadrant boxes of the cell region of (T, Y, X) labels.

    Region: :func:`cell_box` (all cells over all frames + ``margin`` px); split at the centre of
    mass of the cell pixels. Order: top-left, top-right, bottom-left, bottom-right. A box smaller
    than ``min_size`` (height, width) grows away from the split (inside the frame), so neighbours
    then overlap a little. A frame smaller than ``min_size`` is an error.
    """
    _, H, W = labels.shape
    ry0, ry1, rx0, rx1 = cell_box(labels, margin=margin)
    _, ys, xs = np.nonzero(labels > 0)
    cy, cx = int(round(ys.mean())), int(round(xs.mean()))
    boxes = []
    for top in (True, False):
        for left in (True, False):
            y0, y1 = (ry0, cy) if top else (cy, ry1)
            x0, x1 = (rx0, cx) if left else (cx, rx1)
            if H < min_size[0] or W < min_size[1]:
                raise UserError(f"frames of {H}x{W} are too small for folds of at least {min_size}; pass a smaller min_size")
            y0, y1 = _grow(y0, y1, min_size[0], H, away_from_high=top)
            x0, x1 = _grow(x0, x1, min_size[1], W, away_from_high=left)
            boxes.append((y0, y1, x0, x1))
    return boxes


def _grow(lo: int, hi: int, size: int, n: int, *, away_from_high: bool) -> tuple[int, int]:
    """[lo, hi) grown to at least ``size`` inside [0, n): away from the split (towards 0 when
    ``away_from_high``, else towards n), shifted back inside the frame where it would leave it."""
    if hi - lo >= size:
        return lo, hi
    lo, hi = (hi - size, hi) if away_from_high else (lo, lo + size)
    shift = -lo if lo < 0 else n - hi if hi > n else 0
    return lo + shift, hi + shift


def cell_frames(labels: np.ndarray) -> int:
    """Number of (cell, frame) annotations in (T, Y, X) labels (cells summed over frames)."""
    from masksynth.tracked import frame_ids

    return int(sum(frame_ids(f).size for f in labels))
