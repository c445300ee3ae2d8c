"""Distribution metrics on feature vectors: Fréchet distance (FID formula) and kernel distance (KID).

These functions take features, not images, so the same code serves DeepSea features (the default,
named ``FID-DeepSea`` / ``KID-DeepSea``), clip descriptors (``FD-DeepSea-clipL``) and, when the user
supplies local weights, Inception features. They are order-free: shuffling frames does not change them.
"""

from __future__ import annotations

import numpy as np

from tgan_aug.errors import UserError


def _as_features(x: np.ndarray, name: str, *, min_rows: int = 2) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise UserError(f"{name}: expected features of shape (N, D), got {a.shape}")
    if a.shape[0] < min_rows:
        raise UserError(f"{name}: needs at least {min_rows} feature vectors, got {a.shape[0]}; use a longer video or shorter clips")
    if not np.isfinite(a).all():
        raise UserError(f"{name}: features contain NaN or inf")
    return a


def _sqrtm_psd(mat: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((mat + mat.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula).

    feats_a: (N, D), feats_b: (M, D) float. Returns ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)``
    (>= 0; ~0 for identical sets). Exact and stable when N < D (singular covariances): computed from the
    singular values of the (N, M) cross-product of the centred sets when that is smaller than (D, D).
    """
    a = _as_features(feats_a, "feats_a")
    b = _as_features(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise UserError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    xa, xb = a - mu_a, b - mu_b
    na, nb, d = a.shape[0] - 1, b.shape[0] - 1, a.shape[1]
    if a.shape[0] * b.shape[0] <= d * d:
        # few samples: the nonzero eigenvalues of S_a S_b are the squared singular values of
        # Xa Xb^T / sqrt(na nb), an (N, M) matrix -- exact and much cheaper than (D, D) algebra
        tr_cross = np.linalg.svd(xa @ xb.T, compute_uv=False).sum() / np.sqrt(na * nb)
        tr_a, tr_b = (xa**2).sum() / na, (xb**2).sum() / nb
    else:
        s_a, s_b = xa.T @ xa / na, xb.T @ xb / nb
        root_a = _sqrtm_psd(s_a)
        mid = root_a @ s_b @ root_a
        tr_cross = np.sqrt(np.clip(np.linalg.eigvalsh((mid + mid.T) / 2), 0, None)).sum()
        tr_a, tr_b = np.trace(s_a), np.trace(s_b)
    value = float(((mu_a - mu_b) ** 2).sum() + tr_a + tr_b - 2 * tr_cross)
    return max(value, 0.0)


def kernel_distance(
    feats_a: np.ndarray, feats_b: np.ndarray, *, subsets: int = 50, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Kernel (Inception-style) distance: unbiased MMD^2 with the cubic polynomial kernel ``(x.y / D + 1)^3``.

    feats_a: (N, D), feats_b: (M, D). Averages over ``subsets`` random subsets of ``min(subset_size, N, M)``
    rows (a single pass over all rows when both sets fit in one subset). Returns (mean, std) over subsets;
    the mean is ~0 (can be slightly negative) for sets from the same distribution.
    """
    a = _as_features(feats_a, "feats_a")
    b = _as_features(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise UserError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    d = a.shape[1]
    m = min(subset_size, a.shape[0], b.shape[0])
    if m == a.shape[0] == b.shape[0]:
        subsets = 1
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(subsets):
        x = a if m == a.shape[0] else a[rng.choice(a.shape[0], m, replace=False)]
        y = b if m == b.shape[0] else b[rng.choice(b.shape[0], m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        mmd = (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
        vals.append(mmd)
    return float(np.mean(vals)), float(np.std(vals))


def clip_descriptors(frame_feats: np.ndarray, change_feats: np.ndarray, *, length: int, stride: int | None = None) -> np.ndarray:
    """Descriptors of short clips for a video-level distribution metric.

    frame_feats: (T, D) pooled per-frame features. change_feats: (T - 1, D) pooled absolute change of the
    feature maps between consecutive frames (t -> t+1). Each clip of ``length`` frames (windows every
    ``stride`` frames, default ``length // 2``) is described by the mean of its frame features followed by
    the mean of its ``length - 1`` change features: (N_clips, 2 D). The second half makes the descriptor
    sensitive to frame order (flicker, shuffled frames), which a per-frame FID is not.
    """
    f = np.asarray(frame_feats, dtype=np.float64)
    c = np.asarray(change_feats, dtype=np.float64)
    if length < 2:
        raise UserError(f"clip length must be >= 2 frames, got {length}")
    if f.ndim != 2 or c.ndim != 2 or c.shape != (f.shape[0] - 1, f.shape[1]):
        raise UserError(f"frame_feats (T, D) and change_feats (T-1, D) expected, got {f.shape} and {c.shape}")
    stride = max(1, length // 2) if stride is None else int(stride)
    if stride < 1:
        raise UserError(f"clip stride must be >= 1, got {stride}")
    starts = range(0, f.shape[0] - length + 1, stride)
    if len(starts) == 0:
        raise UserError(f"video of {f.shape[0]} frames is shorter than one clip of {length} frames; use a shorter --clip-length")
    return np.stack([np.concatenate([f[s : s + length].mean(0), c[s : s + length - 1].mean(0)]) for s in starts])
