"""From images to instance masks: the network's foreground/edge probabilities, then labelling.

Per frame: min-max scale to [0, 1] (inverted when the cells are bright), resize by the model's
``scale``, run the network in overlapping tiles, resize the probabilities back to the frame's
size, then (:func:`instances_from_probabilities`) threshold the foreground, label its connected
components (the edge head keeps touching cells apart), optionally split merged blobs by a
distance-transform watershed, drop small objects and grow the objects back over the edge band.

Polarity without masks (``invert="auto"`` on new data): the network itself decides. DeepSea's
foreground should be darker than its surroundings in the (possibly inverted) input, since it
learned dark phase-contrast cells; :func:`choose_polarity` keeps the polarity under which the
predicted foreground is darker by the larger margin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi

from tgan_aug.errors import UserError
from tgan_aug.fitting import new_output_dir
from tgan_aug.segment.config import PostprocessConfig, SegmenterConfig, check_invert
from tgan_aug.trackers.deepsea_crops import normalize_frame

__all__ = ["Segmenter", "instances_from_probabilities", "choose_polarity", "segment_path", "write_segmentation"]


def _tiles(n: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """1-D tiling of length n: (read start, read stop, keep start, keep stop) in input pixels."""
    if n <= tile:
        return [(0, n, 0, n)]
    step = tile - 2 * overlap
    out, keep0 = [], 0
    while keep0 < n:
        keep1 = min(keep0 + step, n)
        r0 = max(0, min(keep0 - overlap, n - tile))
        out.append((r0, r0 + tile, keep0, keep1))
        keep0 = keep1
    return out


def instances_from_probabilities(foreground: np.ndarray, edge: np.ndarray, *, config: PostprocessConfig,
                                 expand: int = 1) -> np.ndarray:
    """Instance masks from per-pixel probabilities.

    foreground, edge: (Y, X) float probabilities of "cell (not touching edge)" and "touching edge".
    expand: pixels to grow each object into the foreground-or-edge area (``config.expand`` wins
    when set). Returns (Y, X) uint16, objects numbered 1..n in raster order.
    """
    from skimage.segmentation import expand_labels, relabel_sequential, watershed

    mask = foreground > config.threshold
    labels, _ = ndi.label(mask)
    if config.split == "watershed" and labels.max() > 0:
        from skimage.morphology import h_maxima

        dist = ndi.distance_transform_edt(mask)
        markers, _ = ndi.label(h_maxima(dist, config.h))  # a rod's flat ridge is one marker (DeepSea: imextendedmin, h=2)
        labels = watershed(-dist, markers, mask=mask)
    if config.min_size > 1 and labels.max() > 0:
        small = np.bincount(labels.ravel()) < config.min_size
        small[0] = False
        labels = np.where(small[labels], 0, labels)
    grow = expand if config.expand is None else config.expand
    if grow > 0 and labels.max() > 0:
        grown = expand_labels(labels, distance=grow)
        labels = np.where((foreground + edge) > config.threshold, grown, labels)
    labels, _, _ = relabel_sequential(labels)
    if labels.max() > np.iinfo(np.uint16).max:
        raise UserError(f"a frame holds {labels.max()} objects, more than uint16 masks hold; raise --min-size")
    return labels.astype(np.uint16)


class Segmenter:
    """A segmentation network with its settings; :meth:`segment` turns (T, Y, X) images into masks.

    Build with :meth:`from_pretrained` (DeepSea's shipped weights) or :meth:`from_folder` (a
    model from ``tgan-aug train-segmenter``).
    invert: True/False, or ``"auto"`` (decided per sequence by :func:`choose_polarity`).
    """

    def __init__(self, net: torch.nn.Module, *, scale: float = 1.0, edge_width: int = 1,
                 postprocess: PostprocessConfig | None = None, invert: bool | Literal["auto"] = "auto",
                 device: str | torch.device = "cpu", meta: dict[str, Any] | None = None) -> None:
        check_invert(invert, "--invert")
        self.device = torch.device(device)
        self.net = net.eval().to(self.device)
        self.scale = float(scale)
        self.edge_width = int(edge_width)
        self.postprocess = postprocess or PostprocessConfig()
        self.invert = invert
        self.meta = meta or {}

    @classmethod
    def from_pretrained(cls, *, scale: float = 1.0, postprocess: PostprocessConfig | None = None,
                        invert: bool | Literal["auto"] = "auto", device: str | torch.device = "cpu") -> "Segmenter":
        """DeepSea's network with the weights the ``deepsea`` package ships."""
        from tgan_aug.segment.nets import build_network

        net = build_network(SegmenterConfig(arch="deepsea"))
        return cls(net, scale=scale, postprocess=postprocess, invert=invert, device=device,
                   meta={"source": "deepsea/trained_models/segmentation.pth"})

    @classmethod
    def from_folder(cls, folder: str | Path, *, postprocess: PostprocessConfig | None = None,
                    invert: bool | Literal["auto"] | None = None, device: str | torch.device = "cpu") -> "Segmenter":
        """A trained model folder; its post-processing settings and training polarity apply unless given."""
        from tgan_aug.segment.nets import load_segmenter_folder

        net, meta = load_segmenter_folder(folder)
        cfg = SegmenterConfig.from_dict(meta["config"])
        post = postprocess or PostprocessConfig.from_dict(meta.get("postprocess", {}))
        return cls(net, scale=cfg.scale, edge_width=cfg.edge_width, postprocess=post,
                   invert=meta.get("invert", False) if invert is None else invert, device=device,
                   meta={**meta, "source": str(folder)})

    @torch.inference_mode()
    def probabilities(self, image: np.ndarray, *, invert: bool) -> tuple[np.ndarray, np.ndarray]:
        """Foreground and edge probabilities of one frame (Y, X), any numeric dtype -> two (Y, X) float32."""
        h, w = image.shape
        x = torch.from_numpy(normalize_frame(image, invert=invert))[None, None]
        sh, sw = max(int(round(h * self.scale)), 4), max(int(round(w * self.scale)), 4)
        if (sh, sw) != (h, w):
            x = F.interpolate(x, size=(sh, sw), mode="bilinear", align_corners=False, antialias=True)
        x = (x - 0.5) / 0.5
        out = torch.zeros((2, sh, sw))
        cfg = self.postprocess
        for y0, y1, ky0, ky1 in _tiles(sh, cfg.tile, cfg.overlap):
            for x0, x1, kx0, kx1 in _tiles(sw, cfg.tile, cfg.overlap):
                patch = x[..., y0:y1, x0:x1]
                ph, pw = (-patch.shape[-2]) % 4, (-patch.shape[-1]) % 4
                patch = F.pad(patch, (0, pw, 0, ph), mode="reflect" if min(patch.shape[-2:]) > max(ph, pw) else "replicate")
                fg_logits, edge_logits = self.net(patch.to(self.device))
                probs = torch.stack([F.softmax(fg_logits, 1)[0, 1], F.softmax(edge_logits, 1)[0, 1]]).cpu()
                out[:, ky0:ky1, kx0:kx1] = probs[:, ky0 - y0 : ky1 - y0, kx0 - x0 : kx1 - x0]
        if (sh, sw) != (h, w):
            out = F.interpolate(out[None], size=(h, w), mode="bilinear", align_corners=False)[0]
        return out[0].numpy(), out[1].numpy()

    def segment_frame(self, image: np.ndarray, *, invert: bool) -> np.ndarray:
        """Instance masks of one frame: (Y, X) image -> (Y, X) uint16, ids 1..n."""
        fg, edge = self.probabilities(image, invert=invert)
        return instances_from_probabilities(fg, edge, config=self.postprocess,
                                            expand=max(1, int(round(self.edge_width / self.scale))))

    def resolve_invert(self, images: np.ndarray) -> bool:
        """This segmenter's polarity for a sequence (T, Y, X): its setting, or :func:`choose_polarity`."""
        return choose_polarity(self, images) if self.invert == "auto" else bool(self.invert)

    def segment(self, images: np.ndarray, *, invert: bool | None = None, progress: bool = False) -> np.ndarray:
        """Per-frame instance masks of a sequence.

        images: (T, Y, X) intensities, any numeric dtype (each frame min-max scaled).
        invert: this call's polarity; None = :meth:`resolve_invert`.
        Returns (T, Y, X) uint16; ids are per frame (1..n_t), not linked over time.
        """
        from tqdm import tqdm

        images = np.asarray(images)
        if images.ndim != 3 or not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
            raise UserError(f"images must be a (T, Y, X) integer or float array, got shape {images.shape} dtype {images.dtype}")
        invert = self.resolve_invert(images) if invert is None else bool(invert)
        out = np.zeros(images.shape, np.uint16)
        for t in tqdm(range(images.shape[0]), desc="segmenting", disable=not progress, leave=False):
            out[t] = self.segment_frame(images[t], invert=invert)
        return out


def choose_polarity(segmenter: Segmenter, images: np.ndarray, *, max_frames: int = 1) -> bool:
    """Invert or not, decided by the network on ``max_frames`` evenly spaced inner frames (1: the
    middle one, where a growing colony already has cells).

    For each polarity the input's mean intensity outside the predicted foreground minus inside
    it is measured (the network learned cells darker than their surroundings); the polarity with
    the larger contrast wins. Returns True for "invert". Measured: bacteria-phc contrast 0.17 not
    inverted vs 0.03 inverted (dark cells), PhC-C2DL-PSC -0.27 vs 0.28 (bright cells).
    """
    n = images.shape[0]
    idx = np.unique(np.linspace(0, n - 1, min(max_frames, n) + 2)[1:-1].round().astype(int))
    contrast = {}
    for invert in (False, True):
        total = 0.0
        for t in idx.tolist():
            fg, _ = segmenter.probabilities(images[t], invert=invert)
            x = normalize_frame(images[t], invert=invert)
            mask = fg > segmenter.postprocess.threshold
            if mask.any() and (~mask).any():
                total += float(x[~mask].mean() - x[mask].mean())
        contrast[invert] = total
    return contrast[True] > contrast[False]


def write_segmentation(res_dir: str | Path, labels: np.ndarray, *, overwrite: bool = False) -> Path:
    """Write per-frame instance masks as a CTC result folder that trackers and py-ctcmetrics read.

    labels: (T, Y, X) integer masks, ids per frame. Every object gets its own id (frames
    renumbered one after another) and a one-frame track in ``res_track.txt`` (``id t t 0``):
    a valid CTC result whose DET/SEG scores are the segmentation's, and the detections that
    ``tgan-aug track --detections`` links. Returns the folder.
    """
    from skimage.segmentation import relabel_sequential

    from masksynth.tracked import TrackedMasks
    from tgan_aug.trackers.ctc_results import write_ctc_results

    labels = np.asarray(labels)
    out = np.zeros(labels.shape, np.int64)
    rows, offset = [], 0
    for t, frame in enumerate(labels):
        relabelled, _, _ = relabel_sequential(np.asarray(frame, np.int64))
        n = int(relabelled.max())
        out[t] = np.where(relabelled > 0, relabelled + offset, 0)
        rows += [(offset + k, t, t, 0) for k in range(1, n + 1)]
        offset += n
    if offset > np.iinfo(np.uint16).max:
        raise UserError(f"{res_dir}: {offset} objects over {labels.shape[0]} frames do not fit CTC's uint16 ids; "
                        "segment fewer frames at a time (--sequence, or split the movie)")
    tracked = TrackedMasks(out.astype(np.uint16), np.asarray(rows, np.int64).reshape(-1, 4), validate=False)
    return write_ctc_results(res_dir, tracked, overwrite=overwrite)


def segment_path(
    data: str | Path,
    out_dir: str | Path,
    *,
    model: str | Path | None = None,
    scale: float | None = None,
    invert: bool | Literal["auto"] | None = None,
    postprocess: dict[str, Any] | None = None,
    sequence: str | None = None,
    gt: str | Path | None = None,
    device: str | torch.device = "cpu",
    overwrite: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Segment every image sequence of ``data`` and write CTC result folders.

    data: see :func:`tgan_aug.io.images.read_image_sequences`. One sequence: ``out_dir`` gets
    ``maskTTT.tif`` + ``res_track.txt``; several: ``out_dir/<name>_RES/`` each.
    model: a segmenter folder, or None for DeepSea's shipped weights (then ``scale`` defaults to 1).
    scale: only for the shipped weights (a trained model keeps its training scale).
    invert: None = the model's setting ("auto" for the shipped weights); postprocess: fields of
    :class:`PostprocessConfig` to change. gt: reference masks (a CTC folder or store with masks
    for the same sequences) to score the result (:func:`tgan_aug.segment.evaluate.segmentation_scores`).
    Returns ``[{"name", "path", "invert", "scores" (when gt)}]``.
    """
    from tgan_aug.io.images import read_image_sequences
    from tgan_aug.segment.evaluate import segmentation_scores

    out_dir = new_output_dir(out_dir, overwrite)
    if model is None:
        post = PostprocessConfig.from_dict(postprocess or {})
        seg = Segmenter.from_pretrained(scale=1.0 if scale is None else scale, postprocess=post,
                                        invert="auto" if invert is None else invert, device=device)
    else:
        if scale is not None:
            raise UserError("--scale is for DeepSea's shipped weights; a trained --model segments at its training scale")
        seg = Segmenter.from_folder(model, invert=invert, device=device)
        if postprocess:
            seg.postprocess = PostprocessConfig.from_dict({**seg.postprocess.to_dict(), **postprocess})
    seqs = read_image_sequences(data, sequence=sequence)
    refs = _reference_masks(gt, [n for n, _ in seqs]) if gt is not None else {}
    results = []
    for name, images in seqs:
        invert_used = seg.resolve_invert(images)
        labels = seg.segment(images, invert=invert_used, progress=progress)
        target = out_dir if len(seqs) == 1 else out_dir / f"{name}_RES"
        item: dict[str, Any] = {"name": name, "path": write_segmentation(target, labels, overwrite=overwrite), "invert": invert_used}
        if name in refs:
            if refs[name].shape != labels.shape:
                raise UserError(f"--gt {gt} sequence {name} is {refs[name].shape}, the images {labels.shape}; give the masks of the same frames")
            item["scores"] = segmentation_scores(refs[name], labels)
        results.append(item)
    return results


def _reference_masks(gt: str | Path, names: list[str]) -> dict[str, np.ndarray]:
    """Reference masks for the sequences ``names``: a CTC folder, a store, or a folder of maskTTT.tif (one sequence)."""
    from tgan_aug.io import load_masks
    from tgan_aug.io.images import read_mask_folder

    if Path(gt).is_dir() and any(Path(gt).glob("mask*.tif")):
        if len(names) != 1:
            raise UserError(f"--gt {gt} is one folder of masks but the data holds sequences {', '.join(names)}; use --sequence")
        return {names[0]: read_mask_folder(gt)}
    found = {name: m.labels for name, m in load_masks(gt)}
    if len(found) == 1 and len(names) == 1:
        return {names[0]: next(iter(found.values()))}
    missing = [n for n in names if n not in found]
    if missing:
        raise UserError(f"--gt {gt} has no masks for sequence(s) {', '.join(missing)}; it holds {', '.join(found) or 'none'}")
    return {n: found[n] for n in names}
