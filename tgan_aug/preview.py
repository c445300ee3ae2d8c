"""Things people look at: PNG strips of frames with mask outlines, and MP4 previews.

Images are (T, Y, X) of any real dtype, shown over ``intensity_range`` (low, high) mapped to
0..255; labels are (T, Y, X) uint16 track ids whose outlines are drawn in a colour per id.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from skimage.segmentation import find_boundaries

from tgan_aug.errors import UserError


def to_uint8(images: np.ndarray, intensity_range: tuple[float, float] | None = None) -> np.ndarray:
    """Map images to uint8 for display: ``intensity_range`` (default: min..max) -> 0..255, clipped."""
    lo, hi = intensity_range if intensity_range is not None else (float(images.min()), float(images.max()))
    scale = 255.0 / max(hi - lo, 1e-12)
    return np.clip((images.astype(np.float32) - lo) * scale, 0, 255).astype(np.uint8)


def id_colours(ids: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 BGR colours, a fixed bright colour per track id (same id -> same colour everywhere)."""
    ids = np.asarray(ids, dtype=np.uint64)
    hue = ((ids * np.uint64(2654435761)) % np.uint64(180)).astype(np.uint8)
    hsv = np.stack([hue, np.full_like(hue, 220), np.full_like(hue, 255)], axis=-1)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0]


def overlay_outlines(frame_u8: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(Y, X) uint8 frame + (Y, X) labels -> (Y, X, 3) uint8 BGR with each cell's outline in its colour."""
    rgb = cv2.cvtColor(frame_u8, cv2.COLOR_GRAY2BGR)
    edges = find_boundaries(labels, mode="inner") & (labels > 0)
    if edges.any():
        ids = labels[edges]
        uniq, inverse = np.unique(ids, return_inverse=True)
        rgb[edges] = id_colours(uniq)[inverse]
    return rgb


def write_strip(
    path: str | Path,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    intensity_range: tuple[float, float] | None = None,
    frames: int = 6,
    max_width: int = 2400,
) -> Path:
    """Write a PNG strip of ``frames`` evenly spaced frames side by side (outlines drawn when labels are given)."""
    path = Path(path)
    n = images.shape[0]
    picks = np.unique(np.linspace(0, n - 1, num=min(frames, n)).round().astype(int))
    u8 = to_uint8(images[picks], intensity_range)
    tiles = [overlay_outlines(u8[i], labels[t]) if labels is not None else cv2.cvtColor(u8[i], cv2.COLOR_GRAY2BGR) for i, t in enumerate(picks)]
    sep = np.full((u8.shape[1], 4, 3), 255, dtype=np.uint8)
    strip = np.concatenate([x for tile in tiles for x in (tile, sep)][:-1], axis=1)
    if strip.shape[1] > max_width:
        scale = max_width / strip.shape[1]
        strip = cv2.resize(strip, (max_width, max(1, round(strip.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    write_image(path, strip)
    return path


def write_mp4(
    path: str | Path,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    intensity_range: tuple[float, float] | None = None,
    fps: float = 5.0,
) -> Path:
    """Write an MP4 (mp4v codec) of all frames, with outlines when labels are given. Sizes are made even."""
    path = Path(path)
    u8 = to_uint8(images, intensity_range)
    h, w = (u8.shape[1] // 2) * 2, (u8.shape[2] // 2) * 2
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h), True)
    if not writer.isOpened():
        raise UserError(f"cannot write the video {path}: OpenCV could not open an mp4v writer there (no encoder in this OpenCV build, or the folder is not writable)")
    try:
        for t in range(u8.shape[0]):
            frame = overlay_outlines(u8[t], labels[t]) if labels is not None else cv2.cvtColor(u8[t], cv2.COLOR_GRAY2BGR)
            writer.write(np.ascontiguousarray(frame[:h, :w]))
    finally:
        writer.release()
    tmp.replace(path)
    return path


def write_rows(
    path: str | Path,
    rows: list[tuple[str, np.ndarray]],
    *,
    intensity_range: tuple[float, float],
    frames: int = 3,
    max_width: int = 1200,
) -> Path:
    """Write a greyscale PNG grid: one labelled row per (label, images (T, Y, X)) with ``frames``
    evenly spaced frames side by side, all over one ``intensity_range`` (so brightness compares
    across rows). Rows of another frame height are resized to the first row's height."""
    tile_h = rows[0][1].shape[1]
    out_rows = []
    for label, images in rows:
        picks = np.unique(np.linspace(0, images.shape[0] - 1, num=min(frames, images.shape[0])).round().astype(int))
        tiles = []
        for t in picks:
            tile = to_uint8(images[t], intensity_range)
            if tile.shape[0] != tile_h:
                tile = cv2.resize(tile, (max(1, round(tile.shape[1] * tile_h / tile.shape[0])), tile_h),
                                  interpolation=cv2.INTER_AREA)
            tiles.append(tile)
        sep = np.full((tile_h, 6), 255, np.uint8)
        row = np.concatenate([x for tile in tiles for x in (tile, sep)][:-1], axis=1)
        cv2.putText(row, label, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 0, 4, cv2.LINE_AA)
        cv2.putText(row, label, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 255, 2, cv2.LINE_AA)
        out_rows.append(row)
    width = max(r.shape[1] for r in out_rows)
    out_rows = [np.pad(r, ((0, 0), (0, width - r.shape[1])), constant_values=255) for r in out_rows]
    gap = np.full((6, width), 255, np.uint8)
    img = np.concatenate([x for r in out_rows for x in (r, gap)][:-1], axis=0)
    if img.shape[1] > max_width:
        s = max_width / img.shape[1]
        img = cv2.resize(img, (max_width, max(1, round(img.shape[0] * s))), interpolation=cv2.INTER_AREA)
    path = Path(path)
    write_image(path, img)
    return path


def write_image(path: Path, image: np.ndarray) -> None:
    """Write ``image`` (uint8, (H, W) or (H, W, 3) BGR) to ``path`` (PNG/JPEG by suffix), making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise UserError(f"cannot write the image {path}: check the folder, permissions and free space")
