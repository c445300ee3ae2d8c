"""A drop-in PyTorch Dataset for tracker training that mixes real and synthetic sequences.

:class:`RatioMixture` draws every item of an epoch from the synthetic pool with probability
``ratio`` (exact in expectation: the epoch holds floor(ratio * n) synthetic items plus one more
with probability equal to the remainder) and from the real pool otherwise; inside a pool a
dataset is picked in proportion to its length and an item uniformly. The whole epoch plan
comes from ``numpy.random.default_rng([seed, epoch])``, so the same seed and epoch give the
same items in any process or worker.

:class:`MixedTrackingDataset` applies it to windows of tracked videos: each item is a window of
``window`` consecutive frames, optionally cropped, with images, track-id labels and the lineage
restricted to the window. Example of a custom training loop::

    import torch
    from torch.utils.data import DataLoader
    from tgan_aug.trackers.dataset import MixedTrackingDataset, collate_windows

    ds = MixedTrackingDataset(real=["data/bacteria-phc"], synthetic=["synth.zarr"],
                              ratio=0.5, window=6, crop=(128, 128), samples_per_epoch=512, seed=0)
    loader = DataLoader(ds, batch_size=4, shuffle=False, collate_fn=collate_windows)
    for epoch in range(10):
        ds.set_epoch(epoch)                  # a new, reproducible mix each epoch
        for batch in loader:
            images = batch["images"]         # (B, W, Y, X) float32 in [0, 1] (intensity range)
            labels = batch["labels"]         # (B, W, Y, X) int32 track ids, 0 = background
            lineage = batch["lineage"]       # list of (N_b, 4) int64: id, t_start, t_end, parent
            loss = my_tracker_loss(model(images), labels, lineage)
            ...

For trackastra, :func:`trackastra_training_data` exports every source as a CTC folder and
mixes trackastra's own ``CTCData`` windows with the same ratio logic, in one call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from masksynth.tracked import TrackedMasks, TrackedVideo
from tgan_aug.errors import UserError
from tgan_aug.fitting import new_output_dir
from tgan_aug.trackers.registry import import_trackastra

__all__ = [
    "Source",
    "load_sources",
    "RatioMixture",
    "SequenceWindows",
    "MixedTrackingDataset",
    "collate_windows",
    "window_lineage",
    "check_training_request",
    "export_ctc_sources",
    "nonempty_runs",
    "trackastra_training_data",
]

#: A sequence given as a path (zarr store, CTC folder, ``IMAGES.tif:MASKS.tif``), an in-memory
#: :class:`TrackedVideo`, or a ``(name, TrackedVideo)`` pair.
Source = Union[str, Path, TrackedVideo, tuple[str, TrackedVideo]]


def load_sources(sources: Sequence[Source], *, what: str) -> list[tuple[str, TrackedVideo]]:
    """Resolve sources to ``(name, TrackedVideo)`` pairs; paths go through ``tgan_aug.io.load_tracked``.

    what: the option the sources came from (``--real``, ``--synthetic``), named in errors.
    """
    out: list[tuple[str, TrackedVideo]] = []
    for i, src in enumerate(sources):
        if isinstance(src, TrackedVideo):
            out.append((f"{what.strip('-')}{i}", src))
        elif isinstance(src, tuple) and len(src) == 2 and isinstance(src[1], TrackedVideo):
            out.append((str(src[0]), src[1]))
        elif isinstance(src, (str, Path)):
            from tgan_aug.io import load_tracked

            for name, data in load_tracked(src):
                if not isinstance(data, TrackedVideo):
                    raise UserError(
                        f"{what} {src} ({name}) holds masks without images; trackers train on images: "
                        "render the masks first (tgan-aug render) or pass a dataset with images"
                    )
                out.append((f"{Path(str(src)).name}/{name}", data))
        elif isinstance(src, TrackedMasks):
            raise UserError(f"{what}: source {i} is TrackedMasks without images; trackers need rendered images")
        else:
            raise UserError(f"{what}: source {i} has type {type(src).__name__}; expected a path or a TrackedVideo")
    return out


class RatioMixture(Dataset):
    """Mix a real and a synthetic pool of datasets with a given synthetic fraction.

    real, synthetic: lists of map-style datasets (either may be empty when ``ratio`` is 0 / 1).
    ratio: fraction of synthetic items, in [0, 1].
    samples_per_epoch: items per epoch (default: total length of the pools used).
    seed: the epoch plan is ``default_rng([seed, epoch])``; call :meth:`set_epoch` each epoch.
    object_weighting: 0 draws the items of a pool uniformly; p > 0 draws item k with probability
        proportional to ``n_objects[k] ** p``, for datasets that say how many objects each item
        holds (``n_objects``, as trackastra's ``CTCData``; others count 1 per item). A growing
        colony's early windows hold a few cells and its late ones hundreds: drawn uniformly, the
        sparse windows dominate training while the crowded ones are what is hard to track.
    """

    def __init__(
        self,
        real: Sequence[Dataset],
        synthetic: Sequence[Dataset],
        *,
        ratio: float,
        samples_per_epoch: int | None = None,
        seed: int = 0,
        object_weighting: float = 0.0,
    ):
        if not 0.0 <= float(ratio) <= 1.0:
            raise UserError(f"--ratio must be in [0, 1] (fraction of synthetic samples), got {ratio}")
        self.pools = {"real": [d for d in real if len(d) > 0], "synthetic": [d for d in synthetic if len(d) > 0]}
        self.ratio = float(ratio)
        if self.ratio > 0 and not self.pools["synthetic"]:
            raise UserError(f"--ratio {ratio} asks for synthetic samples but no --synthetic data with usable windows was given")
        if self.ratio < 1 and not self.pools["real"]:
            raise UserError(f"--ratio {ratio} asks for real samples but no --real data with usable windows was given")
        if samples_per_epoch is None:
            used = [k for k, share in (("real", 1 - self.ratio), ("synthetic", self.ratio)) if share > 0]
            samples_per_epoch = sum(len(d) for k in used for d in self.pools[k])
        if samples_per_epoch < 1:
            raise UserError(f"samples_per_epoch must be >= 1, got {samples_per_epoch}")
        self.samples_per_epoch = int(samples_per_epoch)
        self.seed = int(seed)
        if object_weighting < 0:
            raise UserError(f"object_weighting must be >= 0 (0 = uniform), got {object_weighting}")
        self.object_weighting = float(object_weighting)
        self._item_p = {k: self._item_probabilities(v) for k, v in self.pools.items()}
        self.epoch = 0
        self._plan = self._make_plan(0)

    def _item_probabilities(self, datasets: list[Dataset]) -> tuple[np.ndarray, np.ndarray] | None:
        """(dataset index, item index) of every item of a pool and its probability; None = uniform."""
        if self.object_weighting == 0 or not datasets:
            return None
        where, weights = [], []
        for j, d in enumerate(datasets):
            counts = np.asarray(getattr(d, "n_objects", np.ones(len(d))), dtype=float)[: len(d)]
            where.extend((j, k) for k in range(len(d)))
            weights.append(np.maximum(counts, 1.0) ** self.object_weighting)
        w = np.concatenate(weights)
        return np.asarray(where), w / w.sum()

    def set_epoch(self, epoch: int) -> None:
        """Switch to the (reproducible) plan of ``epoch``."""
        self.epoch = int(epoch)
        self._plan = self._make_plan(self.epoch)

    def _make_plan(self, epoch: int) -> list[tuple[str, int, int]]:
        rng = np.random.default_rng([self.seed, epoch])
        n = self.samples_per_epoch
        exact = self.ratio * n
        k = int(np.floor(exact)) + int(rng.random() < exact - np.floor(exact))
        synthetic = np.zeros(n, dtype=bool)
        synthetic[rng.permutation(n)[:k]] = True
        plan = []
        for is_syn in synthetic:
            pool = "synthetic" if is_syn else "real"
            if self._item_p[pool] is not None:
                where, p = self._item_p[pool]
                j, k = where[int(rng.choice(len(p), p=p))]
                plan.append((pool, int(j), int(k)))
                continue
            sizes = np.array([len(d) for d in self.pools[pool]], dtype=float)
            j = int(rng.choice(len(sizes), p=sizes / sizes.sum()))
            plan.append((pool, j, int(rng.integers(len(self.pools[pool][j])))))
        return plan

    @property
    def plan(self) -> list[tuple[str, int, int]]:
        """(pool, dataset index, item index) for every item of the current epoch."""
        return list(self._plan)

    def __len__(self) -> int:
        return self.samples_per_epoch

    def __getitem__(self, i: int) -> Any:
        pool, j, idx = self._plan[i]
        return self.pools[pool][j][idx]


def window_lineage(lineage: np.ndarray, t0: int, t1: int, present: set[int] | None = None) -> np.ndarray:
    """Lineage rows of the tracks inside frames [t0, t1), shifted so the window starts at 0.

    lineage: (N, 4) int rows id, t_start, t_end, parent. Tracks are clipped to the window; a
    parent outside the window becomes 0. ``present``: ids visible in the (cropped) window.
    Returns (M, 4) int64.
    """
    lin = np.asarray(lineage, dtype=np.int64).reshape(-1, 4)
    keep = (lin[:, 1] < t1) & (lin[:, 2] >= t0)
    if present is not None:
        keep &= np.isin(lin[:, 0], list(present))
    out = lin[keep].copy()
    out[:, 1] = np.clip(out[:, 1], t0, t1 - 1) - t0
    out[:, 2] = np.clip(out[:, 2], t0, t1 - 1) - t0
    out[~np.isin(out[:, 3], out[:, 0]), 3] = 0
    return out


def _crop_lineage(labels: np.ndarray, lineage: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lineage of a cropped window from what is visible in it.

    Cells may enter, leave and re-enter a crop: spans come from the visible frames, a track
    that reappears after a gap continues under a new id whose parent is its earlier part
    (CTC convention), and divisions whose mother and daughters are both visible are kept.
    """
    from masksynth.tracked import lineage_from_labels

    out, lin = lineage_from_labels(labels, check_linked=False)
    parent_of = {int(r[0]): int(r[3]) for r in np.asarray(lineage).reshape(-1, 4)}
    rows = {int(r[0]): r for r in lin}
    for r in lin:
        if r[3] == 0:
            p = parent_of.get(int(r[0]), 0)
            if p in rows and rows[p][2] < r[1]:
                r[3] = p
    return out, lin


@dataclass
class SequenceWindows(Dataset):
    """All windows of ``window`` consecutive frames of one tracked video (uncropped).

    Item: dict with ``images`` float32 (W, Y, X) scaled by the video's intensity range to
    [0, 1], ``labels`` int32 (W, Y, X) track ids, ``lineage`` int64 (N, 4) (window frames),
    ``name``, ``t0``.
    """

    name: str
    video: TrackedVideo
    window: int

    def __post_init__(self) -> None:
        if self.window < 2:
            raise UserError(f"window must be >= 2 frames, got {self.window}")

    def __len__(self) -> int:
        return max(self.video.n_frames - self.window + 1, 0)

    def get(self, i: int, *, crop: tuple[int, int] | None = None, rng: np.random.Generator | None = None) -> dict[str, Any]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        t0, t1 = i, i + self.window
        labels = self.video.labels[t0:t1]
        images = np.asarray(self.video.images[t0:t1], dtype=np.float32)
        y0 = x0 = 0
        if crop is not None:
            ch, cw = crop
            _, h, w = labels.shape
            rng = rng or np.random.default_rng(0)
            y0 = int(rng.integers(0, h - ch + 1))
            x0 = int(rng.integers(0, w - cw + 1))
            labels = labels[:, y0 : y0 + ch, x0 : x0 + cw]
            images = images[:, y0 : y0 + ch, x0 : x0 + cw]
        lo, hi = self.video.intensity_range
        images = (images - lo) / (hi - lo) if hi > lo else images - lo
        if crop is None:
            lineage = window_lineage(self.video.lineage, t0, t1)
        else:
            labels, lineage = _crop_lineage(labels, self.video.lineage)
        return {
            "images": images.astype(np.float32),
            "labels": labels.astype(np.int32),
            "lineage": lineage,
            "name": self.name,
            "t0": t0,
            "y0": y0,
            "x0": x0,
        }

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.get(i)


class MixedTrackingDataset(RatioMixture):
    """Windows of real and synthetic tracked videos, mixed with a synthetic fraction ``ratio``.

    real, synthetic: sources (paths read through ``tgan_aug.io.load_tracked``, or in-memory
        :class:`TrackedVideo`). ratio: fraction of synthetic windows in [0, 1].
    window: frames per window. crop: (height, width) random crop, or None (all sources must
        then share one size to be batched). as_torch: tensors instead of numpy arrays.
    Items: dict ``images`` (W, Y, X) float32 in [0, 1], ``labels`` (W, Y, X) int32 track ids,
    ``lineage`` (N, 4) int64, ``source`` ("real" / "synthetic"), ``name``, ``t0``, ``y0``, ``x0``.
    """

    def __init__(
        self,
        real: Sequence[Source] = (),
        synthetic: Sequence[Source] = (),
        *,
        ratio: float,
        window: int = 6,
        crop: tuple[int, int] | None = None,
        samples_per_epoch: int | None = None,
        seed: int = 0,
        as_torch: bool = True,
    ):
        pools = {}
        for key, srcs, flag in (("real", real, "--real"), ("synthetic", synthetic, "--synthetic")):
            pools[key] = [SequenceWindows(n, v, window) for n, v in load_sources(srcs, what=flag)]
            for sw in pools[key]:
                if len(sw) == 0:
                    raise UserError(f"{flag} {sw.name} has {sw.video.n_frames} frames, fewer than window={window}; lower --window")
                if crop is not None and (crop[0] > sw.video.labels.shape[1] or crop[1] > sw.video.labels.shape[2]):
                    raise UserError(f"crop {tuple(crop)} is larger than {flag} {sw.name} ({sw.video.labels.shape[1:]}); lower the crop")
        self.crop = None if crop is None else (int(crop[0]), int(crop[1]))
        self.as_torch = as_torch
        super().__init__(pools["real"], pools["synthetic"], ratio=ratio, samples_per_epoch=samples_per_epoch, seed=seed)

    def __getitem__(self, i: int) -> dict[str, Any]:
        pool, j, idx = self._plan[i]
        rng = np.random.default_rng([self.seed, self.epoch, i, 1])
        item = self.pools[pool][j].get(idx, crop=self.crop, rng=rng)
        item["source"] = pool
        if self.as_torch:
            for k in ("images", "labels", "lineage"):
                item[k] = torch.from_numpy(np.ascontiguousarray(item[k]))
        return item


def collate_windows(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack ``images`` and ``labels`` into (B, W, Y, X); keep ``lineage`` and metadata as lists."""
    out: dict[str, Any] = {}
    for k in ("images", "labels"):
        vals = [b[k] for b in batch]
        shapes = {tuple(v.shape) for v in vals}
        if len(shapes) > 1:
            raise UserError(f"windows of different sizes {sorted(shapes)} cannot be batched; set crop=(H, W)")
        out[k] = torch.stack([torch.as_tensor(v) for v in vals])
    for k in batch[0]:
        if k not in out:
            out[k] = [b[k] for b in batch]
    return out


# ----------------------------------------------------------------------------- trackastra


def _write_ctc(out_dir: Path, video: TrackedVideo) -> Path:
    """Export one video as a CTC dataset folder (``01/`` + ``01_GT/TRA``); returns ``out_dir/01``."""
    try:
        from tgan_aug.io.ctc import write_ctc
    except ImportError:  # the I/O module is not available: minimal writer with the same layout
        import tifffile

        from tgan_aug.trackers.ctc_results import write_gt_tra

        img_dir = out_dir / "01"
        img_dir.mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(video.images):
            tifffile.imwrite(img_dir / f"t{t:03d}.tif", np.asarray(frame))
        write_gt_tra(out_dir / "01_GT", video.masks, overwrite=True)
        return img_dir
    write_ctc(out_dir, video, sequence="01", overwrite=True)
    return out_dir / "01"


def nonempty_runs(video: TrackedVideo, *, min_frames: int = 2) -> list[tuple[int, TrackedVideo]]:
    """The runs of consecutive frames that hold at least one cell, as (first frame, sub-video).

    trackastra's ``CTCData`` fails on a frame without objects (a crop of a growing colony starts
    empty), so training data is cut at empty frames; runs shorter than ``min_frames`` are dropped.
    Lineage is repaired by :func:`masksynth.time_slice` (a mother cut off becomes a root).
    """
    from masksynth import time_slice

    occupied = np.asarray([bool(np.any(f)) for f in video.labels])
    runs, t = [], 0
    while t < len(occupied):
        if not occupied[t]:
            t += 1
            continue
        start = t
        while t < len(occupied) and occupied[t]:
            t += 1
        if t - start >= min_frames:
            if start == 0 and t == len(occupied):
                runs.append((0, video))
            else:
                runs.append((start, TrackedVideo(time_slice(video.masks, start, t), video.images[start:t],
                                                 intensity_range=video.intensity_range, provenance=video.provenance)))
    return runs


def check_training_request(real: Sequence[Source], synthetic: Sequence[Source], *, ratio: float,
                           out_dir: str | Path, overwrite: bool) -> Path:
    """The checks every tracker-training entry point makes before any work; returns ``Path(out_dir)``.

    ``out_dir`` must be new or empty (unless ``overwrite``), ``ratio`` (synthetic fraction) in
    [0, 1], and each pool that ``ratio`` draws from must be given.
    """
    out_dir = new_output_dir(out_dir, overwrite)
    if not 0 <= ratio <= 1:
        raise UserError(f"--ratio must be in [0, 1] (fraction of synthetic samples), got {ratio}")
    if ratio > 0 and not synthetic:
        raise UserError(f"--ratio {ratio} asks for synthetic samples but no --synthetic data was given (or use --ratio 0)")
    if ratio < 1 and not real:
        raise UserError(f"--ratio {ratio} asks for real samples but no --real data was given (or use --ratio 1)")
    return out_dir


def export_ctc_sources(sources: Sequence[Source], workdir: str | Path, *, what: str, min_frames: int = 2) -> list[Path]:
    """Export sources as CTC folders under ``workdir`` (one dataset folder per run of non-empty frames).

    Each sequence is cut at frames without cells (:func:`nonempty_runs`; runs shorter than
    ``min_frames`` are left out). Returns the ``.../01`` sequence folders that trackastra's
    ``CTCData(root=...)`` reads; a UserError names ``what`` when no run is left.
    """
    workdir = Path(workdir)
    paths = []
    for i, (name, video) in enumerate(load_sources(sources, what=what)):
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        for start, run in nonempty_runs(video, min_frames=min_frames):
            suffix = "" if start == 0 and run is video else f"_t{start:04d}"
            paths.append(_write_ctc(workdir / f"{what.strip('-')}_{i:03d}_{safe}{suffix}", run))
    if sources and not paths:
        raise UserError(f"{what}: no sequence has {min_frames} consecutive frames with cells; trackastra needs them")
    return paths


def _quiet_ctcdata(root: Path, **kwargs: Any):
    """trackastra ``CTCData`` on one sequence folder, built without its 8-process feature pool."""
    import joblib
    import_trackastra()
    from trackastra.data import CTCData

    with joblib.parallel_config(backend="sequential"):
        return CTCData(root=str(root), **kwargs)


def seed_random_states(obj: Any, seed: Sequence[int]) -> int:
    """Give every ``numpy.random.RandomState`` held by ``obj`` (a trackastra ``CTCData``: its
    cropper and augmentation pipelines, searched through attributes, lists and tuples) a seeded
    state, the k-th found ``RandomState([*seed, k])``. trackastra creates them unseeded, so its
    augmentations (``augment`` >= 1) differed from run to run whatever the training seed.
    Returns how many were seeded.
    """
    found: list[tuple[Any, str | int]] = []
    seen: set[int] = set()

    def visit(o: Any) -> None:
        if id(o) in seen or isinstance(o, (np.ndarray, str, bytes, int, float, Path)) or o is None:
            return
        seen.add(id(o))
        items = list(enumerate(o)) if isinstance(o, (list, tuple)) else list(vars(o).items()) if hasattr(o, "__dict__") else []
        for key, value in items:
            if isinstance(value, np.random.RandomState):
                found.append((o, key))
            elif isinstance(o, (list, tuple)) or type(value).__module__.startswith("trackastra") or isinstance(value, (list, tuple)):
                visit(value)

    for name in ("augmenter", "cropper"):
        visit(getattr(obj, name, None))
    for k, (owner, key) in enumerate(found):
        state = np.random.RandomState([*map(int, seed), k])
        if isinstance(owner, list):
            owner[key] = state
        else:
            setattr(owner, key, state)
    return len(found)


def trackastra_training_data(
    real: Sequence[Source] = (),
    synthetic: Sequence[Source] = (),
    *,
    ratio: float,
    workdir: str | Path,
    window: int = 6,
    features: str = "wrfeat",
    augment: int = 0,
    samples_per_epoch: int | None = None,
    seed: int = 0,
    object_weighting: float = 0.0,
    ctcdata_factory: Callable[..., Dataset] | None = None,
) -> RatioMixture:
    """Everything trackastra training needs, real and synthetic mixed, in one call.

    Each source is exported as a CTC folder under ``workdir`` and loaded with trackastra's
    ``CTCData`` (ground-truth detections, ``window`` frames, ``features`` ``"wrfeat"`` as in
    trackastra's default models, ``augment`` level 0-3); the windows are mixed by
    :class:`RatioMixture` with synthetic fraction ``ratio`` (windows drawn in proportion to
    their detections ** ``object_weighting``). Items are ``CTCData`` dicts
    (``features``, ``coords``, ``assoc_matrix``, ``timepoints``, ``labels``); batch them with
    ``trackastra.data.collate_sequence_padding``.
    """
    factory = ctcdata_factory or _quiet_ctcdata
    workdir = Path(workdir)
    kwargs = dict(ndim=2, detection_folders=["TRA"], window_size=window, features=features, augment=augment)
    real_ds = [factory(p, **kwargs) for p in export_ctc_sources(real, workdir, what="--real", min_frames=window)]
    syn_ds = [factory(p, **kwargs) for p in export_ctc_sources(synthetic, workdir, what="--synthetic", min_frames=window)]
    for k, ds in enumerate(real_ds + syn_ds):  # trackastra's augmentations draw from unseeded RandomStates
        seed_random_states(ds, (seed, k))
    return RatioMixture(real_ds, syn_ds, ratio=ratio, samples_per_epoch=samples_per_epoch, seed=seed,
                        object_weighting=object_weighting)
