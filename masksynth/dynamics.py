"""Frame-by-frame dynamics of a synthetic cell population, with exact track ids and lineage.

The state is one occupancy map (padded canvas, int32 cell slots) plus one small record per cell
(base shape, pose, footprint crop). Every frame:

1. divisions: an eligible cell (fully inside the frame, old and large enough) is cut across
   its long axis into two daughters (new ids, parent = mother; the mother's track ends the
   frame before). The cut leaves ``min_gap`` pixels between the daughters.
2. entries (open borders): new cells appear just outside the frame, heading inwards.
3. moves, in random order: each cell proposes a new pose (persistent random walk, rotation,
   area jitter/growth, erosion/dilation level) rendered from its base shape; a proposal that
   would come within ``min_gap`` of another cell (or leave the canvas) is resolved by trying a
   shorter step, other headings, then no translation, and finally keeping the previous
   footprint, which is always free. Cells are never dropped by a collision.
4. visibility: cells with no pixel left in the frame end their track (open borders); entering
   cells get an id the first frame they show a pixel.

All work is on per-cell crops; the only full-frame operations are one bincount and one lookup.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import cv2
import numpy as np
from scipy import ndimage as ndi

from masksynth.config import SynthConfig
from masksynth.placement import place_cells
from masksynth.shapes import BaseShape, ShapeBank, render_shape
from masksynth.tracked import MAX_ID
from masksynth.errors import UserError

__all__ = ["MaskSimulator"]

MAX_SCALE = 2.5
MIN_SCALE = 0.4
PENDING_FRAMES = 12


class _Cell:
    __slots__ = (
        "slot", "base", "pos", "angle", "heading", "speed", "scale", "morph",
        "mask", "y0", "x0", "area", "tid", "born", "visible", "pending_since",
    )

    def __init__(self, slot: int, base: BaseShape, pos: tuple[float, float], *, angle: float,
                 heading: float, speed: float, born: int):
        self.slot = slot
        self.base = base
        self.pos = pos
        self.angle = angle
        self.heading = heading
        self.speed = speed
        self.scale = 1.0
        self.morph = 0
        self.mask: np.ndarray = np.zeros((0, 0), bool)
        self.y0 = 0
        self.x0 = 0
        self.area = 0
        self.tid = 0
        self.born = born
        self.visible = 0
        self.pending_since = born


class MaskSimulator:
    """Run the synthesis frame by frame: ``first_frame()`` then ``step()`` for each next frame.

    config: the :class:`SynthConfig`; rng: the sequence's numpy Generator (all randomness comes
    from it, so a seed reproduces the output bit for bit); bank: shapes to draw from.
    Frames are (Y, X) uint16 label images (value = track id); :meth:`lineage` gives the
    (N, 4) int64 rows ``id, t_start, t_end, parent`` of the frames produced so far.
    """

    def __init__(self, config: SynthConfig, *, rng: np.random.Generator, bank: ShapeBank,
                 progress: Callable[[int], None] | None = None):
        self.cfg = config
        self.rng = rng
        self.bank = bank
        self.h, self.w = config.size
        self.gap = int(config.min_gap)
        self.square = np.ones((2 * self.gap + 1,) * 2, np.uint8) if self.gap else None
        self.margin = self.gap + 1
        self.pad = self._pad_size()
        self.H, self.W = self.h + 2 * self.pad, self.w + 2 * self.pad
        self.vis = (slice(self.pad, self.pad + self.h), slice(self.pad, self.pad + self.w))
        self.growth = config.effective_growth_rate()
        self.div_min_area = (
            float(config.division_min_area) if config.division_min_area is not None else 0.8 * bank.median_area
        )
        sig2 = math.log1p(config.speed_cv**2)
        self._speed_mu, self._speed_sigma = -sig2 / 2, math.sqrt(sig2)
        self.t = -1
        self.next_slot = 1
        self.next_id = 1
        self.rows: dict[int, list[int]] = {}
        self.lut = np.zeros(1024, dtype=np.uint16)
        self.cells: list[_Cell] = []
        self.left_last = 0
        self.deficit = 0  # entries owed (failed spawns, expired entering cells), when enter_rate is None
        self.occ = place_cells(
            config.size, bank=bank, rng=rng, coverage=config.target_coverage, cells=config.cells,
            layout=config.layout, colonies=config.colonies, colony_sigma=config.colony_sigma,
            min_gap=self.gap, border=config.border, pad=self.pad, progress=progress,
        )
        self._cells_from_occupancy()

    # ------------------------------------------------------------------ setup
    def _pad_size(self) -> int:
        """Margin around the frame: room for a whole cell outside it (entering/leaving)."""
        probe = np.random.default_rng(12345)  # independent of the sequence's stream
        radii = [self.bank.sample(probe).radius for _ in range(64)]
        r = float(np.percentile(radii, 99)) * MAX_SCALE
        half = int(math.ceil(r)) + 2 + self.margin + self.cfg.morph_max
        return 2 * half + int(math.ceil(3 * self.cfg.speed_mean)) + 4

    def _new_speed(self) -> float:
        return self.cfg.speed_mean * math.exp(self.rng.normal(self._speed_mu, self._speed_sigma))

    def _cells_from_occupancy(self) -> None:
        occ = self.occ
        objs = ndi.find_objects(np.where(occ > 0, occ, 0))
        for slot, sl in enumerate(objs, start=1):
            if sl is None:
                continue
            mask = occ[sl] == slot
            base = BaseShape.from_mask(mask)
            pos = (sl[0].start + base.centroid[0], sl[1].start + base.centroid[1])
            cell = _Cell(slot, base, pos, angle=0.0, heading=float(self.rng.uniform(0, 2 * math.pi)),
                         speed=self._new_speed(), born=-self.cfg.min_division_age)
            cell.mask, cell.y0, cell.x0, cell.area = mask, sl[0].start, sl[1].start, int(mask.sum())
            self.cells.append(cell)
        self.next_slot = len(objs) + 1
        self._ensure_lut(self.next_slot)

    def _ensure_lut(self, n: int) -> None:
        if n >= self.lut.size:
            size = self.lut.size
            while size <= n:
                size *= 2
            self.lut = np.concatenate([self.lut, np.zeros(size - self.lut.size, np.uint16)])

    def _alloc_slot(self) -> int:
        s = self.next_slot
        self.next_slot += 1
        self._ensure_lut(s)
        return s

    def _new_track(self, cell: _Cell, parent: int) -> None:
        if self.next_id > MAX_ID:
            raise UserError(
                f"more than {MAX_ID} tracks are needed (uint16 ids): ask for fewer --frames, "
                "fewer cells or a lower --division-rate"
            )
        cell.tid = self.next_id
        self.next_id += 1
        self.rows[cell.tid] = [cell.tid, self.t, self.t, parent]
        self.lut[cell.slot] = cell.tid

    # ------------------------------------------------------------------ footprints
    def _erase(self, cell: _Cell) -> None:
        m = cell.mask
        self.occ[cell.y0 : cell.y0 + m.shape[0], cell.x0 : cell.x0 + m.shape[1]][m] = 0

    def _paint(self, cell: _Cell) -> None:
        m = cell.mask
        self.occ[cell.y0 : cell.y0 + m.shape[0], cell.x0 : cell.x0 + m.shape[1]][m] = cell.slot

    def _fits(self, mask: np.ndarray, y0: int, x0: int) -> bool:
        s0, s1 = mask.shape
        if y0 < 0 or x0 < 0 or y0 + s0 > self.H or x0 + s1 > self.W:
            return False
        check = cv2.dilate(mask.view(np.uint8), self.square).view(bool) if self.square is not None else mask
        return not self.occ[y0 : y0 + s0, x0 : x0 + s1][check].any()

    def _try(self, cell: _Cell, pos: tuple[float, float], angle: float, scale: float, morph: int):
        fy, fx = math.floor(pos[0]), math.floor(pos[1])
        mask, c = render_shape(cell.base, angle=angle, scale=scale, morph=morph,
                               frac=(pos[0] - fy, pos[1] - fx), margin=self.margin)
        y0, x0 = fy - c, fx - c
        if not mask.any() or not self._fits(mask, y0, x0):
            return None
        return mask, y0, x0

    # ------------------------------------------------------------------ frame steps
    def first_frame(self) -> np.ndarray:
        """Frame 0: the placed cells. Returns (Y, X) uint16 labels."""
        self.t = 0
        self._update_visibility(first=True)
        return self.lut[self.occ[self.vis]]

    def step(self) -> np.ndarray:
        """Advance one frame. Returns (Y, X) uint16 labels of the new frame."""
        if self.t < 0:
            return self.first_frame()
        self.t += 1
        newborn = self._divide()
        self._enter()
        self._move(skip=newborn)
        self._update_visibility(first=False)
        return self.lut[self.occ[self.vis]]

    def _divide(self) -> set[int]:
        cfg = self.cfg
        born: set[int] = set()
        if cfg.division_rate <= 0 or not self.cells:
            return born
        u = self.rng.random(len(self.cells))
        out: list[_Cell] = []
        for cell, ui in zip(self.cells, u):
            if (
                ui >= cfg.division_rate
                or cell.tid == 0
                or cell.visible != cell.area
                or cell.area < self.div_min_area
                or self.t - cell.born < cfg.min_division_age
            ):
                out.append(cell)
                continue
            halves = self._split(cell.mask)
            if halves is None:
                out.append(cell)
                continue
            self._erase(cell)
            self.rows[cell.tid][2] = self.t - 1
            axis = halves[2]
            for k, half in enumerate(halves[:2]):
                ys, xs = np.nonzero(half)
                y0, x0 = cell.y0 + int(ys.min()), cell.x0 + int(xs.min())
                base = BaseShape.from_mask(half[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
                pos = (y0 + base.centroid[0], x0 + base.centroid[1])
                heading = axis + (0.0 if k == 0 else math.pi) + self.rng.normal(0.0, 0.3)
                d = _Cell(self._alloc_slot(), base, pos, angle=0.0, heading=heading,
                          speed=self._new_speed(), born=self.t)
                d.mask = half
                d.y0, d.x0, d.area = cell.y0, cell.x0, int(half.sum())
                d.visible = d.area
                self._paint(d)
                self._new_track(d, parent=cell.tid)
                out.append(d)
                born.add(d.slot)
        self.cells = out
        return born

    def _split(self, mask: np.ndarray):
        """Cut a footprint across its long axis; None when a half would be too small."""
        ys, xs = np.nonzero(mask)
        cy, cx = ys.mean(), xs.mean()
        dy, dx = ys - cy, xs - cx
        cov = np.array([[np.mean(dy * dy), np.mean(dy * dx)], [np.mean(dy * dx), np.mean(dx * dx)]])
        evals, evecs = np.linalg.eigh(cov)
        uy, ux = evecs[:, 1]
        side = (dy * uy + dx * ux) > 0
        a = np.zeros_like(mask)
        a[ys[side], xs[side]] = True
        b = mask & ~a
        if self.square is not None:
            b &= ~(cv2.dilate(a.view(np.uint8), self.square).view(bool))
        na, nb = int(a.sum()), int(b.sum())
        if min(na, nb) < max(4, 0.2 * ys.size):
            return None
        return a, b, math.atan2(uy, ux)

    def _enter(self) -> None:
        cfg = self.cfg
        if cfg.border != "open":
            return
        if cfg.enter_rate is not None:
            n = int(self.rng.poisson(cfg.enter_rate))
        else:
            n = self.left_last + min(self.deficit, max(8, len(self.cells) // 20))
            self.deficit = 0
        h, w, p = self.h, self.w, self.pad
        for _ in range(n):
            base = self.bank.sample(self.rng)
            angle = float(self.rng.uniform(0, 2 * math.pi))
            side = int(self.rng.choice(4, p=np.array([w, w, h, h], float) / (2 * (w + h))))
            along = float(self.rng.uniform(0, w if side < 2 else h))
            out_d = base.radius + 1.0
            if side == 0:
                pos, normal = (p - out_d, p + along), math.pi / 2
            elif side == 1:
                pos, normal = (p + h + out_d, p + along), -math.pi / 2
            elif side == 2:
                pos, normal = (p + along, p - out_d), 0.0
            else:
                pos, normal = (p + along, p + w + out_d), math.pi
            cell = _Cell(self._alloc_slot(), base, pos, angle=angle,
                         heading=normal + float(self.rng.uniform(-math.pi / 3, math.pi / 3)),
                         speed=max(self._new_speed(), 0.5), born=self.t)
            fit = self._try(cell, pos, angle, 1.0, 0)
            if fit is None:
                self.deficit += 1
                continue
            cell.mask, cell.y0, cell.x0 = fit
            cell.area = int(cell.mask.sum())
            self._paint(cell)
            self.cells.append(cell)

    def _move(self, skip: set[int]) -> None:
        """Move every cell once, in random order; collisions are resolved (see module doc).

        The new pose is rendered once; alternatives (half step, other headings, no
        translation) reuse that footprint shifted by whole pixels, so a crowded frame costs
        a few array lookups per cell rather than a few renders.
        """
        cfg = self.cfg
        rng = self.rng
        occ = self.occ
        H, W = self.H, self.W
        order = rng.permutation(len(self.cells))
        grow = math.log1p(self.growth)
        n_alt = max(cfg.resolve_attempts - 2, 0)
        for i in order.tolist():
            cell = self.cells[i]
            if cell.slot in skip:
                continue
            heading = cell.heading + rng.normal(0.0, cfg.turn_sd)
            angle = cell.angle + rng.normal(0.0, cfg.rotation_sd)
            scale = cell.scale * math.exp(grow + rng.normal(0.0, cfg.area_sd))
            scale = min(max(scale, MIN_SCALE), MAX_SCALE)
            morph = cell.morph
            if cfg.morph_max and rng.random() < cfg.morph_prob:
                morph = int(np.clip(morph + (1 if rng.random() < 0.5 else -1), -cfg.morph_max, cfg.morph_max))
            step = cell.speed
            py, px = cell.pos
            sin_h, cos_h = math.sin(heading), math.cos(heading)
            pos = (py + step * sin_h, px + step * cos_h)
            fy, fx = math.floor(pos[0]), math.floor(pos[1])
            mask, c = render_shape(cell.base, angle=angle, scale=scale, morph=morph,
                                   frac=(pos[0] - fy, pos[1] - fx), margin=self.margin)
            self._erase(cell)
            chosen = None
            if mask.any():
                gm = cv2.dilate(mask.view(np.uint8), self.square).view(bool) if self.square is not None else mask
                s0, s1 = mask.shape
                by, bx = fy - c, fx - c
                shifts = [(0, 0, heading)]
                if cfg.resolve_attempts >= 1:
                    shifts.append((round(-0.5 * step * sin_h), round(-0.5 * step * cos_h), heading))
                    for _ in range(n_alt):
                        hd = float(rng.uniform(0, 2 * math.pi))
                        shifts.append((round(py + step * math.sin(hd) - pos[0]),
                                       round(px + step * math.cos(hd) - pos[1]), hd))
                    shifts.append((round(py - pos[0]), round(px - pos[1]), heading))
                for dy, dx, hd in shifts:
                    y0, x0 = by + dy, bx + dx
                    if y0 < 0 or x0 < 0 or y0 + s0 > H or x0 + s1 > W:
                        continue
                    if not occ[y0 : y0 + s0, x0 : x0 + s1][gm].any():
                        chosen = (y0, x0, dy, dx, hd)
                        break
            if chosen is None:
                # keep the previous footprint (always free: nobody may enter a cell's gap)
                cell.heading = float(rng.uniform(0, 2 * math.pi))
                self._paint(cell)
                continue
            y0, x0, dy, dx, hd = chosen
            cell.mask, cell.y0, cell.x0 = mask, y0, x0
            cell.area = int(np.count_nonzero(mask))
            cell.pos = (pos[0] + dy, pos[1] + dx)
            cell.heading, cell.angle, cell.scale, cell.morph = hd, angle, scale, morph
            self._paint(cell)

    def _update_visibility(self, *, first: bool) -> None:
        counts = np.bincount(self.occ[self.vis].ravel(), minlength=self.next_slot)
        keep: list[_Cell] = []
        left = 0
        for cell in self.cells:
            n = int(counts[cell.slot])
            cell.visible = n
            if cell.tid:
                if n == 0:
                    self._erase(cell)
                    self.lut[cell.slot] = 0
                    left += 1
                    continue
                self.rows[cell.tid][2] = self.t
            elif n > 0:
                self._new_track(cell, parent=0)
            elif first or self.t - cell.pending_since > PENDING_FRAMES:
                self._erase(cell)
                self.deficit += 0 if first else 1
                continue
            keep.append(cell)
        self.cells = keep
        self.left_last = left

    # ------------------------------------------------------------------ results
    def lineage(self) -> np.ndarray:
        """(N, 4) int64 rows ``id, t_start, t_end, parent`` sorted by id."""
        rows = sorted(self.rows.values())
        return np.array(rows, dtype=np.int64).reshape(-1, 4)

    def frames(self, n: int) -> Iterator[np.ndarray]:
        """Yield ``n`` frames (Y, X) uint16, starting with frame 0."""
        for _ in range(n):
            yield self.step()
