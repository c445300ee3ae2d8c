"""Track with DeepSea's tracker (pretrained or fine-tuned) over per-frame segmentation masks.

How a frame pair (t-1, t) is linked (after DeepSea's ``track_cells``/``find_matchings``):

1. For every cell i of frame t-1 the network sees the crop pair of :mod:`deepsea_crops`
   (window = 6 x the cell's bounding-box extent, resized to ``crop_size``) and segments where
   the cell is in frame t. Predicted blobs smaller than ``min_size`` crop pixels are dropped.
2. A cell j of frame t is a candidate for i when more than ``match_threshold`` (0.5) of j's
   pixels inside the window are covered by that prediction.
3. One candidate: i continues as j. Two or more: i divides into the two best-covered ones,
   unless i was itself born by a division less than ``min_cycle_frames`` (5) frames ago; then
   it continues as whichever of the two lies nearer to i's centroid. None: i's track ends.
4. A cell of frame t claimed by several cells of t-1 goes to the claimant whose centroid is
   nearest (DeepSea's rule); a claimant left with nothing then takes its best remaining
   unclaimed candidate, if any (an addition to DeepSea, which drops it). A division that loses
   one daughter becomes a plain link. Unclaimed cells of frame t start new tracks.

``linking="assignment"`` (not DeepSea's; an option) replaces steps 3-4 with a global
minimum-cost matching over the candidates and divisions for the cells left over
(:func:`link_frame_assignment`); it is more robust when the network's predictions cover
neighbouring look-alike cells (measured on blobs at 128 px crops, in the slow tests).

Links become CTC tracks through :func:`tgan_aug.trackers.ctc_results.links_to_tracked`.

Example::

    from tgan_aug.trackers.deepsea_track import DeepSeaTracker
    tracker = DeepSeaTracker.from_pretrained()          # weights shipped by the deepsea package
    tracked = tracker.track(images, segmentation)      # (T, Y, X) each -> TrackedMasks
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from scipy import ndimage as ndi

from masksynth.configbase import ConfigBase, check_choice, choices_of, configclass
from masksynth.tracked import TrackedMasks
from tgan_aug.errors import UserError
from tgan_aug.trackers.ctc_results import Link, links_to_tracked
from tgan_aug.trackers.deepsea_crops import CellBox, cell_boxes, cell_pair, normalize_frame, resize_labels, resolve_invert
from tgan_aug.validation import validate_video

__all__ = [
    "DeepSeaTrackConfig",
    "DeepSeaTracker",
    "load_tracker",
    "track_deepsea",
    "frame_candidates",
    "link_frame",
    "link_frame_assignment",
]

Linking = Literal["deepsea", "assignment"]
LINKING = choices_of(Linking)


@configclass
class DeepSeaTrackConfig(ConfigBase):
    """Inference settings. Presets: ``deepsea`` (the published settings: 128 px crops) and
    ``fast`` (64 px crops, about 6x faster on CPU; as good on PhC-C2DL-PSC and round blobs, worse
    on crowded cells: bacteria-phc MOTA 0.39 vs 0.79 over the whole sequence).

    crop_size: network input side, pixels (divisible by 4). window_scale: crop window side as a
    multiple of the cell's larger bounding-box extent. min_window: smallest window side, pixels.
    min_size: predicted blobs smaller than this (crop pixels) are ignored. match_threshold:
    fraction of a current cell that the prediction must cover to make it a candidate.
    min_cycle_frames: a cell born by division divides again only after this many frames.
    invert: scale frames to 1 - minmax; ``"auto"`` (default, a tgan-aug addition) inverts a
    sequence whose cells are darker than its background, since the crops zero the background
    (bacteria-phc frames 0-16, 128 px: MOTA 0.955 inverted, 0.159 not; PhC-C2DL-PSC has bright
    cells and is left as is).
    batch_size: crops per network call. linking: ``deepsea`` (DeepSea's rules) or
    ``assignment`` (global matching, :func:`link_frame_assignment`). distance_weight: weight of
    the centroid distance (in cell extents) in the assignment cost.
    """

    preset: str = "deepsea"
    crop_size: int = 128
    window_scale: float = 6.0
    min_window: float = 16.0
    min_size: int = 20
    match_threshold: float = 0.5
    min_cycle_frames: int = 5
    invert: bool | Literal["auto"] = "auto"
    batch_size: int = 16
    linking: Linking = "deepsea"
    distance_weight: float = 0.5

    PRESETS = {"deepsea": {}, "fast": {"crop_size": 64, "min_size": 5}}
    DEFAULT_PRESET = "deepsea"
    WHAT = "DeepSea tracking config"
    PRESET_WHAT = "DeepSea tracking"

    def with_crop_size(self, crop_size: int) -> "DeepSeaTrackConfig":
        """A copy with another network input size; ``min_size`` scales with the crop area."""
        scaled = max(1, round(self.min_size * (crop_size / self.crop_size) ** 2))
        return DeepSeaTrackConfig.from_dict({**dataclasses.asdict(self), "crop_size": int(crop_size), "min_size": scaled})

    def validate(self) -> None:
        if self.crop_size < 16 or self.crop_size % 4:
            raise UserError(f"crop_size must be a multiple of 4 and >= 16 pixels, got {self.crop_size}")
        if self.window_scale <= 0 or self.min_window < 2:
            raise UserError(f"window_scale must be > 0 and min_window >= 2 px, got {self.window_scale} and {self.min_window}")
        if not 0 <= self.match_threshold < 1:
            raise UserError(f"match_threshold must be in [0, 1), got {self.match_threshold}")
        if self.invert not in (True, False, "auto"):
            raise UserError(f"invert must be true, false or 'auto', got {self.invert!r}")
        check_choice(self.linking, Linking, "linking")
        if self.distance_weight < 0:
            raise UserError(f"distance_weight must be >= 0, got {self.distance_weight}")
        if self.min_size < 0 or self.min_cycle_frames < 0 or self.batch_size < 1:
            raise UserError(
                f"min_size and min_cycle_frames must be >= 0 and batch_size >= 1, got "
                f"{self.min_size}, {self.min_cycle_frames}, {self.batch_size}"
            )


def _drop_small(mask: np.ndarray, min_size: int) -> np.ndarray:
    """Remove 4-connected blobs smaller than ``min_size`` pixels from a (S, S) bool mask."""
    if min_size <= 1 or not mask.any():
        return mask
    lab, n = ndi.label(mask)
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    keep = sizes >= min_size
    keep[0] = False
    return keep[lab]


def frame_candidates(pred: np.ndarray, labels_crop: np.ndarray, *, min_size: int, match_threshold: float) -> list[tuple[int, float]]:
    """Current cells that one prediction covers.

    pred: (S, S) bool, the network's "cell is here now" mask for one previous cell.
    labels_crop: (h, w) integer crop of the current frame's labels under the same window.
    Returns ``[(id, covered fraction)]`` with fraction > ``match_threshold``, best first.
    """
    size = pred.shape[-1]
    pred = _drop_small(np.asarray(pred, bool), min_size)
    lab = resize_labels(labels_crop, size).numpy().ravel()
    if not lab.any() or not pred.any():
        return []
    total = np.bincount(lab, minlength=int(lab.max()) + 1)
    hit = np.bincount(lab[pred.ravel()], minlength=total.size)
    out = []
    for j in np.nonzero(total)[0]:
        if j == 0:
            continue
        frac = float(hit[j] / total[j])
        if frac > match_threshold:
            out.append((int(j), frac))
    return sorted(out, key=lambda c: (-c[1], c[0]))


def _dist(a: CellBox, b: CellBox) -> float:
    return float(np.hypot(a.cy - b.cy, a.cx - b.cx))


def link_frame(
    candidates: Mapping[int, list[tuple[int, float]]],
    prev_boxes: Mapping[int, CellBox],
    curr_boxes: Mapping[int, CellBox],
    *,
    born_at: Mapping[int, int],
    t: int,
    min_cycle_frames: int = 5,
) -> dict[int, list[int]]:
    """Decide the links from frame t-1 to frame t (steps 3-4 of the module docstring).

    candidates: previous id -> ``[(current id, covered fraction)]`` best first.
    prev_boxes, curr_boxes: centroids of the cells of t-1 and t (:func:`cell_boxes`).
    born_at: previous id -> frame where its track started by a division (absent: not a daughter).
    Returns previous id -> list of current ids (1 = continues, 2 = divides); ids with no link are absent.
    """
    chosen: dict[int, list[int]] = {}
    for i, cands in candidates.items():
        if not cands:
            continue
        if len(cands) == 1:
            chosen[i] = [cands[0][0]]
        elif i in born_at and t - born_at[i] < min_cycle_frames:
            a, b = cands[0][0], cands[1][0]
            chosen[i] = [a if _dist(prev_boxes[i], curr_boxes[a]) <= _dist(prev_boxes[i], curr_boxes[b]) else b]
        else:
            chosen[i] = [cands[0][0], cands[1][0]]
    claims: dict[int, list[int]] = {}
    for i, js in chosen.items():
        for j in js:
            claims.setdefault(j, []).append(i)
    for j, owners in claims.items():
        if len(owners) > 1:
            winner = min(owners, key=lambda i: (_dist(prev_boxes[i], curr_boxes[j]), i))
            for i in owners:
                if i != winner:
                    chosen[i].remove(j)
    taken = {j for js in chosen.values() for j in js}
    for i in sorted(chosen, key=lambda i: -max(f for _, f in candidates[i])):
        if not chosen[i]:  # lost its only claim: best remaining unclaimed candidate
            free = [j for j, _ in candidates[i] if j not in taken]
            if free:
                chosen[i] = [free[0]]
                taken.add(free[0])
    return {i: js for i, js in chosen.items() if js}


def link_frame_assignment(
    candidates: Mapping[int, list[tuple[int, float]]],
    prev_boxes: Mapping[int, CellBox],
    curr_boxes: Mapping[int, CellBox],
    *,
    born_at: Mapping[int, int],
    t: int,
    min_cycle_frames: int = 5,
    distance_weight: float = 0.5,
) -> dict[int, list[int]]:
    """Links from t-1 to t by a global one-to-one assignment over the network's candidates,
    then divisions for the cells left over (``linking="assignment"``).

    Every candidate pair (i, j) costs ``(1 - covered fraction) + distance_weight * d / s`` with
    d the centroid distance and s the window side / ``6`` (about the cell's extent); pairs that
    are not candidates are forbidden. The minimum-cost matching (Hungarian) gives the links;
    then each cell j of frame t left unmatched that is a candidate of a matched cell i (i not
    born by division less than ``min_cycle_frames`` ago, not already divided) makes i divide
    into its match and j, cheapest pairs first: "a division is two matches". Same arguments
    and return value as :func:`link_frame`.
    """
    from scipy.optimize import linear_sum_assignment

    def cost(i: int, j: int, frac: float) -> float:
        scale = max(prev_boxes[i].window / 6.0, 1.0)
        return (1.0 - frac) + distance_weight * _dist(prev_boxes[i], curr_boxes[j]) / scale

    pairs = {(i, j): cost(i, j, f) for i, cands in candidates.items() for j, f in cands}
    if not pairs:
        return {}
    rows = sorted({i for i, _ in pairs})
    cols = sorted({j for _, j in pairs})
    big = 1e6
    mat = np.full((len(rows), len(cols)), big)
    for (i, j), c in pairs.items():
        mat[rows.index(i), cols.index(j)] = c
    r, c = linear_sum_assignment(mat)
    chosen = {rows[a]: [cols[b]] for a, b in zip(r, c) if mat[a, b] < big}
    taken = {js[0] for js in chosen.values()}
    extra = sorted(
        (cst, i, j) for (i, j), cst in pairs.items()
        if j not in taken and i in chosen and not (i in born_at and t - born_at[i] < min_cycle_frames)
    )
    for _, i, j in extra:
        if j not in taken and len(chosen[i]) == 1:
            chosen[i].append(j)
            taken.add(j)
    return chosen


class DeepSeaTracker:
    """DeepSea's tracker: a network plus tracking settings.

    Build with :meth:`from_pretrained` (the weights the ``deepsea`` package ships) or
    :meth:`from_folder` (a fine-tuned model folder from ``tgan-aug train-tracker --tracker
    deepsea``); then :meth:`track`.
    """

    def __init__(self, net: torch.nn.Module, config: DeepSeaTrackConfig | None = None, *, device: str | torch.device = "cpu",
                 meta: dict[str, Any] | None = None) -> None:
        self.device = torch.device(device)
        self.net = net.eval().to(self.device)
        self.config = config or DeepSeaTrackConfig()
        self.config.validate()
        self.meta = meta or {}

    @classmethod
    def from_pretrained(cls, config: DeepSeaTrackConfig | None = None, *, device: str | torch.device = "cpu") -> "DeepSeaTracker":
        """The shipped weights (``deepsea/trained_models/tracker.pth``)."""
        from tgan_aug.trackers.deepsea_net import load_deepsea_tracker

        net, meta = load_deepsea_tracker(None, device=device)
        return cls(net, config, device=device, meta=meta)

    @classmethod
    def from_folder(cls, folder: str | Path, config: DeepSeaTrackConfig | None = None, *, device: str | torch.device = "cpu") -> "DeepSeaTracker":
        """A fine-tuned model folder; its saved tracking settings apply unless ``config`` is given."""
        from tgan_aug.trackers.deepsea_net import load_deepsea_tracker

        net, meta = load_deepsea_tracker(folder, device=device)
        if config is None and meta.get("track"):
            config = DeepSeaTrackConfig.from_dict(meta["track"])
        return cls(net, config, device=device, meta=meta)

    @torch.inference_mode()
    def predict_masks(self, prev: torch.Tensor, curr: torch.Tensor) -> np.ndarray:
        """Network predictions for crop pairs: prev, curr (N, 1, S, S) -> (N, S, S) bool (class 1 wins)."""
        out = []
        for k in range(0, prev.shape[0], self.config.batch_size):
            logits = self.net(prev[k : k + self.config.batch_size].to(self.device), curr[k : k + self.config.batch_size].to(self.device))
            out.append((logits[:, 1] > logits[:, 0]).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.config.crop_size, self.config.crop_size), bool)

    def candidates(self, prev_image: np.ndarray, prev_labels: np.ndarray, curr_image: np.ndarray, curr_labels: np.ndarray,
                   prev_boxes: Mapping[int, CellBox]) -> dict[int, list[tuple[int, float]]]:
        """Candidates of every cell of frame t-1 in frame t (steps 1-2 of the module docstring).

        prev_image, curr_image: (Y, X) frames scaled to [0, 1]; prev_labels, curr_labels: (Y, X)
        label masks. Returns previous id -> ``[(current id, covered fraction)]`` best first.
        """
        cfg = self.config
        ids = sorted(prev_boxes)
        pairs = [cell_pair(prev_image, prev_labels, i, curr_image, curr_labels, prev_boxes[i], size=cfg.crop_size) for i in ids]
        crops = {i: p[2] for i, p in zip(ids, pairs)}
        active = [k for k, i in enumerate(ids) if crops[i].any()]  # nothing to find in an empty window
        out: dict[int, list[tuple[int, float]]] = {i: [] for i in ids}
        if not active:
            return out
        preds = self.predict_masks(torch.stack([pairs[k][0] for k in active]), torch.stack([pairs[k][1] for k in active]))
        for k, pred in zip(active, preds):
            out[ids[k]] = frame_candidates(pred, crops[ids[k]], min_size=cfg.min_size, match_threshold=cfg.match_threshold)
        return out

    def track(self, images: np.ndarray, labels: np.ndarray, *, progress: bool = False) -> TrackedMasks:
        """Link per-frame detections over a sequence.

        images: (T, Y, X) intensities, any numeric dtype (scaled to [0, 1] per frame).
        labels: (T, Y, X) integer label masks, 0 = background; ids are per frame (need not
            persist). Returns :class:`TrackedMasks` (new track ids; every detection is kept).
        """
        from tqdm import tqdm

        images, labels = validate_video(images, labels, name="deepsea tracking input", min_frames=2)
        cfg = self.config
        invert = resolve_invert(cfg.invert, images, labels)
        links: list[Link] = []
        prev_img = normalize_frame(images[0], invert=invert)
        prev_boxes = cell_boxes(labels[0], window_scale=cfg.window_scale, min_window=cfg.min_window)
        born_prev: dict[int, int] = {}
        for t in tqdm(range(1, labels.shape[0]), desc="tracking (deepsea)", disable=not progress, leave=False):
            curr_img = normalize_frame(images[t], invert=invert)
            curr_boxes = cell_boxes(labels[t], window_scale=cfg.window_scale, min_window=cfg.min_window)
            born_curr: dict[int, int] = {}
            if prev_boxes and curr_boxes:
                cands = self.candidates(prev_img, labels[t - 1], curr_img, labels[t], prev_boxes)
                if cfg.linking == "assignment":
                    chosen = link_frame_assignment(cands, prev_boxes, curr_boxes, born_at=born_prev, t=t,
                                                   min_cycle_frames=cfg.min_cycle_frames, distance_weight=cfg.distance_weight)
                else:
                    chosen = link_frame(cands, prev_boxes, curr_boxes, born_at=born_prev, t=t, min_cycle_frames=cfg.min_cycle_frames)
                for i, js in chosen.items():
                    for j in js:
                        links.append(((t - 1, i), (t, j)))
                        if len(js) > 1:
                            born_curr[j] = t
                        elif i in born_prev:
                            born_curr[j] = born_prev[i]
            prev_img, prev_boxes, born_prev = curr_img, curr_boxes, born_curr
        return links_to_tracked(labels, links)


def load_tracker(
    model: str | Path | None = None,
    *,
    crop_size: int | None = None,
    invert: bool | Literal["auto"] | None = None,
    device: str | torch.device = "cpu",
) -> DeepSeaTracker:
    """The shipped tracker (``model=None``) or a fine-tuned folder, optionally with another
    network input size ``crop_size`` (see :meth:`DeepSeaTrackConfig.with_crop_size`) and
    another ``invert`` setting (None: keep the model's)."""
    tracker = DeepSeaTracker.from_pretrained(device=device) if model is None else DeepSeaTracker.from_folder(model, device=device)
    if crop_size is not None:
        tracker.config = tracker.config.with_crop_size(crop_size)
    if invert is not None:
        tracker.config = DeepSeaTrackConfig.from_dict({**dataclasses.asdict(tracker.config), "invert": invert})
    return tracker


def track_deepsea(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    model: str | Path | DeepSeaTracker | None = None,
    config: DeepSeaTrackConfig | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> TrackedMasks:
    """Track per-frame detections with DeepSea's tracker.

    images: (T, Y, X) intensities; labels: (T, Y, X) integer label masks (ids per frame).
    model: None = the shipped pretrained weights, a fine-tuned model folder, or a loaded
        :class:`DeepSeaTracker`. config: tracking settings (default: the folder's, else preset
        ``deepsea``). Returns :class:`TrackedMasks`.
    """
    if isinstance(model, DeepSeaTracker):
        tracker = model if config is None else DeepSeaTracker(model.net, config, device=model.device, meta=model.meta)
    elif model is None:
        tracker = DeepSeaTracker.from_pretrained(config, device=device)
    else:
        tracker = DeepSeaTracker.from_folder(model, config, device=device)
    return tracker.track(images, labels, progress=progress)

