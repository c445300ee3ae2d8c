"""Frame-by-frame dynamics of a synthetic cell population, with exact track ids and lineage.

The state is one occupancy map (padded canvas, int32 cell slots) plus one small record per cell
(base shape, pose, footprint crop). Every frame:

1. divisions: an eligible cell (old and large enough, or, with the timer model of measured
   cell cycles, at the end of its cycle and grown) is cut across its long axis into two
   daughters (new ids, parent = mother; the mother's track ends the frame before), where at
   least half of each daughter is in the frame (cells cut by the frame's edge divide too).
   The cut leaves ``min_gap`` pixels between the daughters; with the timer model they grow in
   their first frame, away from the cut, and are not pushed.
2. entries (open borders): new cells appear just outside the frame, heading inwards.
3. moves, in random order: each cell proposes a new pose (persistent random walk, rotation,
   area jitter/growth or a measured slow area and elongation change (:mod:`masksynth.wander`),
   erosion/dilation level) rendered from its base shape; a proposal that
   would come within ``min_gap`` of another cell (or leave the canvas) is resolved by trying a
   shorter step, other headings, then no translation, and finally keeping the previous
   footprint, which is always free. Cells are never dropped by a collision.
   With pushing (``push_iterations`` > 0), all cells propose their poses first, each cluster
   of touching cells expands by its growth, overlapping proposals are pushed apart
   (:mod:`masksynth.push`), the proposals that overlap nothing move at once and the rest are
   resolved one by one as above, so the guarantee is the same.
4. field drift (``drift_quantiles``): the field of view moves over the canvas by a measured
   step in a random direction, so every cell's displacement is its own step plus the field's
   (the step is drawn at the start of the frame, so the division rule above holds for the
   view after it: no daughter leaves the view in its first frame).
5. visibility: cells with no pixel left in the frame end their track (open borders); entering
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
from masksynth.placement import BLOCKED, place_cells
from masksynth.push import expansion_shifts, relax_overlaps
from masksynth.shapes import BaseShape, ShapeBank, render_shape
from masksynth.tracked import MAX_ID
from masksynth.wander import prob_of, quantile_draw, score_at, score_of, start_walk, step_walk, value_of
from masksynth.errors import UserError

__all__ = ["MaskSimulator", "quantile_draw"]

MAX_SCALE = 2.5
MIN_SCALE = 0.4
PENDING_FRAMES = 12
#: timer division model: a cell divides once its area reached this fraction of its target
TIMER_MIN_GROWTH = 0.8
#: a cell divides only where at least this fraction of each daughter is in the field of view
#: (cells at the frame's edge divide too; a daughter out of view would have no first frame)
DAUGHTER_IN_VIEW = 0.5
#: pushing: the largest shift of a cell per frame, as a fraction of its radius
PUSH_MAX_SHIFT = 0.5
#: measured elongation change: the most a base shape is stretched (log elongation factor; 2x per axis)
MAX_STRETCH = math.log(4.0)
#: pushing with torque (push_torque): the largest turn (rad) pushes give a cell in one frame
MAX_SPIN = 0.25
#: field drift: the fraction of the field's offset from its start pulled back each frame, so it
#: stays on the canvas (an AR(1) offset; with bacteria-phc's steps its sd is ~10 px per axis)
DRIFT_REVERT = 0.1


class _Cell:
    __slots__ = (
        "slot", "base", "pos", "angle", "heading", "speed", "scale", "morph",
        "mask", "y0", "x0", "area", "tid", "born", "visible", "pending_since", "z", "cycle", "t0",
        "log_growth", "target", "trend", "dev", "area_own", "area_dev", "elong_own", "elong_dev", "stretch", "septum",
        "spin", "clock",
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
        self.z = 0.0  # normal score of the step length (measured-motion model)
        self.cycle = 0.0  # cell-cycle length in frames (timer division model)
        self.t0 = born  # frame where the area scale was 1 (timer division model)
        self.log_growth = 0.0  # log area growth per frame (timer division model)
        self.target = 0.0  # area (px) to reach by the end of the cycle (timer division model)
        # the frame its daughters are due in on its lineage's clock (timer model, cycle_catch_up)
        self.clock = 0.0
        self.trend = 1.0  # area scale without the jitter (area_revert > 0)
        self.dev = 0.0  # log-area jitter (area_revert > 0)
        # measured shape change (masksynth.wander): the score the cell keeps and its AR(1) deviation
        self.area_own = self.area_dev = self.elong_own = self.elong_dev = 0.0
        self.stretch = 0.0  # log elongation factor of the rendered shape over its base shape
        self.spin = 0.0  # body turn (rad) the pushes of the frame before give it (push_torque)
        # a daughter in its first frame: (direction away from its sister (rad), its length along
        # it (px)); it grows away from the division plane (timer division model)
        self.septum: tuple[float, float] | None = None


class _Pose:
    """A cell's proposed next pose (see :meth:`MaskSimulator._pose`); pos in canvas px (y, x)."""

    __slots__ = ("heading", "angle", "scale", "morph", "step", "pos", "trend", "dev", "area_dev", "elong_dev", "stretch")

    def __init__(self) -> None:
        self.trend = 1.0
        self.dev = 0.0
        self.area_dev = self.elong_dev = self.stretch = 0.0


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
        as_array = lambda q: np.asarray(q, dtype=np.float64) if q is not None else None  # noqa: E731
        self.speed_q = as_array(config.speed_quantiles)
        self.turn_q = as_array(config.turn_quantiles)
        self.cycle_q = as_array(config.cycle_quantiles) if config.division_rate > 0 else None
        # mean cycle length (frames) of the timer model's draws: a lineage's clock advances by it
        # per generation (linear interpolation between evenly spaced quantiles, see quantile_draw)
        self.cycle_mean = (float((self.cycle_q[1:] + self.cycle_q[:-1]).mean() / 2.0)
                           if self.cycle_q is not None else 0.0)
        self.div_area_q = as_array(config.division_area_quantiles)
        self.div_elong_q = as_array(config.division_elongation_quantiles)
        # measured slow shape change; the timer division model sets areas and elongations itself
        self.area_q = as_array(config.area_quantiles) if self.cycle_q is None else None
        self.elong_q = as_array(config.elongation_quantiles) if self.cycle_q is None else None
        self.drift_q = as_array(config.drift_quantiles) if config.border == "open" else None
        self.drift_room = self._drift_room()
        self.pad = self._pad_size() + self.drift_room
        self.H, self.W = self.h + 2 * self.pad, self.w + 2 * self.pad
        self.offset = (0.0, 0.0)  # the field of view's offset (y, x) px from where it started
        self.vis = (slice(self.pad, self.pad + self.h), slice(self.pad, self.pad + self.w))
        self.next_vis = self.vis  # where the field of view goes at the end of this frame (drift)
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
        #: ShapeBank.sample options: the bank's own augmentation, or the shapes as they are
        self.draw = {} if config.shape_jitter else {"scale_sd": 0.0, "morph": False}
        self.occ = place_cells(
            config.size, bank=bank, rng=rng, draw=self.draw, coverage=config.target_coverage, cells=config.cells,
            layout=config.layout, colonies=config.colonies, colony_sigma=config.colony_sigma,
            colony_margin=config.colony_margin,
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
        fastest = max(3 * self.cfg.speed_mean, float(self.speed_q[-1]) if self.speed_q is not None else 0.0)
        return 2 * half + int(math.ceil(fastest)) + 4

    def _drift_room(self) -> int:
        """How far (px per axis) the drifting field of view may move from its start: the largest
        drift step plus 3 sd of the offset's stationary spread (0 without drift)."""
        if self.drift_q is None:
            return 0
        step_sd = math.sqrt(float(np.mean(self.drift_q**2)) / 2.0)  # per axis
        spread = step_sd / math.sqrt(1.0 - (1.0 - DRIFT_REVERT) ** 2)
        return int(math.ceil(float(self.drift_q[-1]) + 3.0 * spread))

    def _new_speed(self) -> float:
        return self.cfg.speed_mean * math.exp(self.rng.normal(self._speed_mu, self._speed_sigma))

    def _init_cell(self, cell: _Cell, *, newborn: bool, z: float | None = None,
                   z_cycle: float | None = None, mother: _Cell | None = None) -> _Cell:
        """Draw what the measured models need: the step-length score and, with the timer
        division model, the cycle length (cells not born here start at a random cycle phase;
        a daughter makes up ``cycle_catch_up`` of its ``mother``'s delay against their clock)."""
        if self.speed_q is not None:
            cell.z = float(self.rng.normal()) if z is None else z
        if self.cycle_q is not None:
            u_cycle = float(self.rng.random()) if z_cycle is None else prob_of(z_cycle)
            cycle = quantile_draw(self.cycle_q, u_cycle)
            if mother is not None:
                catch_up = self.cfg.cycle_catch_up * (self.t - mother.clock)
                cycle = min(max(cycle - catch_up, float(self.cycle_q[0])), float(self.cycle_q[-1]))
            cell.cycle = float(max(1, round(cycle)))
            # a daughter starts as half of its mother's footprint of the frame before
            cell.t0 = self.t - 1 if newborn else max(self.t, 0)
            if not newborn:
                cell.born = cell.t0 - int(self.rng.integers(0, int(cell.cycle) + 1))
            cell.clock = mother.clock + self.cycle_mean if mother is not None else float(cell.born + cell.cycle)
            area = float(cell.base.area)
            u = float(self.rng.random())
            rho = self.cfg.cycle_size_corr
            if rho > 0:  # a longer cycle ends larger (normal scores correlated by rho)
                z_c = z_cycle if z_cycle is not None else score_at(u_cycle)
                u = prob_of(rho * z_c + math.sqrt(1.0 - rho * rho) * score_at(u))
            if self.div_area_q is not None:  # grow to a measured division size (sizes regress to it)
                cell.target = quantile_draw(self.div_area_q, u)
            else:  # double over the cycle
                cell.target = 2.0 * area * (0.5 ** ((cell.t0 - cell.born) / cell.cycle) if not newborn else 1.0)
            frames = max(1.0, cell.born + cell.cycle - 1 - cell.t0)  # to its last frame before dividing
            ratio = min(max(cell.target / area, 1.0), MAX_SCALE)
            cell.log_growth = math.log(ratio) / frames
            if self.div_elong_q is not None and ratio > 1.05:
                # share the growth between the axes so that the measured elongation is reached
                # too (same probability u as the area: long cells are the large ones)
                r_elong = quantile_draw(self.div_elong_q, u) / max(cell.base.elongation, 1.0)
                g = 0.5 * (1.0 + math.log(max(r_elong, 1e-3)) / math.log(ratio))
                cell.base.growth_exponent = float(np.clip(g, 0.0, 1.5))
        # measured shape change: the walks start at the scores of the cell's own area and elongation
        if self.area_q is not None:
            z0 = score_of(self.area_q, float(cell.base.area))
            cell.area_own, cell.area_dev = start_walk(z0, self.cfg.area_cell_share, self.rng)
        if self.elong_q is not None:
            z0 = score_of(self.elong_q, float(cell.base.elongation))
            cell.elong_own, cell.elong_dev = start_walk(z0, self.cfg.elongation_cell_share, self.rng)
        return cell

    def _heading_change(self) -> float:
        if self.turn_q is None:
            return float(self.rng.normal(0.0, self.cfg.turn_sd))
        d = quantile_draw(self.turn_q, float(self.rng.random()))
        return d if self.rng.random() < 0.5 else -d

    def _step_length(self, cell: _Cell) -> float:
        if self.speed_q is None:
            return cell.speed
        rho = self.cfg.speed_corr
        cell.z = rho * cell.z + math.sqrt(1.0 - rho * rho) * float(self.rng.normal())
        return value_of(self.speed_q, cell.z)

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
            self._init_cell(cell, newborn=False)
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
        self._draw_field()  # first: a cell divides only where the field's step keeps it in view
        newborn = self._divide()
        self._enter()
        # hazard model: daughters keep the halves of their mother this frame; timer model: they grow
        # in place at once, as measured daughters do (born a frame after the mother's last frame)
        if self.cycle_q is None:
            self._move(skip=newborn)
        else:
            self._move(skip=set(), still=newborn)
        self.vis = self.next_vis
        self._update_visibility(first=False)
        return self.lut[self.occ[self.vis]]

    def _divide(self) -> set[int]:
        cfg = self.cfg
        born: set[int] = set()
        if cfg.division_rate <= 0 or not self.cells:
            return born
        timer = self.cycle_q is not None
        u = self.rng.random(len(self.cells)) if not timer else np.zeros(len(self.cells))
        out: list[_Cell] = []
        for cell, ui in zip(self.cells, u):
            if timer:
                # the cycle is over, and the cell has grown (growth blocked by neighbours delays it)
                wait = self.t - cell.born < cell.cycle or cell.area < TIMER_MIN_GROWTH * cell.target
            else:
                wait = ui >= cfg.division_rate or cell.area < self.div_min_area or self.t - cell.born < cfg.min_division_age
            if wait or cell.tid == 0:
                out.append(cell)
                continue
            halves = self._split(cell.mask)
            if halves is None or not all(self._in_view(cell, half) for half in halves[:2]):
                out.append(cell)
                continue
            self._erase(cell)
            self.rows[cell.tid][2] = self.t - 1
            axis = halves[2]
            # sisters' cycle lengths are correlated (normal scores, correlation cycle_sister_corr)
            rho = cfg.cycle_sister_corr
            zc = self.rng.normal(size=2) if timer else np.zeros(2)
            zc[1] = rho * zc[0] + math.sqrt(1.0 - rho * rho) * zc[1]
            for k, half in enumerate(halves[:2]):
                ys, xs = np.nonzero(half)
                y0, x0 = cell.y0 + int(ys.min()), cell.x0 + int(xs.min())
                base = BaseShape.from_mask(half[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
                pos = (y0 + base.centroid[0], x0 + base.centroid[1])
                heading = axis + (0.0 if k == 0 else math.pi) + self.rng.normal(0.0, 0.3)
                d = _Cell(self._alloc_slot(), base, pos, angle=0.0, heading=heading,
                          speed=self._new_speed(), born=self.t)
                self._init_cell(d, newborn=True, z=cell.z, z_cycle=float(zc[k]), mother=cell)
                if timer:  # it grows away from its sister this frame (see _pose)
                    d.septum = (axis + k * math.pi, halves[3][k])
                d.mask = half
                d.y0, d.x0, d.area = cell.y0, cell.x0, int(half.sum())
                d.visible = d.area
                self._paint(d)
                self._new_track(d, parent=cell.tid)
                out.append(d)
                born.add(d.slot)
        self.cells = out
        return born

    def _in_view(self, cell: _Cell, half: np.ndarray) -> bool:
        """Whether at least :data:`DAUGHTER_IN_VIEW` of a daughter's footprint ``half`` (a part of
        ``cell.mask``) is in the field of view after the field's step of this frame
        (:meth:`_draw_field`), so it shows in its first frame although it may grow or slide a pixel."""
        (ys, yt), (xs, xt) = ((sl.start, sl.stop) for sl in self.next_vis)
        m = cell.mask
        if ys <= cell.y0 and cell.y0 + m.shape[0] <= yt and xs <= cell.x0 and cell.x0 + m.shape[1] <= xt:
            return True  # the whole crop is inside
        inside = half[max(ys - cell.y0, 0) : max(yt - cell.y0, 0), max(xs - cell.x0, 0) : max(xt - cell.x0, 0)]
        return int(inside.sum()) >= DAUGHTER_IN_VIEW * int(half.sum())

    def _split(self, mask: np.ndarray):
        """Cut a footprint across its long axis. Returns (half a, half b, angle of the axis
        pointing into a (rad), (length of a, length of b) along the axis in px), or None when a
        half would be too small."""
        ys, xs = np.nonzero(mask)
        cy, cx = ys.mean(), xs.mean()
        dy, dx = ys - cy, xs - cx
        cov = np.array([[np.mean(dy * dy), np.mean(dy * dx)], [np.mean(dy * dx), np.mean(dx * dx)]])
        evals, evecs = np.linalg.eigh(cov)
        uy, ux = evecs[:, 1]
        proj = dy * uy + dx * ux  # px along the long axis from the centroid
        side = proj > 0
        a = np.zeros_like(mask)
        a[ys[side], xs[side]] = True
        b = mask & ~a
        if self.square is not None:
            b &= ~(cv2.dilate(a.view(np.uint8), self.square).view(bool))
        na, nb = int(a.sum()), int(b.sum())
        if min(na, nb) < max(4, 0.2 * ys.size):
            return None
        return a, b, math.atan2(uy, ux), (float(proj.max()) + 0.5, float(-proj.min()) + 0.5)

    def _enter(self) -> None:
        cfg = self.cfg
        if cfg.border != "open":
            return
        if cfg.enter_rate is not None:
            n = int(self.rng.poisson(cfg.enter_rate))
        else:
            n = self.left_last + min(self.deficit, max(8, len(self.cells) // 20))
            self.deficit = 0
        h, w = self.h, self.w
        py, px = self.vis[0].start, self.vis[1].start  # the field of view's top-left on the canvas
        for _ in range(n):
            base = self.bank.sample(self.rng, **self.draw)
            angle = float(self.rng.uniform(0, 2 * math.pi))
            side = int(self.rng.choice(4, p=np.array([w, w, h, h], float) / (2 * (w + h))))
            along = float(self.rng.uniform(0, w if side < 2 else h))
            out_d = base.radius + 1.0
            if side == 0:
                pos, normal = (py - out_d, px + along), math.pi / 2
            elif side == 1:
                pos, normal = (py + h + out_d, px + along), -math.pi / 2
            elif side == 2:
                pos, normal = (py + along, px - out_d), 0.0
            else:
                pos, normal = (py + along, px + w + out_d), math.pi
            cell = _Cell(self._alloc_slot(), base, pos, angle=angle,
                         heading=normal + float(self.rng.uniform(-math.pi / 3, math.pi / 3)),
                         speed=max(self._new_speed(), 0.5), born=self.t)
            self._init_cell(cell, newborn=False)
            fit = self._try(cell, pos, angle, 1.0, 0)
            if fit is None:
                self.deficit += 1
                continue
            cell.mask, cell.y0, cell.x0 = fit
            cell.area = int(cell.mask.sum())
            self._paint(cell)
            self.cells.append(cell)

    def _move(self, skip: set[int], still: frozenset[int] | set[int] = frozenset()) -> None:
        """Move every cell once, in random order; collisions are resolved (see module doc).
        Cells whose slot is in ``skip`` are left as they are; those in ``still`` only change shape.

        The new pose is rendered once; alternatives (half step, other headings, no
        translation) reuse that footprint shifted by whole pixels, so a crowded frame costs
        a few array lookups per cell rather than a few renders (timer model: when the grown
        pose fits nowhere, the previous size is tried the same way, so blocked growth waits).
        With ``push_iterations`` > 0 the cells push each other first (:meth:`_move_pushing`).
        """
        n_alt = max(self.cfg.resolve_attempts - 2, 0)
        order = self.rng.permutation(len(self.cells))
        if self.cfg.push_iterations > 0:
            self._move_pushing(order, skip, still, n_alt)
            return
        for i in order.tolist():
            cell = self.cells[i]
            if cell.slot in skip:
                continue
            pose = self._pose(cell, still)
            self._erase(cell)
            self._resolve(cell, pose, n_alt)

    def _pose(self, cell: _Cell, still: frozenset[int] | set[int]) -> _Pose:
        """Draw a cell's next pose: heading, body angle, area scale, morphology level, step, position."""
        cfg, rng = self.cfg, self.rng
        pose = _Pose()
        pose.heading = cell.heading + self._heading_change()
        pose.angle = cell.angle + cell.spin + rng.normal(0.0, cfg.rotation_sd)
        if self.cycle_q is not None:  # timer model: the area grows to its target over the cycle
            scale = math.exp(cell.log_growth * (self.t - cell.t0) + rng.normal(0.0, cfg.area_sd))
            scale = min(scale, cell.scale * math.exp(2.0 * cell.log_growth))  # catching up slowly
        elif self.area_q is not None:  # measured slow area change around the growth trend
            pose.trend = cell.trend * math.exp(math.log1p(self.growth))
            pose.area_dev = step_walk(cell.area_dev, cfg.area_corr, cfg.area_cell_share, rng)
            scale = pose.trend * value_of(self.area_q, cell.area_own + pose.area_dev) / cell.base.area
        elif cfg.area_revert > 0:  # jitter around the growth trend, reverting towards it
            pose.trend = cell.trend * math.exp(math.log1p(self.growth))
            pose.dev = (1.0 - cfg.area_revert) * cell.dev + rng.normal(0.0, cfg.area_sd)
            scale = pose.trend * math.exp(pose.dev)
        else:  # the jitter accumulates (a random walk)
            scale = cell.scale * math.exp(math.log1p(self.growth) + rng.normal(0.0, cfg.area_sd))
        pose.scale = min(max(scale, MIN_SCALE), MAX_SCALE)
        if self.elong_q is not None:  # measured slow elongation change: stretch the base shape to it
            pose.elong_dev = step_walk(cell.elong_dev, cfg.elongation_corr, cfg.elongation_cell_share, rng)
            target = value_of(self.elong_q, cell.elong_own + pose.elong_dev)
            # rendering at this scale already elongates by scale**(2g - 1) (render_shape)
            g = cell.base.growth_exponent
            stretch = math.log(target / max(cell.base.elongation, 1.0)) - (2.0 * g - 1.0) * math.log(pose.scale)
            pose.stretch = min(max(stretch, -MAX_STRETCH), MAX_STRETCH)
        pose.morph = cell.morph
        if cfg.morph_max and rng.random() < cfg.morph_prob:
            pose.morph = int(np.clip(cell.morph + (1 if rng.random() < 0.5 else -1), -cfg.morph_max, cfg.morph_max))
        pose.step = self._step_length(cell) if cell.slot not in still else 0.0
        py, px = cell.pos
        pose.pos = (py + pose.step * math.sin(pose.heading), px + pose.step * math.cos(pose.heading))
        if cell.septum is not None:
            # a newborn daughter grows away from the division plane: its centre moves by half the
            # length it gains (its long axis scales by scale**g), so it keeps clear of its sister
            direction, length = cell.septum
            cell.septum = None
            shift = 0.5 * length * max(pose.scale ** cell.base.growth_exponent - 1.0, 0.0)
            pose.pos = (pose.pos[0] + shift * math.sin(direction), pose.pos[1] + shift * math.cos(direction))
        return pose

    def _resolve(self, cell: _Cell, pose: _Pose, n_alt: int) -> None:
        """Place an erased cell at its pose, or the nearest alternative that fits (see :meth:`_move`)."""
        pos, heading, step, angle, scale, morph = pose.pos, pose.heading, pose.step, pose.angle, pose.scale, pose.morph
        chosen = self._fit(cell, pos, heading, step, angle, scale, morph, n_alt, stretch=pose.stretch)
        if chosen is None and self.cycle_q is not None and scale > cell.scale:
            # timer model: growth blocked by neighbours goes slower (a small step), or waits
            # while the cell still moves
            for scale in (cell.scale * math.exp(0.3 * cell.log_growth), cell.scale):
                chosen = self._fit(cell, pos, heading, step, angle, scale, morph, n_alt, stretch=pose.stretch)
                if chosen is not None:
                    break
            if chosen is None:  # slide the unchanged footprint a little, as a pushed cell does
                angle, morph = cell.angle, cell.morph
                pose.stretch, pose.elong_dev = cell.stretch, cell.elong_dev
                chosen = self._slide(cell, pos, heading, step)
        if chosen is None:
            # keep the previous footprint (always free: nobody may enter a cell's gap)
            cell.heading = float(self.rng.uniform(0, 2 * math.pi))
            self._paint(cell)
            return
        pose.angle, pose.scale, pose.morph = angle, scale, morph
        self._apply(cell, pose, chosen)

    def _apply(self, cell: _Cell, pose: _Pose, chosen: tuple) -> None:
        """Give an erased cell the footprint ``chosen`` = (mask, y0, x0, dy, dx, heading) as
        :meth:`_fit` returns it (dy, dx: offset from ``pose.pos``) and paint it."""
        mask, y0, x0, dy, dx, hd = chosen
        cell.mask, cell.y0, cell.x0 = mask, y0, x0
        cell.area = int(np.count_nonzero(mask))
        cell.pos = (pose.pos[0] + dy, pose.pos[1] + dx)
        cell.heading, cell.angle, cell.scale, cell.morph = hd, pose.angle, pose.scale, pose.morph
        if self.area_q is not None:
            cell.trend, cell.area_dev = pose.trend, pose.area_dev
        elif self.cfg.area_revert > 0 and self.cycle_q is None:
            cell.trend, cell.dev = pose.trend, pose.dev
        if self.elong_q is not None:
            cell.elong_dev, cell.stretch = pose.elong_dev, pose.stretch
        self._paint(cell)

    def _move_pushing(self, order: np.ndarray, skip: set[int], still: frozenset[int] | set[int], n_alt: int) -> None:
        """Moves with pushing. Every cell proposes its pose (as in :meth:`_move`); each cluster of
        touching cells expands about its centre by its growth (:meth:`_expand_clusters`); the
        proposals that still overlap are pushed apart (:func:`masksynth.push.relax_overlaps`).
        Proposals that overlap nothing then move all at once; the others are resolved one by one
        as without pushing (:meth:`_resolve`), so the no-overlap guarantee is the same: a cell's
        previous footprint stays free until it has moved."""
        cells = [self.cells[i] for i in order.tolist()]
        poses = [self._pose(cell, still) if cell.slot not in skip else None for cell in cells]
        # daughters born this frame grow in place: they push but are not pushed, so none can
        # leave the frame before the first frame of its track is written
        self._expand_clusters(cells, poses, still)
        count = (self.occ == BLOCKED).astype(np.int16)
        ids = np.zeros(count.shape, np.int32)
        props: list[tuple[_Cell, _Pose, int]] = []  # (cell, pose, index of its proposal or -1)
        masks: list[np.ndarray] = []
        reach: list[np.ndarray] = []
        corners: list[tuple[int, int]] = []
        centres: list[tuple[float, float]] = []
        limits: list[float] = []
        for cell, pose in zip(cells, poses):
            mask = None
            if pose is not None:
                fy, fx = math.floor(pose.pos[0]), math.floor(pose.pos[1])
                mask, c = render_shape(cell.base, angle=pose.angle, scale=pose.scale, morph=pose.morph,
                                       frac=(pose.pos[0] - fy, pose.pos[1] - fx), margin=self.margin,
                                       stretch=pose.stretch)
                y0, x0 = fy - c, fx - c
                s0, s1 = mask.shape
                if not mask.any() or y0 < 0 or x0 < 0 or y0 + s0 > self.H or x0 + s1 > self.W:
                    mask = None
            if mask is None:  # no proposal: the cell's footprint stays and pushes the others
                m = cell.mask
                count[cell.y0 : cell.y0 + m.shape[0], cell.x0 : cell.x0 + m.shape[1]] += m
                if pose is not None:
                    props.append((cell, pose, -1))
                continue
            count[y0 : y0 + s0, x0 : x0 + s1] += mask
            ids[y0 : y0 + s0, x0 : x0 + s1] += mask.astype(np.int32) * (len(masks) + 1)
            props.append((cell, pose, len(masks)))
            masks.append(mask)
            reach.append(cv2.dilate(mask.view(np.uint8), self.square).view(bool) if self.square is not None else mask)
            corners.append((y0, x0))
            centres.append((c + pose.pos[0] - fy, c + pose.pos[1] - fx))
            limits.append(0.0 if cell.slot in still else PUSH_MAX_SHIFT * cell.base.radius)
        n = len(masks)
        corner = np.array(corners, np.int64).reshape(n, 2)
        turns = np.zeros(n) if self.cfg.push_torque > 0 else None
        shift = relax_overlaps(count, ids, masks, reach, corner, np.array(centres, np.float64).reshape(n, 2),
                               np.array(limits, np.float64), iterations=self.cfg.push_iterations, turns=turns,
                               contact=self.cfg.push_contact)
        if turns is not None:  # the pushes turn the cells they hit, the next frame
            for cell in cells:
                cell.spin = 0.0
            for cell, _, k in props:
                spin = self.cfg.push_torque * float(turns[k]) if k >= 0 and cell.slot not in still else 0.0
                cell.spin = min(max(spin, -MAX_SPIN), MAX_SPIN)
        free: list[tuple[_Cell, _Pose, int]] = []
        rest: list[tuple[_Cell, _Pose, int]] = []
        for cell, pose, k in props:
            if k >= 0:
                pose.pos = (pose.pos[0] + float(shift[k, 0]), pose.pos[1] + float(shift[k, 1]))
                (y0, x0), m = corner[k].tolist(), masks[k]
                if not (reach[k] & (count[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]] > m.view(np.uint8))).any():
                    free.append((cell, pose, k))
                    continue
            rest.append((cell, pose, k))
        # the free proposals overlap no other proposal nor any fixed cell; those that overlap a
        # footprint staying behind (of a cell resolved later) wait for it, until none does
        for cell, _, _ in free:
            self._erase(cell)
        while True:
            moving = []
            for cell, pose, k in free:
                (y0, x0), m = corner[k].tolist(), masks[k]
                if self.occ[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]][reach[k]].any():
                    self._paint(cell)
                    rest.append((cell, pose, k))
                else:
                    moving.append((cell, pose, k))
            if len(moving) == len(free):
                break
            free = moving
        for cell, pose, k in free:
            (y0, x0), m = corner[k].tolist(), masks[k]
            self._apply(cell, pose, (m, y0, x0, 0.0, 0.0, pose.heading))
        for cell, pose, _ in rest:
            self._erase(cell)
            self._resolve(cell, pose, n_alt)

    def _expand_clusters(self, cells: list[_Cell], poses: list[_Pose | None], still: frozenset[int] | set[int]) -> None:
        """Shift each proposed ``pose.pos`` (except those of cells in ``still``) by its cluster's
        expansion (:func:`expansion_shifts`)."""
        if not cells:
            return
        # the window holding every footprint, a pixel wider: labelling skips the empty canvas
        by0 = max(min(cell.y0 for cell in cells) - 1, 0)
        bx0 = max(min(cell.x0 for cell in cells) - 1, 0)
        by1 = max(cell.y0 + cell.mask.shape[0] for cell in cells) + 1
        bx1 = max(cell.x0 + cell.mask.shape[1] for cell in cells) + 1
        first = [int(np.argmax(cell.mask)) for cell in cells]  # the first pixel of each footprint
        pixels = np.array([(cell.y0 + f // cell.mask.shape[1] - by0, cell.x0 + f % cell.mask.shape[1] - bx0)
                           for cell, f in zip(cells, first)], np.int64)
        old = np.array([cell.area for cell in cells], np.float64)
        new = np.array([cell.area * (p.scale / cell.scale if p is not None else 1.0) for cell, p in zip(cells, poses)])
        pos = np.array([cell.pos for cell in cells], np.float64)
        shift = expansion_shifts(self.occ[by0:by1, bx0:bx1] > 0, pixels, pos, old, new, gap=self.gap)
        for cell, p, (dy, dx) in zip(cells, poses, shift.tolist()):
            if p is not None and cell.slot not in still:
                p.pos = (p.pos[0] + dy, p.pos[1] + dx)

    def _slide(self, cell: _Cell, pos: tuple[float, float], heading: float, step: float):
        """The cell's current footprint shifted by a fraction of its step (or 1-2 px) along its
        heading or across it, where that is free. Returns like :meth:`_fit` (offsets from ``pos``,
        the proposed position), or None."""
        m = cell.mask
        gm = cv2.dilate(m.view(np.uint8), self.square).view(bool) if self.square is not None else m
        s0, s1 = m.shape
        for d in (0.5 * step, 0.25 * step, 2.0, 1.0):
            for hd in (heading, heading + math.pi / 2, heading - math.pi / 2):
                dy, dx = round(d * math.sin(hd)), round(d * math.cos(hd))
                y0, x0 = cell.y0 + dy, cell.x0 + dx
                if (dy or dx) and y0 >= 0 and x0 >= 0 and y0 + s0 <= self.H and x0 + s1 <= self.W:
                    if not self.occ[y0 : y0 + s0, x0 : x0 + s1][gm].any():
                        return m, y0, x0, cell.pos[0] + dy - pos[0], cell.pos[1] + dx - pos[1], hd
        return None

    def _fit(self, cell: _Cell, pos: tuple[float, float], heading: float, step: float, angle: float,
             scale: float, morph: int, n_alt: int, *, stretch: float = 0.0):
        """Render the pose at ``pos`` and find a free place for it: there, half a step back, a step
        in other headings, or no step at all. Returns (mask, y0, x0, dy, dx, heading) or None."""
        occ, H, W, rng = self.occ, self.H, self.W, self.rng
        py, px = cell.pos
        sin_h, cos_h = math.sin(heading), math.cos(heading)
        fy, fx = math.floor(pos[0]), math.floor(pos[1])
        mask, c = render_shape(cell.base, angle=angle, scale=scale, morph=morph,
                               frac=(pos[0] - fy, pos[1] - fx), margin=self.margin, stretch=stretch)
        if not mask.any():
            return None
        gm = cv2.dilate(mask.view(np.uint8), self.square).view(bool) if self.square is not None else mask
        s0, s1 = mask.shape
        by, bx = fy - c, fx - c
        shifts = [(0, 0, heading)]
        if self.cfg.resolve_attempts >= 1:
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
                return mask, y0, x0, dy, dx, hd
        return None

    def _draw_field(self) -> None:
        """Field drift: draw where the field of view goes at the end of this frame
        (``self.next_vis``, taken by :meth:`step` after the moves): it moves by a step drawn from
        ``drift_quantiles`` in a uniformly random direction, less :data:`DRIFT_REVERT` of its
        offset, within the room the canvas leaves (whole pixels on the canvas)."""
        if self.drift_q is None:
            return
        d = quantile_draw(self.drift_q, float(self.rng.random()))
        a = float(self.rng.uniform(0.0, 2.0 * math.pi))
        room = float(self.drift_room)
        oy, ox = ((1.0 - DRIFT_REVERT) * o + d * f for o, f in zip(self.offset, (math.sin(a), math.cos(a))))
        self.offset = (min(max(oy, -room), room), min(max(ox, -room), room))
        y0, x0 = self.pad + round(self.offset[0]), self.pad + round(self.offset[1])
        self.next_vis = (slice(y0, y0 + self.h), slice(x0, x0 + self.w))

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
