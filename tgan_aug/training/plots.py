"""PNG figures of a run: sample grids (masks | real | generated) and loss curves.

Loss curves use matplotlib when it is installed; otherwise they are drawn with OpenCV
(one small panel per loss: raw values in light grey, a moving average in colour, min/max labels).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = ["sample_grid", "save_sample_grid", "save_loss_plot"]


def _to_u8(x: np.ndarray) -> np.ndarray:
    """[-1, 1] float -> uint8."""
    return np.clip((np.asarray(x, dtype=np.float32) + 1.0) * 127.5, 0, 255).round().astype(np.uint8)


def sample_grid(masks: np.ndarray, real: np.ndarray, fake: np.ndarray, *, gap: int = 4, min_height: int = 96,
                title: str | None = None) -> np.ndarray:
    """One row per clip: its mask frames | real frames | generated frames.

    masks: (N, L, H, W) in {0, 1}; real, fake: (N, L, H, W) in [-1, 1] (fake may have L frames too).
    Returns a uint8 (rows, cols) grayscale image with a header line; frames are enlarged by an
    integer factor (nearest) so that they are at least ``min_height`` pixels tall.
    title: an extra line above the header (e.g. the quality check's verdict).
    """
    masks = np.asarray(masks)
    real = np.asarray(real)
    fake = np.asarray(fake)
    N, L, H, W = real.shape
    k = max(1, int(np.ceil(min_height / H)))
    h, w = H * k, W * k

    def up(img: np.ndarray) -> np.ndarray:
        return cv2.resize(img, (w, h), interpolation=cv2.INTER_NEAREST) if k > 1 else img

    group_w = L * w + (L - 1) * gap
    header = 22
    out = np.full((header + N * h + (N - 1) * gap, 3 * group_w + 2 * 3 * gap), 255, dtype=np.uint8)
    for gi, (name, arr, is_mask) in enumerate((("masks", masks, True), ("real", real, False), ("generated", fake, False))):
        x0 = gi * (group_w + 3 * gap)
        cv2.putText(out, name, (x0 + 2, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 0, 1, cv2.LINE_AA)
        for n in range(N):
            for t in range(min(L, arr.shape[1])):
                img = (arr[n, t] > 0.5).astype(np.uint8) * 255 if is_mask else _to_u8(arr[n, t])
                y = header + n * (h + gap)
                x = x0 + t * (w + gap)
                out[y : y + h, x : x + w] = up(img)
    if title:
        scale = min(0.5, 0.9 * out.shape[1] / max(1, cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)[0][0]))
        bar = np.full((22, out.shape[1]), 255, dtype=np.uint8)
        cv2.putText(bar, title, (2, 16), cv2.FONT_HERSHEY_SIMPLEX, scale, 0, 1, cv2.LINE_AA)
        out = np.concatenate([bar, out])
    return out


def save_sample_grid(path: str | Path, masks: np.ndarray, real: np.ndarray, fake: np.ndarray, *,
                     title: str | None = None) -> Path:
    """Write :func:`sample_grid` as a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), sample_grid(masks, real, fake, title=title))
    return path


def _series(records: list[dict[str, Any]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    keys: list[str] = []
    for r in records:
        for k, v in r.items():
            if k.startswith(("d_", "g_", "flow_")) and isinstance(v, (int, float)) and k not in keys:
                keys.append(k)
    out = {}
    for k in keys:
        pts = [(r["step"], r[k]) for r in records if isinstance(r.get(k), (int, float)) and "step" in r]
        if pts:
            a = np.asarray(pts, dtype=np.float64)
            out[k] = (a[:, 0], a[:, 1])
    return out


def _smooth(y: np.ndarray, n: int = 9) -> np.ndarray:
    if y.size < 3:
        return y
    n = min(n, y.size)
    kernel = np.ones(n) / n
    pad = np.pad(y, (n // 2, n - 1 - n // 2), mode="edge")
    return np.convolve(pad, kernel, mode="valid")


def _panel_cv2(name: str, x: np.ndarray, y: np.ndarray, color: tuple[int, int, int], size=(200, 320)) -> np.ndarray:
    ph, pw = size
    img = np.full((ph, pw, 3), 255, dtype=np.uint8)
    left, right, top, bottom = 46, 8, 22, 20
    cv2.rectangle(img, (left, top), (pw - right, ph - bottom), (180, 180, 180), 1)
    cv2.putText(img, name, (left, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    finite = np.isfinite(y)
    if finite.sum() == 0:
        return img
    x, y = x[finite], y[finite]
    ymin, ymax = float(y.min()), float(y.max())
    if ymax - ymin < 1e-12:
        ymin, ymax = ymin - 0.5, ymax + 0.5
    xmin, xmax = float(x.min()), float(x.max())
    if xmax - xmin < 1e-12:
        xmax = xmin + 1

    def pts(yy: np.ndarray) -> np.ndarray:
        px = left + (x - xmin) / (xmax - xmin) * (pw - left - right)
        py = (ph - bottom) - (yy - ymin) / (ymax - ymin) * (ph - top - bottom)
        return np.stack([px, py], 1).round().astype(np.int32).reshape(-1, 1, 2)

    cv2.polylines(img, [pts(y)], False, (210, 210, 210), 1, cv2.LINE_AA)
    cv2.polylines(img, [pts(_smooth(y))], False, color, 2, cv2.LINE_AA)
    for val, yy in ((ymax, top + 8), (ymin, ph - bottom)):
        cv2.putText(img, f"{val:.3g}", (2, yy), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"step {int(xmin)}", (left, ph - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    label = f"{int(xmax)}"
    cv2.putText(img, label, (pw - right - 8 * len(label), ph - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    return img


_COLORS = [(180, 90, 30), (40, 40, 200), (40, 150, 40), (150, 40, 150), (30, 140, 200), (120, 120, 20)]


def save_loss_plot(path: str | Path, records: list[dict[str, Any]], *, cols: int = 3) -> Path | None:
    """Loss curves of a run (every numeric ``d_*``, ``g_*``, ``flow_*`` key of the records) as a PNG.

    records: metrics JSONL records with a ``step`` key. Returns the path, or None with nothing to plot.
    """
    path = Path(path)
    series = _series(records)
    if not series:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    if importlib.util.find_spec("matplotlib") is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = -(-len(series) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), squeeze=False)
        for ax, (k, (x, y)) in zip(axes.flat, series.items()):
            ax.plot(x, y, color="0.8", lw=1)
            ax.plot(x, _smooth(y), lw=2)
            ax.set_title(k)
            ax.set_xlabel("step")
        for ax in list(axes.flat)[len(series):]:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
        return path
    panels = [_panel_cv2(k, x, y, _COLORS[i % len(_COLORS)]) for i, (k, (x, y)) in enumerate(series.items())]
    while len(panels) % cols:
        panels.append(np.full_like(panels[0], 255))
    rows = [np.concatenate(panels[i : i + cols], 1) for i in range(0, len(panels), cols)]
    cv2.imwrite(str(path), np.concatenate(rows, 0))
    return path
