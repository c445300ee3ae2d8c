"""Pushing: overlap relaxation of the cells' proposed footprints, as a growing colony pushes its cells.

Cells propose their next footprints (grown, moved). First each cluster of touching cells is
expanded about its centre by its growth (:func:`expansion_shifts`: what pushing does on
average). Then, where two proposals overlap (or come within
the gap), both are shifted apart by whole pixels along the line through their centroids, each by
half of the overlap's depth along that line (footprints that cannot move, and pixels no cell may
use, push by the whole depth), Gauss-Seidel style (each shift is seen by the next cell at once),
for a few sweeps. A growing or dividing cell in a packed colony so displaces its neighbours,
which displace theirs: the colony expands and cells near its edge move most, as in real
bacterial colonies. The relaxed proposals are then placed with the synthesizer's exact
no-overlap check (:mod:`masksynth.dynamics`); relaxation only makes most of them fit.

Options (SynthConfig fields): ``push_contact`` pushes across an overlap that is clearly longer
than thick, by its thickness, instead of along the centre line (:func:`_contact_normal`);
``push_torque`` also turns the cells that pushes hit (``relax_overlaps(turns=...)``).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import ndimage as ndi

__all__ = ["relax_overlaps", "expansion_shifts", "PUSH_STEP"]

#: the largest shift (px) of one footprint in one sweep: pressure spreads over several sweeps
PUSH_STEP = 3.0
#: contact pushes (``contact=True``): an overlap whose variance across is at most this fraction
#: of its variance along (sd ratio 0.5) is pushed across; rounder ones along the centre line
CONTACT_FLAT = 0.25


def relax_overlaps(
    count: np.ndarray,
    ids: np.ndarray,
    masks: list[np.ndarray],
    reach: list[np.ndarray],
    corners: np.ndarray,
    centres: np.ndarray,
    max_shift: np.ndarray,
    *,
    iterations: int,
    turns: np.ndarray | None = None,
    contact: bool = False,
) -> np.ndarray:
    """Shift overlapping footprints apart; returns the total shift of each.

    count: (H, W) int16 canvas: how many footprints cover each pixel (all of ``masks`` painted at
        ``corners``, plus 1 for each fixed footprint and on pixels no cell may use).
    ids: (H, W) int32 canvas: the sum of k + 1 over the footprints k of ``masks`` covering the
        pixel (fixed footprints and unusable pixels add 0). Both canvases are updated in place.
    masks: N footprint crops, (s0, s1) bool each. reach: N crops of the same shapes, bool: the
        pixels no other footprint may cover (the footprint dilated by the gap).
    corners: (N, 2) int64, top-left (y, x) of each crop on the canvas; updated in place.
    centres: (N, 2) float64, each footprint's centroid in its crop's coordinates (y, x), px.
    max_shift: (N,) float64, the largest total shift (chessboard px) of each footprint.
    iterations: sweeps over the footprints (stops early when nothing moved).
    contact: push along the contact normal instead of the centre line where an overlap is
        clearly longer than thick (:func:`_contact_normal`): by its thickness, not by its extent
        along the centre line, which for two rods overlapping side by side by a sliver is most
        of their shared length (they would be pushed far apart and the colony would stay loose).
    turns: optional (N,) float64, updated in place: each sweep adds the turn (rad, the angle
        convention of :func:`masksynth.shapes.render_shape`) the same pushes would give the
        footprint as a rigid body: their torque about its centroid (each push applied at the mean
        of its overlap pixels) over its polar moment of inertia (mean squared pixel distance from
        the centroid), scaled like the shift by the sweep's PUSH_STEP limit. A rod pushed at one
        end turns away; one pushed along its axis or at its centre does not, nor does anything a
        fixed footprint or wall pushes (that push points at the centroid).

    Returns (N, 2) int64 total shifts (dy, dx) in px.
    """
    h, w = count.shape
    n = len(masks)
    total = np.zeros((n, 2), np.int64)
    as_u8 = [m.view(np.uint8) for m in masks]
    inertia = np.zeros(n)  # polar moments of inertia (px^2), measured when first needed
    for _ in range(iterations):
        moved = False
        for i in range(n):
            m = as_u8[i]
            y0, x0 = int(corners[i, 0]), int(corners[i, 1])
            s0, s1 = m.shape
            c_crop = count[y0 : y0 + s0, x0 : x0 + s1]
            hit = reach[i] & (c_crop > m)  # pixels of someone else within reach
            if not hit.any():
                continue
            ys, xs = np.nonzero(hit)
            own = m[ys, xs]
            others = c_crop[ys, xs] - own
            other = ids[y0 : y0 + s0, x0 : x0 + s1][ys, xs] - (i + 1) * own.astype(np.int32)
            single = others == 1  # pixels shared with exactly one other footprint (or a wall)
            cy, cx = centres[i, 0], centres[i, 1]
            py, px = ys[single] - cy, xs[single] - cx
            j_of = other[single] - 1  # -1: a fixed footprint or an unusable pixel
            vy = vx = torque = 0.0
            for j in np.unique(j_of).tolist():
                sel = j_of == j
                qy, qx = py[sel], px[sel]
                if j >= 0:  # along the line between the two centroids, half each
                    dy = cy + y0 - (centres[j, 0] + corners[j, 0])
                    dx = cx + x0 - (centres[j, 1] + corners[j, 1])
                    share = 0.5
                else:  # away from the wall's pixels, all of it
                    dy, dx = -float(qy.mean()), -float(qx.mean())
                    share = 1.0
                norm = math.hypot(dy, dx)
                if norm < 1e-6:
                    continue
                uy, ux = dy / norm, dx / norm
                if contact and qy.size >= 3:
                    uy, ux = _contact_normal(qy, qx, uy, ux)
                proj = qy * uy + qx * ux
                depth = float(proj.max() - proj.min()) + 1.0  # the overlap's extent along the push
                vy += share * depth * uy
                vx += share * depth * ux
                # torque of this push about the centroid, applied at the overlap's mean (x-y cross product)
                torque += share * depth * (float(qx.mean()) * uy - float(qy.mean()) * ux)
            size = math.hypot(vy, vx)
            if turns is not None and torque:
                if inertia[i] == 0.0:
                    my, mx = np.nonzero(masks[i])
                    inertia[i] = float(np.mean((my - cy) ** 2 + (mx - cx) ** 2)) + 1.0 / 6.0  # + a pixel's own
                turns[i] += torque / inertia[i] * min(1.0, PUSH_STEP / max(size, 1e-9))
            room = max_shift[i] - max(abs(total[i, 0]), abs(total[i, 1]))
            s = min(size, PUSH_STEP, room)
            if s < 0.5:
                continue
            dy, dx = round(s * vy / size), round(s * vx / size)
            if not (dy or dx):  # less than half a pixel on each axis: a pixel along the larger
                dy, dx = (int(math.copysign(1, vy)), 0) if abs(vy) >= abs(vx) else (0, int(math.copysign(1, vx)))
            ny, nx = y0 + dy, x0 + dx
            if ny < 0 or nx < 0 or ny + s0 > h or nx + s1 > w:
                continue
            mi = m.astype(np.int32) * (i + 1)
            count[y0 : y0 + s0, x0 : x0 + s1] -= m
            ids[y0 : y0 + s0, x0 : x0 + s1] -= mi
            count[ny : ny + s0, nx : nx + s1] += m
            ids[ny : ny + s0, nx : nx + s1] += mi
            corners[i] = (ny, nx)
            total[i] += (dy, dx)
            moved = True
        if not moved:
            break
    return total


def _contact_normal(qy: np.ndarray, qx: np.ndarray, uy: float, ux: float) -> tuple[float, float]:
    """The direction (unit (y, x)) across an overlap of pixels (qy, qx): its thin axis, on the
    side of (uy, ux) (the push along the centre line); (uy, ux) itself where the overlap is not
    clearly longer than thick (variance ratio above :data:`CONTACT_FLAT`: a blob, a corner)."""
    dy, dx = qy - qy.mean(), qx - qx.mean()
    a, b, c = float(np.mean(dy * dy)), float(np.mean(dy * dx)), float(np.mean(dx * dx))
    root = math.sqrt((a - c) ** 2 + 4.0 * b * b)
    lo, hi = 0.5 * (a + c - root), 0.5 * (a + c + root)
    if hi <= 0.0 or lo > CONTACT_FLAT * hi:
        return uy, ux
    if abs(b) > 1e-12:  # eigenvector of the smaller eigenvalue of [[a, b], [b, c]] (y, x order)
        vy, vx = b, lo - a
    else:
        vy, vx = (1.0, 0.0) if a <= c else (0.0, 1.0)
    n = math.hypot(vy, vx)
    vy, vx = vy / n, vx / n
    return (vy, vx) if vy * uy + vx * ux >= 0.0 else (-vy, -vx)


def expansion_shifts(
    occupied: np.ndarray,
    pixels: np.ndarray,
    pos: np.ndarray,
    old_area: np.ndarray,
    new_area: np.ndarray,
    *,
    gap: int,
) -> np.ndarray:
    """What pushing does on average: each cluster of touching cells (footprints at most
    ``gap`` + 2 px apart) is expanded about its area-weighted centre by the square root of its
    area growth, so a growing colony makes room for its growth and its cells move outwards, the
    more the farther out; a lone cell or a cluster that does not grow stays.

    occupied: (H, W) bool: the cells' current footprints (any window holding them all whole).
    pixels: (N, 2) int64, one pixel (y, x) of each cell's footprint in that window (which cluster
    it is in). pos: (N, 2) float64 centroids (y, x) px. old_area, new_area: (N,) float64
    current and proposed areas (px).
    Returns (N, 2) float64 shifts (dy, dx) in px.
    """
    if len(pixels) == 0:
        return np.zeros((0, 2))
    r = gap // 2 + 1  # footprints up to 2 r + 1 >= gap + 2 px apart join one cluster
    near = cv2.dilate(occupied.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8))
    clusters, n = ndi.label(near)
    cid = clusters[pixels[:, 0], pixels[:, 1]].astype(np.int64)
    a_old = np.bincount(cid, weights=old_area, minlength=n + 1)
    a_new = np.bincount(cid, weights=new_area, minlength=n + 1)
    cy = np.bincount(cid, weights=old_area * pos[:, 0], minlength=n + 1) / np.maximum(a_old, 1)
    cx = np.bincount(cid, weights=old_area * pos[:, 1], minlength=n + 1) / np.maximum(a_old, 1)
    k = np.sqrt(np.maximum(a_new, 1) / np.maximum(a_old, 1)) - 1.0
    return k[cid, None] * (pos - np.stack([cy[cid], cx[cid]], axis=1))
