"""Single-cell shapes: a bank extracted from real label masks or made procedurally, and rendering.

A shape is a 2D bool array (h, w), tight around one cell. :func:`render_shape` turns a shape
plus a pose (rotation, area scale, erosion/dilation, sub-pixel centroid) into a footprint crop;
the synthesizer renders every cell from its base shape each frame, so shapes do not degrade
by repeated resampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

from masksynth.errors import UserError

__all__ = ["ShapeBank", "BaseShape", "render_shape", "procedural_shape", "extract_shapes"]

_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _tight(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return np.zeros((0, 0), dtype=bool)
    return np.ascontiguousarray(mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], dtype=bool)


@dataclass
class BaseShape:
    """A cell's reference shape, ready for fast rendering.

    image: (h, w) uint8, 255 inside the cell, 0 outside (tight box, no border).
    centroid: (cy, cx) in the image's pixel coordinates (float).
    radius: largest distance of a cell pixel centre from the centroid, plus one (px).
    area: number of cell pixels.
    axis: (ux, uy) unit vector of the long axis (image x, y order).
    elongation: sqrt of the ratio of the principal second moments (1 = round).
    growth_exponent: how area scaling is shared between the axes: the long axis scales by
        scale**g and the short one by scale**(1-g); 1.0 for elongated shapes (elongation >= 1.5:
        rods grow in length), 0.5 (isotropic) for roundish ones.
    """

    image: np.ndarray
    centroid: tuple[float, float]
    radius: float
    area: int
    axis: tuple[float, float] = (1.0, 0.0)
    elongation: float = 1.0
    growth_exponent: float = 0.5

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> "BaseShape":
        """mask: (h, w) bool; need not be tight. Raises ValueError when empty."""
        mask = _tight(mask)
        if mask.size == 0:
            raise ValueError("empty shape mask")
        ys, xs = np.nonzero(mask)
        cy, cx = float(ys.mean()), float(xs.mean())
        dy, dx = ys - cy, xs - cx
        radius = float(np.sqrt((dy**2 + dx**2).max())) + 1.0
        cov = np.array([[np.mean(dx * dx), np.mean(dx * dy)], [np.mean(dx * dy), np.mean(dy * dy)]])
        evals, evecs = np.linalg.eigh(cov)
        elong = float(np.sqrt(max(evals[1], 1e-6) / max(evals[0], 1e-6))) if evals[0] > 1e-6 else 1.0
        axis = (float(evecs[0, 1]), float(evecs[1, 1]))
        g = 1.0 if elong >= 1.5 else 0.5
        return cls(mask.astype(np.uint8) * 255, (cy, cx), radius, int(ys.size), axis, elong, g)


def render_shape(
    base: BaseShape,
    *,
    angle: float,
    scale: float,
    morph: int,
    frac: tuple[float, float],
    margin: int,
    stretch: float = 0.0,
) -> tuple[np.ndarray, int]:
    """Rasterise a base shape rotated by ``angle`` (rad), area-scaled by ``scale``, eroded
    (morph < 0) or dilated (morph > 0) by ``|morph|`` pixels; ``stretch`` (log factor) multiplies
    its elongation by exp(stretch) at the same area (long axis x exp(stretch/2), short axis
    x exp(-stretch/2)).

    The shape's centroid lands at (c + frac[0], c + frac[1]) of the returned crop, where
    c = crop_size // 2 is the second return value; frac is the sub-pixel part of the cell
    position. ``margin`` adds empty pixels around (room for dilation and gap checks).
    Returns (mask (S, S) bool, c). With angle 0, scale 1, morph 0 and frac equal to the
    fractional part of the base centroid, the output is the base mask exactly (integer shift).
    """
    s_long = scale**base.growth_exponent
    s_short = scale ** (1.0 - base.growth_exponent)
    if stretch:
        s_long, s_short = s_long * math.exp(0.5 * stretch), s_short * math.exp(-0.5 * stretch)
    half = int(math.ceil(base.radius * max(s_long, s_short))) + 1 + margin + abs(morph)
    size = 2 * half + 1
    ca, sa = math.cos(angle), math.sin(angle)
    cy, cx = base.centroid
    oy, ox = half + frac[0], half + frac[1]
    # out = Rot(angle) @ Stretch @ (p - centroid) + out_centre, in (x, y) order for OpenCV;
    # Stretch scales the long axis u by s_long and the normal by s_short
    ux, uy = base.axis
    d = s_long - s_short
    a11, a12, a22 = s_short + d * ux * ux, d * ux * uy, s_short + d * uy * uy
    l11, l12 = ca * a11 - sa * a12, ca * a12 - sa * a22
    l21, l22 = sa * a11 + ca * a12, sa * a12 + ca * a22
    m = np.array(
        [[l11, l12, ox - (l11 * cx + l12 * cy)], [l21, l22, oy - (l21 * cx + l22 * cy)]], dtype=np.float64
    )
    img = cv2.warpAffine(base.image, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
    if morph > 0:
        img = cv2.dilate(img, _CROSS, iterations=morph)
    elif morph < 0:
        img = cv2.erode(img, _CROSS, iterations=-morph)
    return img >= 128, half


# ---------------------------------------------------------------------- procedural shapes
def procedural_shape(kind: str, *, area: float, rng: np.random.Generator) -> np.ndarray:
    """One procedural cell shape of about ``area`` pixels, axis-aligned (rotation comes later).

    kind: ``ellipse`` (aspect 1-2), ``rod`` (capsule, aspect 2.5-5, like bacteria) or ``blob``
    (irregular outline from a few random Fourier modes). Returns a tight (h, w) bool mask.
    """
    area = max(float(area), 4.0)
    if kind == "ellipse":
        aspect = rng.uniform(1.0, 2.0)
        a = math.sqrt(area * aspect / math.pi)
        b = area / (math.pi * a)
        half = int(math.ceil(a)) + 1
        y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
        mask = (x / a) ** 2 + (y / b) ** 2 <= 1.0
    elif kind == "rod":
        aspect = rng.uniform(2.5, 5.0)
        # capsule of width w and length L = aspect * w: area = w (L - w) + pi w^2 / 4
        w = math.sqrt(area / (aspect - 1.0 + math.pi / 4.0))
        length = aspect * w
        half = int(math.ceil(length / 2)) + 1
        y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
        seg = max(length / 2 - w / 2, 0.0)
        dx = np.clip(np.abs(x) - seg, 0.0, None)
        mask = dx**2 + y**2 <= (w / 2) ** 2
    elif kind == "blob":
        r0 = math.sqrt(area / math.pi)
        phi = np.linspace(0.0, 2 * math.pi, 64, endpoint=False)
        r = np.ones_like(phi)
        for k in range(2, 6):
            r += rng.normal(0.0, 0.12 / k * 2) * np.cos(k * phi + rng.uniform(0, 2 * math.pi))
        r = np.clip(r, 0.4, None)
        r *= r0 / math.sqrt(np.mean(r**2))  # polygon area ~ pi mean(r^2)
        half = int(math.ceil(r.max())) + 2
        pts = np.stack([half + r * np.cos(phi), half + r * np.sin(phi)], axis=1)
        img = np.zeros((2 * half + 1, 2 * half + 1), np.uint8)
        cv2.fillPoly(img, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
        mask = img > 0
    else:
        raise UserError(f"shape kind must be ellipse, rod or blob, got {kind!r}")
    mask = _tight(mask)
    if mask.size == 0:
        mask = np.ones((2, 2), dtype=bool)
    return mask


def extract_shapes(
    labels: np.ndarray,
    *,
    min_area: int = 16,
    max_shapes: int = 2000,
    exclude_border: bool = True,
    rng: np.random.Generator | None = None,
) -> list[np.ndarray]:
    """Single-cell shapes from label masks.

    labels: (Y, X) or (T, Y, X) integer array, 0 = background, value = cell id.
    min_area: smaller cells (px) are skipped; exclude_border: skip cells touching the image edge
    (cut shapes) unless no other cell qualifies. At most ``max_shapes`` shapes, drawn evenly over frames (``rng`` picks which
    when there are more). Each cell's largest connected component is kept.
    Returns tight (h, w) bool masks.
    """
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = labels[None]
    if labels.ndim != 3:
        raise UserError(f"labels must be (Y, X) or (T, Y, X), got shape {labels.shape}")
    shapes: list[np.ndarray] = []
    h, w = labels.shape[1:]
    for frame in labels:
        objs = ndi.find_objects(frame.astype(np.int64, copy=False)) if frame.any() else []
        for i, sl in enumerate(objs, start=1):
            if sl is None:
                continue
            if exclude_border and (sl[0].start == 0 or sl[1].start == 0 or sl[0].stop == h or sl[1].stop == w):
                continue
            m = frame[sl] == i
            if m.sum() < min_area:
                continue
            lab, n = ndi.label(m)
            if n > 1:
                sizes = np.bincount(lab.ravel())[1:]
                m = lab == (int(np.argmax(sizes)) + 1)
            shapes.append(_tight(m))
    if not shapes and exclude_border:  # every cell touches the edge: cut shapes beat no shapes
        return extract_shapes(labels, min_area=min_area, max_shapes=max_shapes, exclude_border=False, rng=rng)
    if len(shapes) > max_shapes:
        rng = rng if rng is not None else np.random.default_rng(0)
        keep = np.sort(rng.choice(len(shapes), size=max_shapes, replace=False))
        shapes = [shapes[i] for i in keep]
    return shapes


# ---------------------------------------------------------------------- the bank
class ShapeBank:
    """A set of single-cell shapes to draw from, with per-draw augmentation.

    Build with :meth:`from_labels` (real masks) or :meth:`procedural`. :meth:`sample` returns a
    :class:`BaseShape` after random flips, 90-degree rotations, scaling (log-normal around the
    bank's areas or to a target area) and an optional 1-pixel erosion/dilation.
    """

    def __init__(self, masks: list[np.ndarray], *, source: str = "procedural", kind: str = "mixed",
                 mean_area: float | None = None, area_cv: float = 0.0):
        self.masks = [m for m in (_tight(np.asarray(m, dtype=bool)) for m in masks) if m.size]
        self.source = source
        self.kind = kind
        self.area_cv = float(area_cv)
        if not self.masks and source != "procedural":
            raise UserError(
                f"shape bank from {source} is empty: no cell masks of the minimum size were found; "
                "check the labels or lower min_area"
            )
        areas = np.array([m.sum() for m in self.masks], dtype=np.float64)
        self.areas = areas
        self.mean_area = float(mean_area if mean_area is not None else (areas.mean() if areas.size else 250.0))

    def __len__(self) -> int:
        return len(self.masks)

    @classmethod
    def from_labels(cls, labels: np.ndarray, *, min_area: int = 16, max_shapes: int = 2000,
                    source: str = "labels", rng: np.random.Generator | None = None) -> "ShapeBank":
        """Bank of real shapes from (Y, X) or (T, Y, X) label masks (see :func:`extract_shapes`)."""
        return cls(extract_shapes(labels, min_area=min_area, max_shapes=max_shapes, rng=rng), source=source)

    @classmethod
    def procedural(cls, *, kind: str = "mixed", mean_area: float = 250.0, area_cv: float = 0.3) -> "ProceduralBank":
        """Shapes made on demand: ``kind`` ellipse|rod|blob|mixed, areas log-normal(mean_area, area_cv)."""
        return ProceduralBank(kind=kind, mean_area=mean_area, area_cv=area_cv)

    @property
    def median_area(self) -> float:
        return float(np.median(self.areas)) if self.areas.size else self.mean_area

    def _draw_mask(self, rng: np.random.Generator) -> np.ndarray:
        return self.masks[int(rng.integers(len(self.masks)))]

    def sample(self, rng: np.random.Generator, *, scale_sd: float = 0.1, morph: bool = True) -> BaseShape:
        """One augmented shape: flips, rot90, area scale exp(N(0, scale_sd)), +-1 px morphology."""
        m = self._draw_mask(rng)
        k = int(rng.integers(4))
        if k:
            m = np.rot90(m, k)
        if rng.random() < 0.5:
            m = m[:, ::-1]
        if scale_sd > 0:
            s = math.exp(rng.normal(0.0, scale_sd))
            if abs(s - 1.0) > 0.02:
                nh, nw = max(1, round(m.shape[0] * math.sqrt(s))), max(1, round(m.shape[1] * math.sqrt(s)))
                m2 = cv2.resize(m.astype(np.uint8) * 255, (nw, nh), interpolation=cv2.INTER_LINEAR) >= 128
                if m2.any():
                    m = m2
        if morph:
            r = rng.random()
            if r < 0.15 and m.sum() > 30:
                e = cv2.erode(np.pad(m, 1).astype(np.uint8), _CROSS) > 0
                if e.any():
                    m = e
            elif r < 0.3:
                m = cv2.dilate(np.pad(m, 1).astype(np.uint8), _CROSS) > 0
        return BaseShape.from_mask(np.ascontiguousarray(m))


class ProceduralBank(ShapeBank):
    """Procedural shapes made on demand (see :meth:`ShapeBank.procedural`)."""

    def __init__(self, *, kind: str = "mixed", mean_area: float = 250.0, area_cv: float = 0.3):
        kinds = ("ellipse", "rod", "blob", "mixed")
        if kind not in kinds:
            raise UserError(f"shape kind must be one of {', '.join(kinds)}, got {kind!r}")
        super().__init__([], source="procedural", kind=kind, mean_area=mean_area, area_cv=area_cv)

    @property
    def median_area(self) -> float:
        sigma2 = math.log1p(self.area_cv**2)
        return self.mean_area / math.sqrt(1.0 + self.area_cv**2) if sigma2 > 0 else self.mean_area

    def __len__(self) -> int:
        return 0

    def _draw_mask(self, rng: np.random.Generator) -> np.ndarray:
        kind = self.kind
        if kind == "mixed":
            kind = ("ellipse", "rod", "blob")[int(rng.integers(3))]
        sigma2 = math.log1p(self.area_cv**2)
        area = self.mean_area * math.exp(rng.normal(-sigma2 / 2, math.sqrt(sigma2))) if sigma2 > 0 else self.mean_area
        return procedural_shape(kind, area=area, rng=rng)

    def sample(self, rng: np.random.Generator, *, scale_sd: float = 0.0, morph: bool = False) -> BaseShape:
        return BaseShape.from_mask(self._draw_mask(rng))
