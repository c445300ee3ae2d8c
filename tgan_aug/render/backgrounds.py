"""Reference backgrounds for rendering: from the checkpoint, a bank of them, or a user image.

All functions return (H, W) float32 arrays in [-1, 1] at the frame size the generators see.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tgan_aug.errors import UserError

__all__ = ["fit_background", "choose_background"]


def fit_background(bg: np.ndarray, size: tuple[int, int], *, rng: np.random.Generator | None = None) -> np.ndarray:
    """Fit a background (Y, X) to ``size`` (H, W) without rescaling (cells keep their scale).

    Larger backgrounds are cropped (centre, or a random offset when ``rng`` is given); smaller
    ones are mirrored ('symmetric' padding) until they cover ``size``. Returns float32 (H, W).
    """
    bg = np.asarray(bg, dtype=np.float32)
    H, W = size
    reps_y, reps_x = max(0, H - bg.shape[0]), max(0, W - bg.shape[1])
    while reps_y > 0 or reps_x > 0:  # mirror repeatedly (np.pad symmetric allows at most one copy per step)
        py, px = min(reps_y, bg.shape[0]), min(reps_x, bg.shape[1])
        bg = np.pad(bg, ((0, py), (0, px)), mode="symmetric")
        reps_y, reps_x = max(0, H - bg.shape[0]), max(0, W - bg.shape[1])
    dy, dx = bg.shape[0] - H, bg.shape[1] - W
    if rng is None:
        y0, x0 = dy // 2, dx // 2
    else:
        y0, x0 = int(rng.integers(0, dy + 1)), int(rng.integers(0, dx + 1))
    return np.ascontiguousarray(bg[y0 : y0 + H, x0 : x0 + W])


def _read_image(path: Path) -> np.ndarray:
    import tifffile

    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            img = tifffile.imread(path)
        else:
            import skimage.io

            img = skimage.io.imread(path)
    except Exception as exc:  # any reader failure is a user-file problem
        raise UserError(f"--background {path}: cannot read the image ({type(exc).__name__}: {exc}); give a 2D TIFF/PNG") from None
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[-1] in (3, 4):
        img = img[..., :3].mean(axis=-1)
    while img.ndim > 2:
        img = img[0]
    if img.ndim != 2:
        raise UserError(f"--background {path}: expected a 2D image (Y, X), got shape {img.shape}")
    return img


def choose_background(
    spec: str,
    *,
    bank: dict[str, np.ndarray],
    stats,
    size: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, str]:
    """The background for one sequence and a description of where it came from.

    spec: "auto" (the checkpoint's first training background, centre crop), "bank" (one of the
        checkpoint's backgrounds drawn with ``rng``, random crop and flips) or an image path (data
        units of the training data, normalised with ``stats`` and cropped/mirrored to ``size``).
    bank: name -> (Y, X) float32 in [-1, 1] (``ckpt["data"]["backgrounds"]``).
    stats: :class:`~tgan_aug.training.data.ImageStats` of the checkpoint.
    size: (H, W) output frame size.
    Returns ((H, W) float32 in [-1, 1], description).
    """
    if spec in ("auto", "bank"):
        if not bank:
            raise UserError(f"--background {spec}: the checkpoint holds no backgrounds; give --background IMAGE")
        names = sorted(bank)
        if spec == "auto":
            return fit_background(bank[names[0]], size), f"checkpoint:{names[0]}"
        name = names[int(rng.integers(0, len(names)))]
        bg = np.asarray(bank[name], dtype=np.float32)
        if rng.random() < 0.5:
            bg = bg[::-1]
        if rng.random() < 0.5:
            bg = bg[:, ::-1]
        return fit_background(bg, size, rng=rng), f"bank:{name}"
    path = Path(spec)
    if not path.is_file():
        raise UserError(f"--background {spec}: not 'auto', 'bank' or an existing image file")
    bg = stats.normalise(_read_image(path))
    return fit_background(bg, size), f"image:{path}"
