"""Tiles with overlap for frames larger than a model's size, and feathered stitching.

Arrays are (..., Y, X); positions are top-left corners (y0, x0) in pixels. The last tile in a
row/column is moved back so it ends at the border (every tile has the full model size).
"""

from __future__ import annotations

import numpy as np

from tgan_aug.errors import UserError


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def plan_tiles(shape: tuple[int, int], tile: tuple[int, int], *, overlap: int) -> list[tuple[int, int]]:
    """Top-left corners of tiles of size ``tile`` (H, W) covering ``shape`` (Y, X) with ``overlap`` px.

    Frames smaller than a tile are an error here (pad them first: the model needs its full size).
    """
    (ny, nx), (th, tw) = shape, tile
    if ny < th or nx < tw:
        raise UserError(f"frame {ny}x{nx} is smaller than the tile {th}x{tw}; pad or resize the masks to at least the tile size")
    if not 0 <= overlap < min(th, tw):
        raise UserError(f"tile overlap must be in [0, {min(th, tw)}), got {overlap}")
    return [(y, x) for y in _starts(ny, th, overlap) for x in _starts(nx, tw, overlap)]


def feather_weights(tile: tuple[int, int], overlap: int) -> np.ndarray:
    """(H, W) float32 weights: 1 inside, ramping linearly to small positive values over ``overlap`` px at each edge."""
    th, tw = tile

    def ramp(n: int) -> np.ndarray:
        w = np.ones(n, dtype=np.float32)
        if overlap > 0:
            r = (np.arange(overlap, dtype=np.float32) + 1.0) / (overlap + 1.0)
            w[:overlap] = np.minimum(w[:overlap], r)
            w[n - overlap :] = np.minimum(w[n - overlap :], r[::-1])
        return w

    return np.outer(ramp(th), ramp(tw))


def stitch(
    tiles: list[np.ndarray], positions: list[tuple[int, int]], shape: tuple[int, int], *, overlap: int
) -> np.ndarray:
    """Blend tiles (each (..., H, W)) placed at ``positions`` into one (..., Y, X) float32 array."""
    if not tiles:
        raise ValueError("no tiles to stitch")
    th, tw = tiles[0].shape[-2:]
    lead = tiles[0].shape[:-2]
    out = np.zeros(lead + tuple(shape), dtype=np.float32)
    norm = np.zeros(tuple(shape), dtype=np.float32)
    w = feather_weights((th, tw), overlap)
    for tile, (y, x) in zip(tiles, positions):
        out[..., y : y + th, x : x + tw] += tile.astype(np.float32) * w
        norm[y : y + th, x : x + tw] += w
    return out / norm
