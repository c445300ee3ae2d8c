"""Line and bar plots drawn with OpenCV (matplotlib is not a dependency): enough for report figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: BGR colours for successive series
COLORS: tuple[tuple[int, int, int], ...] = ((180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148), (75, 86, 140),
                                          (34, 189, 188), (127, 127, 127))


def _fill(img: np.ndarray, p0: tuple[int, int], p1: tuple[int, int], series: int) -> None:
    """Fill the rectangle between corners p0 and p1 ((x, y) pixels) with series ``series``'s colour;
    the second round through the palette is hatched with white diagonals, so up to 2 x len(COLORS)
    series stay apart."""
    import cv2

    cv2.rectangle(img, p0, p1, COLORS[series % len(COLORS)], -1)
    if series // len(COLORS) % 2 == 0:
        return
    xa, xb = sorted((p0[0], p1[0]))
    ya, yb = sorted((p0[1], p1[1]))
    box = (xa, ya, xb - xa + 1, yb - ya + 1)
    for k in range(xa - (yb - ya), xb + 1, 5):
        ok, q0, q1 = cv2.clipLine(box, (k, yb), (k + (yb - ya), ya))
        if ok:
            cv2.line(img, q0, q1, (255, 255, 255), 1)


def _ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    if not hi > lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** np.floor(np.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    return np.arange(np.ceil(lo / step) * step, hi + step * 1e-9, step)


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e4 or a < 1e-3:
        return f"{v:.1e}"
    return f"{v:.4g}"


def line_plot(
    series: dict[str, tuple[np.ndarray | list[float], np.ndarray | list[float]]],
    path: str | Path,
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    logy: bool = False,
    size: tuple[int, int] = (640, 400),
) -> Path:
    """Draw ``{name: (x, y)}`` as lines with markers, axes, ticks and a legend; write a PNG. Returns the path.

    logy: plot log10(y) (non-positive values dropped) and label ticks as powers of ten.
    """
    import cv2

    from tgan_aug.preview import write_image

    w, h = size
    left, right, top, bottom = 70, 20, 48, 46
    img = np.full((h, w, 3), 255, np.uint8)
    pts = {}
    for name, (x, y) in series.items():
        x, y = np.asarray(x, float), np.asarray(y, float)
        ok = np.isfinite(x) & np.isfinite(y) & ((y > 0) if logy else True)
        pts[name] = (x[ok], np.log10(y[ok]) if logy else y[ok])
    allx = np.concatenate([p[0] for p in pts.values()] or [np.zeros(1)])
    ally = np.concatenate([p[1] for p in pts.values()] or [np.zeros(1)])
    if allx.size == 0:
        allx, ally = np.zeros(1), np.zeros(1)
    x0, x1 = float(allx.min()), float(allx.max())
    y0, y1 = float(ally.min()), float(ally.max())
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    pad = 0.05 * (y1 - y0) if y1 > y0 else max(abs(y0) * 0.1, 0.5)
    y0, y1 = y0 - pad, y1 + pad

    def px(x: float, y: float) -> tuple[int, int]:
        return (int(left + (x - x0) / (x1 - x0) * (w - left - right)), int(h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom)))

    font, grey = cv2.FONT_HERSHEY_SIMPLEX, (200, 200, 200)
    for ty in _ticks(y0, y1):
        p = px(x0, ty)
        cv2.line(img, (left, p[1]), (w - right, p[1]), (235, 235, 235), 1)
        label = f"1e{ty:g}" if logy else _fmt(float(ty))
        cv2.putText(img, label, (4, p[1] + 4), font, 0.38, (60, 60, 60), 1, cv2.LINE_AA)
    for tx in _ticks(x0, x1):
        p = px(tx, y0)
        cv2.line(img, (p[0], h - bottom), (p[0], h - bottom + 4), (60, 60, 60), 1)
        cv2.putText(img, _fmt(float(tx)), (p[0] - 12, h - bottom + 18), font, 0.38, (60, 60, 60), 1, cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (w - right, h - bottom), grey, 1)
    for i, (name, (x, y)) in enumerate(pts.items()):
        col = COLORS[i % len(COLORS)]
        poly = np.array([px(a, b) for a, b in zip(x, y)], np.int32)
        if len(poly) > 1:
            cv2.polylines(img, [poly], False, col, 2, cv2.LINE_AA)
        for p in poly[:: max(1, len(poly) // 40)]:
            cv2.circle(img, tuple(int(v) for v in p), 3, col, -1, cv2.LINE_AA)
        cv2.line(img, (left + 10, top + 14 + 16 * i), (left + 30, top + 14 + 16 * i), col, 2)
        cv2.putText(img, name, (left + 36, top + 18 + 16 * i), font, 0.4, (30, 30, 30), 1, cv2.LINE_AA)
    cv2.putText(img, title, (left, 20), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, xlabel, (w // 2 - 4 * len(xlabel), h - 10), font, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, ylabel, (4, top - 8), font, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    path = Path(path)
    write_image(path, img)
    return path


def bar_plot(
    groups: dict[str, dict[str, tuple[float, float]]],
    path: str | Path,
    *,
    title: str = "",
    ylabel: str = "",
    size: tuple[int, int] = (900, 420),
) -> Path:
    """Grouped bars with error bars: ``{group: {series: (value, error)}}`` (e.g. metric -> condition ->
    (mean, sd)); NaN values are left out. The y axis starts at 0 (or the lowest value when negative).
    Writes a PNG and returns its path."""
    import cv2

    from tgan_aug.preview import write_image

    w, h = size
    left, right, top, bottom = 60, 20, 48 + 16 * ((len({s for g in groups.values() for s in g}) + 2) // 3), 40
    img = np.full((h, w, 3), 255, np.uint8)
    names = list(dict.fromkeys(s for g in groups.values() for s in g))
    vals = [(v - e, v + e) for g in groups.values() for v, e in g.values() if np.isfinite(v)]
    lo = min([0.0] + [a for a, _ in vals if np.isfinite(a)])
    hi = max([1e-9] + [b for _, b in vals if np.isfinite(b)])
    hi += 0.05 * (hi - lo)

    def py(y: float) -> int:
        return int(h - bottom - (y - lo) / (hi - lo) * (h - top - bottom))

    font = cv2.FONT_HERSHEY_SIMPLEX
    for ty in _ticks(lo, hi):
        cv2.line(img, (left, py(ty)), (w - right, py(ty)), (235, 235, 235), 1)
        cv2.putText(img, _fmt(float(ty)), (4, py(ty) + 4), font, 0.38, (60, 60, 60), 1, cv2.LINE_AA)
    cv2.line(img, (left, py(0.0)), (w - right, py(0.0)), (120, 120, 120), 1)
    gw = (w - left - right) / max(len(groups), 1)
    bw = gw * 0.8 / max(len(names), 1)
    for gi, (gname, series) in enumerate(groups.items()):
        gx = left + gi * gw + gw * 0.1
        for si, name in enumerate(names):
            if name not in series or not np.isfinite(series[name][0]):
                continue
            v, e = series[name]
            x0, x1 = int(gx + si * bw), int(gx + (si + 1) * bw) - 2
            _fill(img, (x0, py(max(v, 0.0))), (x1, py(min(v, 0.0))), si)
            if np.isfinite(e) and e > 0:
                xc = (x0 + x1) // 2
                cv2.line(img, (xc, py(v - e)), (xc, py(v + e)), (0, 0, 0), 1)
                for y in (v - e, v + e):
                    cv2.line(img, (xc - 3, py(y)), (xc + 3, py(y)), (0, 0, 0), 1)
        cv2.putText(img, gname, (int(gx), h - bottom + 18), font, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    for si, name in enumerate(names):
        x, y = left + 10 + (si % 3) * 260, 34 + 16 * (si // 3)
        _fill(img, (x, y - 8), (x + 14, y + 2), si)
        cv2.putText(img, name, (x + 20, y + 2), font, 0.4, (30, 30, 30), 1, cv2.LINE_AA)
    cv2.putText(img, title, (left, 18), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, ylabel, (4, h - 8), font, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    path = Path(path)
    write_image(path, img)
    return path
