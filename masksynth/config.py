"""Configuration of the mask-sequence synthesizer: one dataclass with density/layout presets.

All lengths are in pixels, all rates per frame, all angles in radians.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from masksynth.configbase import ConfigBase, check_choice, choices_of, configclass
from masksynth.errors import UserError

__all__ = ["SynthConfig", "DENSITY_COVERAGE", "DENSITIES", "LAYOUTS", "SHAPE_KINDS", "BORDERS"]

#: Fraction of the canvas covered by cells in the first frame, per density preset.
DENSITY_COVERAGE: dict[str, float] = {"low": 0.08, "mid": 0.22, "high": 0.45}
Density = Literal["low", "mid", "high"]
Layout = Literal["flat", "colony"]
ShapeKind = Literal["mixed", "ellipse", "rod", "blob"]
Border = Literal["open", "reflect"]
DENSITIES = choices_of(Density)
LAYOUTS = choices_of(Layout)
SHAPE_KINDS = choices_of(ShapeKind)
BORDERS = choices_of(Border)
#: config field -> the command-line flag that sets it (synth-masks, demo), named in validation errors
CLI_FLAGS = {
    "size": "--size", "frames": "--frames", "density": "--density", "layout": "--layout", "cells": "--cells",
    "coverage": "--coverage", "min_gap": "--min-gap", "border": "--border", "division_rate": "--division-rate",
    "speed_mean": "--speed", "morph_prob": "--morph-prob",
}


#: fields holding a distribution as quantiles at evenly spaced probabilities (see SynthConfig)
QUANTILE_FIELDS = ("speed_quantiles", "turn_quantiles", "cycle_quantiles", "division_area_quantiles",
                   "division_elongation_quantiles", "area_quantiles", "elongation_quantiles", "drift_quantiles")


@configclass
class SynthConfig(ConfigBase):
    """Everything :func:`masksynth.synthesize` needs besides the seed (and an optional shape bank).

    Canvas and density
        size: (height, width) of each frame in pixels.
        frames: number of frames T.
        density: preset ``low|mid|high`` giving the first-frame coverage (8%, 22%, 45%).
        coverage: fraction of pixels covered by cells in frame 0; overrides ``density``.
        cells: exact number of cells in frame 0; overrides ``coverage`` and ``density``.
        layout: ``flat`` (uniform placement) or ``colony`` (weighted around random centres).
        colonies: number of colony centres (0 = about one per 256x256 pixels).
        colony_sigma: colony radius (Gaussian sd) as a fraction of the shorter side.
        colony_margin: colony centres lie at least this fraction of each side from the edges.
        min_gap: background pixels kept between any two cells (chessboard distance > min_gap).
    Shapes (procedural ones; a real shape bank replaces them)
        shape_kind: ``mixed|ellipse|rod|blob``; mean_area (px); area_cv (sd/mean of areas).
        shape_jitter: drawing a shape from the bank also rescales it (area sd 10 %) and erodes or
        dilates it by one pixel now and then (False: the bank's shapes as they are).
    Motion
        speed_mean (px/frame) and speed_cv: per-cell speed, log-normal;
        turn_sd: sd of the heading change per frame (rad); rotation_sd: sd of the body rotation
        per frame (rad); area_sd: sd of the log-area jitter per frame; area_revert: fraction
        of that jitter undone each frame (0 = it accumulates as a random walk, 1 = independent
        per frame, so areas stay on their growth trend);
        morph_prob: chance per frame that a cell's erosion/dilation level changes by one pixel;
        morph_max: the largest erosion/dilation in pixels.
    Measured motion (set by :func:`masksynth.calibrate`; None = the parametric model above)
        speed_quantiles: step length (px/frame) at evenly spaced probabilities 0, 1/(K-1), ..., 1;
        each step is drawn from this distribution (replaces speed_mean/speed_cv);
        speed_corr: correlation of a cell's step lengths (as normal scores) between consecutive
        frames, in [0, 1) (0 = independent steps, near 1 = each cell keeps its speed);
        turn_quantiles: absolute heading change per frame (rad) at evenly spaced probabilities;
        replaces turn_sd (the sign is random).
    Measured shape change (set by :func:`masksynth.calibrate` for cells that do not divide; None =
    off: the area follows area_sd/area_revert and the shape keeps its elongation)
        area_quantiles, elongation_quantiles: area (px) and elongation (ratio) per cell and frame
        at evenly spaced probabilities; each cell's area / elongation follows a slow random walk
        whose values have this distribution (:mod:`masksynth.wander`): a normal score made of a
        part the cell keeps (variance area_cell_share / elongation_cell_share in [0, 1]) and an
        AR(1) deviation with lag-1 correlation area_corr / elongation_corr in [0, 1); the cell's
        shape is scaled (area, times the growth trend) and stretched along its long axis
        (elongation) to the values. Ignored with the timer division model (cycle_quantiles).
    Field drift (set by :func:`masksynth.calibrate` when the real field moves by a pixel or more
    per frame; None = a still camera)
        drift_quantiles: length (px/frame) of the field's motion between frames (stage drift, or
        a camera following a colony) at evenly spaced probabilities; each frame the field of view
        moves by a step drawn from it in a uniformly random direction (steps independent, as
        measured on bacteria-phc), pulled back by DRIFT_REVERT of its offset so it stays on the
        canvas: every cell's displacement is its own step plus the field's. Ignored with
        ``border="reflect"`` (cells kept inside a field that stays put).
    Borders
        border: ``open`` (cells leave and enter; tracks end and start) or ``reflect`` (cells stay in).
        enter_rate: new cells entering per frame (None = as many as left, keeping the count steady).
    Divisions
        division_rate: probability per cell and frame that a cell at least ``division_min_area``
        pixels large divides (0 = never); division_min_area: px (None = 0.8 x the median shape
        area); growth_rate: relative area growth per frame (None = 2**division_rate - 1, so cells
        double in one mean generation time); min_division_age: frames between a cell's birth and
        its division.
        cycle_quantiles: cell-cycle length (frames from birth to division) at evenly spaced
        probabilities; when set (and division_rate > 0) every cell draws its cycle length, doubles
        its area over it and divides at its end (a timer model, as in bacterial colonies) instead
        of the hazard model above; division_area_quantiles: area (px) of a cell in its last
        frame before dividing: with the timer model each cell grows to a size drawn from it
        instead of doubling; division_elongation_quantiles: elongation of a cell in that frame:
        the growth is shared between the cell's axes so that it reaches one drawn from it;
        cycle_sister_corr: correlation of sister cells' cycle lengths (normal scores) in [0, 1)
        (sisters divide at about the same time: a colony keeps dividing in waves);
        cycle_size_corr: correlation of a cell's cycle length and its division size (normal
        scores) in [0, 1) (cells growing at about the same rate: a longer cycle ends larger);
        cycle_catch_up: fraction in [0, 1) of its mother's division delay (frames late against
        their lineage's clock, which advances one mean cycle per generation from the cells of the
        first frame or entering) that a daughter makes up with a shorter cycle, or gives back
        with a longer one when the mother was early (0: cycles ignore the mother's timing, and
        a colony's division waves fade within a few generations; bacteria-phc measures 0.44).
    Collision resolution
        resolve_attempts: alternative moves tried before a cell keeps its previous footprint.
        push_iterations: pushing (0 = off: cells are rigid and a blocked move or growth waits):
        sweeps per frame in which overlapping proposed footprints are shifted apart
        (:mod:`masksynth.push`), so a growing, dividing colony pushes its cells outwards.
        push_contact: with pushing, push two overlapping cells apart across their contact (the
        overlap's thin axis) by its thickness, instead of along the line through their centroids
        by the overlap's extent along it (False, as before), which for rods overlapping side by
        side is most of their shared length: the colony stays loose.
        push_torque: with pushing, how much a push turns the cell it hits (0 = off: pushes
        only shift cells): the overlaps' torque about the cell's centroid divided by its polar
        moment of inertia (rad), times this gain, turns the cell's body the next frame (at most
        :data:`masksynth.dynamics.MAX_SPIN` rad). Rods pushed off their axis turn, so a growing
        colony of rods buckles into a two-dimensional colony instead of single-file chains (its
        rods end up less aligned with their neighbours than in real colonies).
    """

    size: tuple[int, int] = (512, 768)
    frames: int = 30
    density: Density = "mid"
    coverage: float | None = None
    cells: int | None = None
    layout: Layout = "flat"
    colonies: int = 0
    colony_sigma: float = 0.15
    colony_margin: float = 0.15
    min_gap: int = 1
    shape_kind: ShapeKind = "mixed"
    mean_area: float = 250.0
    area_cv: float = 0.3
    shape_jitter: bool = True
    speed_mean: float = 2.0
    speed_cv: float = 0.5
    turn_sd: float = 0.5
    rotation_sd: float = 0.05
    area_sd: float = 0.02
    area_revert: float = 0.0
    morph_prob: float = 0.1
    morph_max: int = 1
    speed_quantiles: tuple[float, ...] | None = None
    speed_corr: float = 0.0
    turn_quantiles: tuple[float, ...] | None = None
    area_quantiles: tuple[float, ...] | None = None
    area_corr: float = 0.0
    area_cell_share: float = 1.0
    elongation_quantiles: tuple[float, ...] | None = None
    elongation_corr: float = 0.0
    elongation_cell_share: float = 1.0
    drift_quantiles: tuple[float, ...] | None = None
    border: Border = "open"
    enter_rate: float | None = None
    division_rate: float = 0.01
    division_min_area: float | None = None
    growth_rate: float | None = None
    min_division_age: int = 5
    cycle_quantiles: tuple[float, ...] | None = None
    division_area_quantiles: tuple[float, ...] | None = None
    division_elongation_quantiles: tuple[float, ...] | None = None
    cycle_sister_corr: float = 0.0
    cycle_size_corr: float = 0.0
    cycle_catch_up: float = 0.0
    resolve_attempts: int = 6
    push_iterations: int = 0
    push_torque: float = 0.0
    push_contact: bool = False

    WHAT = "SynthConfig"

    # ------------------------------------------------------------------ construction
    @classmethod
    def _preset(cls, density: str = "mid", layout: str = "flat", **overrides: Any) -> "SynthConfig":
        """A preset for ``density`` (low|mid|high) and ``layout`` (flat|colony), with overrides.

        Colony layouts move more slowly (cells stay together); low density moves faster.
        """
        check_choice(density, Density, "density")
        check_choice(layout, Layout, "layout")
        base: dict[str, Any] = {"density": density, "layout": layout}
        base["speed_mean"] = {"low": 3.0, "mid": 2.0, "high": 1.5}[density]
        if layout == "colony":
            base["speed_mean"] *= 0.5
            base["turn_sd"] = 0.8
        base.update(overrides)
        return cls.from_dict(base)

    @classmethod
    def _coerce(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "size" in data:
            data["size"] = tuple(int(v) for v in data["size"])
        for name in QUANTILE_FIELDS:
            if data.get(name) is not None:
                data[name] = tuple(float(v) for v in data[name])
        return data

    # ------------------------------------------------------------------ derived values
    @property
    def target_coverage(self) -> float | None:
        """Coverage to reach in frame 0 (None when ``cells`` fixes the count)."""
        if self.cells is not None:
            return None
        return self.coverage if self.coverage is not None else DENSITY_COVERAGE[self.density]

    def effective_growth_rate(self) -> float:
        if self.growth_rate is not None:
            return float(self.growth_rate)
        return float(2.0 ** self.division_rate - 1.0)

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise :class:`UserError` naming the first bad field, what was expected and what was given."""

        def bad(name: str, expected: str) -> None:
            value = getattr(self, name)
            shown = f"{value[0]}x{value[1]}" if name == "size" and len(value) == 2 else repr(value)
            raise UserError(f"{CLI_FLAGS.get(name, 'SynthConfig.' + name)} must be {expected}, got {shown}")

        if len(self.size) != 2 or min(self.size) < 8:
            bad("size", "HEIGHTxWIDTH with both >= 8 pixels")
        if self.frames < 1:
            bad("frames", ">= 1")
        check_choice(self.density, Density, CLI_FLAGS["density"])
        if self.coverage is not None and not 0.0 < self.coverage < 0.9:
            bad("coverage", "a fraction in (0, 0.9)")
        if self.cells is not None and self.cells < 0:
            bad("cells", ">= 0")
        check_choice(self.layout, Layout, CLI_FLAGS["layout"])
        if self.colonies < 0:
            bad("colonies", ">= 0")
        if not 0.0 < self.colony_sigma <= 2.0:
            bad("colony_sigma", "in (0, 2]")
        if not 0.0 <= self.colony_margin <= 0.5:
            bad("colony_margin", "in [0, 0.5]")
        if not 0 <= self.min_gap <= 16:
            bad("min_gap", "an integer in 0..16")
        check_choice(self.shape_kind, ShapeKind, "SynthConfig.shape_kind")
        if not 4.0 <= self.mean_area <= 1e5:
            bad("mean_area", "in [4, 100000] pixels")
        if not 0.0 <= self.area_cv <= 2.0:
            bad("area_cv", "in [0, 2]")
        if self.speed_mean < 0:
            bad("speed_mean", ">= 0 pixels per frame")
        for name in ("speed_cv", "turn_sd", "rotation_sd", "area_sd"):
            if getattr(self, name) < 0:
                bad(name, ">= 0")
        if not 0.0 <= self.morph_prob <= 1.0:
            bad("morph_prob", "a probability in [0, 1]")
        if not 0 <= self.morph_max <= 5:
            bad("morph_max", "an integer in 0..5")
        check_choice(self.border, Border, CLI_FLAGS["border"])
        if self.enter_rate is not None and self.enter_rate < 0:
            bad("enter_rate", ">= 0 cells per frame, or None")
        if not 0.0 <= self.division_rate <= 1.0:
            bad("division_rate", "a probability per cell and frame in [0, 1]")
        if self.division_min_area is not None and self.division_min_area < 2:
            bad("division_min_area", ">= 2 pixels, or None")
        if self.growth_rate is not None and not 0.0 <= self.growth_rate <= 1.0:
            bad("growth_rate", "in [0, 1] per frame, or None")
        if self.min_division_age < 1:
            bad("min_division_age", ">= 1 frame")
        if not 0.0 <= self.area_revert <= 1.0:
            bad("area_revert", "in [0, 1]")
        for name in ("cycle_sister_corr", "cycle_size_corr", "cycle_catch_up"):
            if not 0.0 <= getattr(self, name) < 1.0:
                bad(name, "in [0, 1)")
        for name in ("speed_corr", "area_corr", "elongation_corr"):
            if not 0.0 <= getattr(self, name) < 1.0:
                bad(name, "in [0, 1)")
        for name in ("area_cell_share", "elongation_cell_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                bad(name, "in [0, 1]")
        limits = {"speed_quantiles": (0.0, 1e4), "turn_quantiles": (0.0, math.pi), "cycle_quantiles": (1.0, 1e4),
                  "division_area_quantiles": (2.0, 1e6), "division_elongation_quantiles": (1.0, 1e3),
                  "area_quantiles": (1.0, 1e6), "elongation_quantiles": (1.0, 1e3), "drift_quantiles": (0.0, 1e3)}
        for name, (lo, hi) in limits.items():
            q = getattr(self, name)
            if q is not None and (len(q) < 2 or any(b < a for a, b in zip(q, q[1:])) or q[0] < lo or q[-1] > hi):
                bad(name, f"None or >= 2 non-decreasing values in [{lo:g}, {hi:g}]")
        if self.resolve_attempts < 0:
            bad("resolve_attempts", ">= 0")
        if not 0 <= self.push_iterations <= 100:
            bad("push_iterations", "an integer in 0..100 (0 = no pushing)")
        if not 0.0 <= self.push_torque <= 10.0:
            bad("push_torque", "in [0, 10] (0 = pushes do not turn cells)")
