"""Small synthetic phase-contrast-like videos and their corruptions for the metric tests (helpers; the
fixture lives in conftest.py). A unique module name, since several test folders have a conftest.py."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def make_video(*, frames: int = 16, height: int = 64, width: int = 64, cells: int = 6, speed: float = 1.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Dark elliptical cells with a bright halo drifting over a textured background, with sensor noise.

    speed: the largest velocity component, pixels per frame (cells stop at the image border).

    Returns (images (T, Y, X) uint8, labels (T, Y, X) uint16 with ids 1..cells, consistent over time).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    background = 150 + 12 * ndi.gaussian_filter(rng.normal(size=(height, width)), 6) / 0.05 * 0.05
    texture = ndi.gaussian_filter(rng.normal(size=(height, width)), 1.5) * 25
    pos = rng.uniform([10, 10], [height - 10, width - 10], size=(cells, 2))
    vel = rng.uniform(-speed, speed, size=(cells, 2))
    axes = rng.uniform([3, 5], [5, 8], size=(cells, 2))
    angle = rng.uniform(0, np.pi, cells)
    images = np.zeros((frames, height, width), np.float64)
    labels = np.zeros((frames, height, width), np.uint16)
    for t in range(frames):
        img = background.copy()
        for c in range(cells):
            cy, cx = np.clip(pos[c] + vel[c] * t, 6, [height - 7, width - 7])
            ca, sa = np.cos(angle[c] + 0.05 * t), np.sin(angle[c] + 0.05 * t)
            u = ((yy - cy) * ca + (xx - cx) * sa) / axes[c, 0]
            v = (-(yy - cy) * sa + (xx - cx) * ca) / axes[c, 1]
            r = np.sqrt(u**2 + v**2)
            inside = r <= 1
            labels[t][inside & (labels[t] == 0)] = c + 1
            img += np.where(inside, -70 + np.roll(texture, (int(cy), int(cx)), (0, 1)) * 0.5, 0)
            img += 45 * np.exp(-((r - 1.25) ** 2) / 0.04)
        images[t] = img + rng.normal(0, 3, img.shape)
    return np.clip(images, 0, 255).astype(np.uint8), labels


def corrupt(images: np.ndarray, kind: str, *, seed: int = 1) -> np.ndarray:
    """'identical' | 'noise' | 'blur' (mild) | 'shuffle' | 'constant' (heavy) versions of a uint8 video."""
    rng = np.random.default_rng(seed)
    x = images.astype(np.float64)
    if kind == "identical":
        out = x
    elif kind == "noise":
        out = x + rng.normal(0, 4, x.shape)
    elif kind == "blur":
        out = ndi.gaussian_filter(x, (0, 0.7, 0.7))
    elif kind == "shuffle":
        t = x.shape[0]
        perm = np.roll(rng.permutation(t), 1)
        while np.any(perm == np.arange(t)):
            perm = rng.permutation(t)
        out = x[perm]
    elif kind == "constant":
        out = np.full_like(x, x.mean())
    else:
        raise ValueError(kind)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
