"""Placement of the first frame: cells drawn from a shape bank, put on the canvas without overlap.

Random sequential placement with vectorised fit tests (a batch of candidate positions is checked
at once against an occupancy map); near saturation, candidates are drawn only where a distance
transform of the free space says the shape can fit. When placement saturates below a requested
coverage, cells grow by constrained dilation (never into another cell's gap).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import ndimage as ndi

from masksynth.shapes import ShapeBank, render_shape
from masksynth.errors import UserError

__all__ = ["place_cells", "layout_weights", "grow_cells", "min_gap_ok", "BLOCKED"]

#: occupancy value of pixels no cell may use (outside the frame with reflecting borders)
BLOCKED = -1


def layout_weights(
    size: tuple[int, int],
    *,
    layout: str,
    rng: np.random.Generator,
    colonies: int = 0,
    colony_sigma: float = 0.15,
    colony_margin: float = 0.15,
) -> np.ndarray:
    """Placement weights (H, W) float64 (not normalised).

    flat: uniform. colony: a sum of isotropic Gaussians (sd = colony_sigma x shorter side) around
    ``colonies`` centres drawn uniformly at least ``colony_margin`` (fraction of each side) from
    the edges (0 = one per 256x256 pixels), plus a small floor so the whole canvas stays
    reachable once the colonies are full (scaled down with the share of the canvas the colonies
    cover, so that few cells around small colonies start there and not anywhere).
    """
    h, w = size
    if layout == "flat":
        return np.ones((h, w), dtype=np.float64)
    if layout != "colony":
        raise UserError(f"layout must be flat or colony, got {layout!r}")
    n = colonies or max(1, round(h * w / (256 * 256)))
    sigma = colony_sigma * min(h, w)
    cy = rng.uniform(colony_margin * h, (1.0 - colony_margin) * h, size=n)
    cx = rng.uniform(colony_margin * w, (1.0 - colony_margin) * w, size=n)
    yy = np.arange(h, dtype=np.float64)
    xx = np.arange(w, dtype=np.float64)
    out = np.zeros((h, w), dtype=np.float64)
    for y, x in zip(cy, cx):
        out += np.outer(np.exp(-((yy - y) ** 2) / (2 * sigma**2)), np.exp(-((xx - x) ** 2) / (2 * sigma**2)))
    out += 1e-3 * out.max() * min(1.0, n * 2.0 * math.pi * sigma**2 / (h * w))
    return out


def _inradius(mask: np.ndarray) -> float:
    dist = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 3)
    return float(dist.max())


class _Sampler:
    """Draws candidate centres (frame coordinates) from weights, optionally restricted to free space."""

    def __init__(self, weights: np.ndarray, rng: np.random.Generator):
        self.weights = weights
        self.w = weights.shape[1]
        self.rng = rng
        self.cdf = np.cumsum(weights.ravel())
        self.dist: np.ndarray | None = None
        self.cache: dict[int, tuple[np.ndarray, np.ndarray] | None] = {}

    def refresh(self, occ_visible: np.ndarray, gap: int) -> None:
        blocked = (occ_visible != 0).astype(np.uint8)
        if gap:
            blocked = cv2.dilate(blocked, np.ones((2 * gap + 1, 2 * gap + 1), np.uint8))
        self.dist = cv2.distanceTransform(1 - blocked, cv2.DIST_L2, 3)
        self.cache = {}

    def draw(self, n: int, need: float) -> tuple[np.ndarray, np.ndarray] | None:
        if self.dist is None:
            cdf, where = self.cdf, None
        else:
            level = int(need)
            if level not in self.cache:
                where = np.flatnonzero(self.dist.ravel() >= max(level, 0.5))
                self.cache[level] = (where, np.cumsum(self.weights.ravel()[where])) if where.size else None
            entry = self.cache[level]
            if entry is None:
                return None
            where, cdf = entry
        idx = np.searchsorted(cdf, self.rng.random(n) * cdf[-1], side="right")
        idx = np.minimum(idx, cdf.size - 1)
        if where is not None:
            idx = where[idx]
        return idx // self.w, idx % self.w


def place_cells(
    size: tuple[int, int],
    *,
    bank: ShapeBank,
    rng: np.random.Generator,
    draw: dict | None = None,
    coverage: float | None = None,
    cells: int | None = None,
    layout: str = "flat",
    colonies: int = 0,
    colony_sigma: float = 0.15,
    colony_margin: float = 0.15,
    min_gap: int = 1,
    border: str = "open",
    pad: int = 0,
    batch: int = 64,
    max_misses: int = 40,
    progress=None,
) -> np.ndarray:
    """Place non-overlapping cells for the first frame.

    size: (H, W) of the visible frame. Exactly one of ``coverage`` (fraction of visible pixels
    to cover) or ``cells`` (number of cells) must be given. Cells keep ``min_gap`` background
    pixels between each other (chessboard distance > min_gap). With ``border="open"`` cells may
    be cut by the frame edge (their centre is inside); with ``reflect`` they lie fully inside.
    pad: margin (px) around the frame in the returned occupancy map. draw: keyword options of
    :meth:`ShapeBank.sample` (e.g. ``{"scale_sd": 0.0, "morph": False}``: shapes as they are).

    Returns the occupancy map (H + 2 pad, W + 2 pad) int32: 0 free, k > 0 = cell slot k
    (slots 1..n), ``BLOCKED`` (-1) outside the frame when ``border="reflect"``.
    Raises :class:`UserError` when the request cannot be met, saying how much fits.
    """
    if (coverage is None) == (cells is None):
        raise UserError("give exactly one of coverage (fraction) or cells (count) for placement")
    h, w = size
    H, W = h + 2 * pad, w + 2 * pad
    occ = np.zeros((H, W), dtype=np.int32)
    if border == "reflect" and pad:
        occ[:pad], occ[-pad:], occ[:, :pad], occ[:, -pad:] = BLOCKED, BLOCKED, BLOCKED, BLOCKED
    vis = (slice(pad, pad + h), slice(pad, pad + w))
    total = h * w
    if cells == 0:
        return occ
    weights = layout_weights(size, layout=layout, rng=rng, colonies=colonies, colony_sigma=colony_sigma,
                             colony_margin=colony_margin)
    sampler = _Sampler(weights, rng)
    square = np.ones((2 * min_gap + 1, 2 * min_gap + 1), np.uint8) if min_gap else None
    covered = 0
    placed = 0
    misses = 0
    target_px = None if coverage is None else coverage * total
    while True:
        if cells is not None and placed >= cells:
            break
        if target_px is not None and covered >= target_px:
            break
        shape = bank.sample(rng, **(draw or {}))
        angle = float(rng.uniform(0, 2 * math.pi))
        mask, c = render_shape(shape, angle=angle, scale=1.0, morph=0, frac=(0.0, 0.0), margin=min_gap)
        if not mask.any():
            continue
        gmask = cv2.dilate(mask.astype(np.uint8), square) > 0 if square is not None else mask
        oy, ox = np.nonzero(gmask)
        s = mask.shape[0]
        need = 0.7 * _inradius(mask)
        ok_pos = None
        for attempt in range(2):
            drawn = sampler.draw(batch, need)
            if drawn is None:
                break
            y0 = drawn[0] + pad - c
            x0 = drawn[1] + pad - c
            inb = (y0 >= 0) & (x0 >= 0) & (y0 + s <= H) & (x0 + s <= W)
            y0, x0 = y0[inb], x0[inb]
            if border == "reflect":
                pass  # BLOCKED margin rejects footprints reaching outside the frame
            if y0.size:
                hits = occ[y0[:, None] + oy[None, :], x0[:, None] + ox[None, :]].any(axis=1)
                free = np.flatnonzero(~hits)
                if free.size:
                    ok_pos = (int(y0[free[0]]), int(x0[free[0]]))
                    break
            if attempt == 0:
                sampler.refresh(occ[vis], min_gap)
        if ok_pos is None:
            misses += 1
            if misses >= max_misses:
                break
            continue
        misses = 0
        placed += 1
        y0, x0 = ok_pos
        region = occ[y0 : y0 + s, x0 : x0 + s]
        region[mask] = placed
        # visible pixels of this cell
        vy0, vy1 = max(y0, pad), min(y0 + s, pad + h)
        vx0, vx1 = max(x0, pad), min(x0 + s, pad + w)
        if vy1 > vy0 and vx1 > vx0:
            covered += int(mask[vy0 - y0 : vy1 - y0, vx0 - x0 : vx1 - x0].sum())
        if progress is not None:
            progress(placed)
    if cells is not None and placed < cells:
        raise UserError(
            f"only {placed} cells fit on {h}x{w} with these shapes (median area "
            f"{bank.median_area:.0f} px) and min gap {min_gap}; ask for --cells {placed} or fewer, "
            "a larger --size, smaller cells or a smaller gap"
        )
    if target_px is not None and covered < target_px:
        covered = grow_cells(occ, min_gap=min_gap, visible=vis, target_px=target_px, rng=rng)
        if covered < target_px * 0.98:
            raise UserError(
                f"coverage {coverage:.2f} cannot be reached on {h}x{w} with min gap {min_gap}: "
                f"at most {covered / total:.2f} fits; ask for --coverage {covered / total:.2f} or less, "
                "or use a smaller gap"
            )
    return occ


def grow_cells(
    occ: np.ndarray,
    *,
    min_gap: int,
    visible: tuple[slice, slice],
    target_px: float,
    max_iter: int = 12,
    rng: np.random.Generator | None = None,
) -> int:
    """Grow cells in place by one pixel per iteration until ``target_px`` visible pixels are covered.

    A free pixel joins a cell when that cell is 8-adjacent to it and no other cell lies within
    chessboard distance min_gap + 1 (so two growing cells can never come within min_gap).
    In the last iteration only a random part of the rim grows (``rng``), so the target is met
    without overshooting by a whole rim of pixels.
    occ: (H, W) int32 occupancy map, modified in place. Returns the covered visible pixel count.
    """
    big = np.iinfo(np.int32).max
    size = 2 * (min_gap + 1) + 1
    covered = int((occ[visible] > 0).sum())
    for _ in range(max_iter):
        if covered >= target_px:
            break
        pos = np.where(occ > 0, occ, 0)
        hi = ndi.maximum_filter(pos, size=size, mode="constant", cval=0)
        lo = ndi.minimum_filter(np.where(occ > 0, occ, big), size=size, mode="constant", cval=big)
        adj = ndi.maximum_filter(pos, size=3, mode="constant", cval=0)
        grow = (occ == 0) & (hi > 0) & (hi == lo) & (adj == hi)
        idx = np.flatnonzero(grow)
        if idx.size == 0:
            break
        vis_grow = int(grow[visible].sum())
        need = int(np.ceil(target_px - covered))
        if vis_grow > need:  # grow only part of the rim so the target is not overshot
            keep = rng.random(idx.size) < need / vis_grow if rng is not None else np.arange(idx.size) % max(1, vis_grow // need) == 0
            idx = idx[keep]
        flat = occ.reshape(-1)
        flat[idx] = hi.reshape(-1)[idx]
        covered = int((occ[visible] > 0).sum())
    return covered


def min_gap_ok(labels: np.ndarray, min_gap: int) -> bool:
    """True when any two different cells in a (Y, X) or (T, Y, X) label array are at chessboard
    distance > ``min_gap`` (i.e. at least ``min_gap`` background pixels between them)."""
    labels = np.asarray(labels)
    frames = labels[None] if labels.ndim == 2 else labels
    big = 1 << 40  # exact as a float (scipy converts cval to float)
    size = 2 * min_gap + 1
    if min_gap == 0:
        return True
    for f in frames:
        f = f.astype(np.int64)
        if not f.any():
            continue
        hi = ndi.maximum_filter(f, size=size, mode="constant", cval=0)
        lo = ndi.minimum_filter(np.where(f > 0, f, big), size=size, mode="constant", cval=big)
        fg = f > 0
        if np.any(hi[fg] != f[fg]) or np.any(lo[fg] != f[fg]):
            return False
    return True
