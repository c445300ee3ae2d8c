"""The data of the limited-data experiments (``recipes/limited-data``, ``recipes/end-to-end``):
the shared datasets, the time split and quadrant folds, and synthetic data made only from a fold.

Per dataset and fold k: test = the last 30 % of the frames; training part = the first 70 %;
limited subset = quadrant k of the training part's cell region (:func:`tgan_aug.splits.fold_boxes`).
Synthetic masks come only from the fold (augmented copies + masksynth calibrated on it); they are
rendered by a tGAN trained only on the fold and by the painter fitted on it.

Example::

    seq, video = load_dataset(DATASETS["psc"], root=repo)
    split = split_fold(video, fold=0)
    masks = synthetic_masks(split.limited.masks, layout="flat", seed=0)
    videos, timings = render_synthetic(split.limited, masks, "work/psc/fold0", budget=budget, seed=0)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from masksynth.tracked import TrackedMasks, TrackedVideo
from tgan_aug.errors import UserError
from tgan_aug.splits import Box, cell_frames, fold_boxes, split_frames, sub_video

__all__ = ["DatasetSpec", "DATASETS", "TEST_FRACTION", "MIN_FOLD", "ROI_MARGIN", "SyntheticProfile", "load_dataset", "FoldSplit",
           "split_fold", "validation_split", "synthetic_masks", "render_synthetic", "RENDERERS"]


@dataclass(frozen=True)
class DatasetSpec:
    """A real dataset of the experiments.

    path: CTC dataset folder (a relative path is relative to the ``root`` given to :func:`load_dataset`).
    layout: masksynth layout for the calibrated synthetic masks ("flat" | "colony").
    deepsea_invert: bright cells on a dark background (the generator's DeepSea perceptual loss inverts).
    seg_scale: resize factor before the segmenter (bacteria 0.5, PSC 1: ``recipes/segmenter``).
    sister_junctions: the generator renders with ``--sister-junctions`` (daughters stay joined:
        bacteria-phc, where sisters' contacts are 0.23 of the way to background and others' 0.74).
    part_neighbours: the generator renders with ``--part-neighbours`` (cells that are not sisters keep
        two background pixels in what it sees: bacteria-phc, whose calibrated colonies let cells touch).
    """

    path: str
    layout: str
    deepsea_invert: bool
    seg_scale: float = 1.0
    sister_junctions: bool = False
    part_neighbours: bool = False


DATASETS: dict[str, DatasetSpec] = {
    "psc": DatasetSpec("../shared/data/PhC-C2DL-PSC", layout="flat", deepsea_invert=True, seg_scale=1.0),
    "bacteria": DatasetSpec("../shared/data/bacteria-phc", layout="colony", deepsea_invert=False, seg_scale=0.5,
                            sister_junctions=True, part_neighbours=True),
}

TEST_FRACTION = 0.3
#: the generator (preset small) trains on random 128x192 crops: folds are grown to at least this.
MIN_FOLD = (144, 208)
ROI_MARGIN = 16


@dataclass
class SyntheticProfile:
    """How a fold-based recipe makes its synthetic data (base of the recipes' profiles).

    gen_*: the fold's two-stage generator (preset, steps and minutes per stage, whichever ends
    first; 0 minutes = no time limit); n_aug augmented copies and n_synth masksynth sequences
    of synth_frames times the fold's frames (:func:`synthetic_masks`); render_frame_batch: frames per
    rendering batch.
    """

    gen_preset: str = "small"
    gen_lowres_steps: int = 400
    gen_lowres_minutes: float = 4.0
    gen_superres_steps: int = 200
    gen_superres_minutes: float = 2.0
    n_aug: int = 2  # augmented copies of the fold's masks
    n_synth: int = 1  # masksynth sequences calibrated on the fold
    morph_prob: float = 0.3
    synth_frames: float = 1.0  # masksynth sequences run this many times the fold's frames
    render_frame_batch: int = 8

    def mask_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`synthetic_masks` this profile sets."""
        return {"n_aug": self.n_aug, "n_synth": self.n_synth, "morph_prob": self.morph_prob, "synth_frames": self.synth_frames}

    def generator_budget(self) -> Any:
        """The :class:`tgan_aug.training.budgeted.StageBudget` of the fold's generator."""
        from tgan_aug.training.budgeted import StageBudget

        return StageBudget(self.gen_lowres_steps, self.gen_lowres_minutes, self.gen_superres_steps,
                           self.gen_superres_minutes, preset=self.gen_preset)


def load_dataset(spec: DatasetSpec, *, root: str | Path = ".", max_frames: int | None = None) -> tuple[str, TrackedVideo]:
    """The dataset's one sequence ``(name, TrackedVideo)``, optionally only its first ``max_frames``."""
    import masksynth
    from tgan_aug.io import load_tracked

    path = Path(spec.path)
    path = path if path.is_absolute() else (Path(root) / path).resolve()
    if not path.exists():
        raise UserError(f"dataset {path} not found; the shared data lives next to the repository (or pass another path)")
    [(seq, video)] = load_tracked(path)
    if max_frames is not None and max_frames < video.n_frames:
        video = TrackedVideo(masksynth.time_slice(video.masks, 0, max_frames), video.images[:max_frames],
                             intensity_range=video.intensity_range, provenance=video.provenance)
    return seq, video


@dataclass
class FoldSplit:
    """One fold: ``train_part`` (first 70 % of frames, whole field), ``test`` (the rest), ``limited``
    (quadrant ``fold % 4`` of the training part), its ``box`` (y0, y1, x0, x1) and ``n_train`` frames."""

    fold: int
    n_train: int
    box: Box
    train_part: TrackedVideo
    test: TrackedVideo
    limited: TrackedVideo

    def info(self, **extra: Any) -> dict[str, Any]:
        """JSON-able description: frames, box, cell-frames and tracks per part (+ ``extra``)."""
        n = self.n_train + self.test.n_frames
        return {**extra, "frames": n, "train_frames": [0, self.n_train], "test_frames": [self.n_train, n],
                "fold": self.fold, "fold_box_yyxx": list(self.box),
                "cell_frames": {"limited": cell_frames(self.limited.labels), "full": cell_frames(self.train_part.labels),
                                "test": cell_frames(self.test.labels)},
                "tracks": {"limited": len(self.limited.lineage), "full": len(self.train_part.lineage),
                           "test": len(self.test.lineage)}}


def split_fold(video: TrackedVideo, fold: int, *, test_fraction: float = TEST_FRACTION, margin: int = ROI_MARGIN,
               min_fold: tuple[int, int] = MIN_FOLD) -> FoldSplit:
    """Cut ``video`` into the training part, the test frames and fold ``fold``'s limited subset."""
    n_train = split_frames(video.n_frames, test_fraction=test_fraction)
    train_part = sub_video(video, t0=0, t1=n_train, what=f"training part (first {100 * (1 - test_fraction):.0f}% of frames)")
    test = sub_video(video, t0=n_train, what=f"test (last {100 * test_fraction:.0f}% of frames)")
    box = fold_boxes(train_part.labels, margin=margin, min_size=tuple(min_fold))[fold % 4]
    limited = sub_video(train_part, box=box, what=f"fold {fold} (quadrant {fold % 4})")
    return FoldSplit(fold, n_train, box, train_part, test, limited)


def validation_split(limited: TrackedVideo, *, fraction: float = TEST_FRACTION) -> tuple[TrackedVideo, TrackedVideo]:
    """``(fit, validation)``: a fold's first ``1 - fraction`` frames and the rest, the fold cut in time
    as :func:`split_fold` cuts the sequence (the validation frames are the fold's latest, densest ones;
    on bacteria-phc still 11-19 cells per frame against the test frames' ~140). A recipe chooses its
    settings on these, without looking at the test frames."""
    n_fit = split_frames(limited.n_frames, test_fraction=fraction)
    if n_fit < 2 or n_fit >= limited.n_frames:
        raise UserError(f"a fold of {limited.n_frames} frames is too short for a validation split "
                        f"({fraction:.0%} of its frames); use a longer sequence or no validation")
    return (sub_video(limited, t1=n_fit, what=f"fit part (first {n_fit} frames of the fold)"),
            sub_video(limited, t0=n_fit, what=f"validation (last {limited.n_frames - n_fit} frames of the fold)"))


#: name prefix of :func:`synthetic_masks`' masksynth sequences (``synth_00``, ...); augmented copies start with ``aug_``
COLONY_PREFIX = "synth_"


def synthetic_masks(fold_masks: TrackedMasks, *, layout: str, seed: int, n_aug: int = 2, n_synth: int = 1,
                    morph_prob: float = 0.3, synth_frames: float = 1.0) -> list[tuple[str, TrackedMasks]]:
    """Masks made only from the fold: ``n_aug`` augmented copies (rot90/flips, per-cell erosion or
    dilation with ``morph_prob``) and ``n_synth`` masksynth sequences calibrated on it, with
    ``synth_frames`` times as many frames (> 1: a colony grows on past the fold's last frame, into
    the denser packing of later frames).
    Cells: a fold whose cells divide starts with its first frame's cells (calibration's count; cells
    entering at its measured rate), so the colony grows as the fold's does, and with one founder when
    its first frame is empty (a quadrant the colony grows into: entering cells alone crossed the
    window without dividing, bacteria-phc fold 1: 5 cells and 1 division where the real fold has 27
    cells and 23 divisions; with a founder 13 cells and 12 divisions); a fold without divisions
    keeps its largest per-frame count. (Until session 20 every fold started with its largest count,
    so a dividing fold's colony grew tenfold, filled the window and, blocked, divided into pieces a
    fifth of a real cell's area.)

    Equivalent CLI: ``tgan-aug augment-masks FOLD --copies N --morph-prob 0.3`` and
    ``tgan-aug synth-masks --calibrate-from FOLD --layout L --cells C --sequences N``.
    """
    from masksynth import SynthConfig
    from masksynth.batch import augment_sequences, plan_synthesis, synthesize_many

    items: list[tuple[str, TrackedMasks]] = []
    for suffix, m in augment_sequences(fold_masks, copies=n_aug, seed=seed, rotate=True, flips=True, morph_prob=morph_prob):
        items.append((f"aug_{suffix}", m))
    if n_synth > 0:
        counts = [len(np.unique(f)) - 1 for f in fold_masks.labels]
        if synth_frames <= 0:
            raise UserError(f"synth_frames must be > 0, got {synth_frames}")
        overrides: dict[str, int] = {"frames": max(2, int(round(fold_masks.n_frames * synth_frames)))}
        if fold_masks.n_divisions == 0:
            overrides["cells"] = max(1, int(max(counts)))
        elif counts[0] == 0:
            overrides["cells"] = 1
        cfg, bank = plan_synthesis(SynthConfig.preset("mid", layout), calibrate_from=fold_masks, seed=seed,
                                   overrides=overrides)
        for k, m in synthesize_many(cfg, sequences=n_synth, seed=seed, shapes=bank):
            items.append((f"{COLONY_PREFIX}{k:02d}", m))
    return items


#: renderers of :func:`render_synthetic`
RENDERERS = ("tgan", "painter", "painter-nolineage")


def render_synthetic(limited: TrackedVideo, masks: Sequence[tuple[str, TrackedMasks]], workdir: str | Path, *,
                     renderers: Sequence[str] = ("tgan", "painter"), budget: Any = None, seed: int = 0,
                     device: str = "cpu", deepsea_invert: bool = False, frame_batch: int = 8,
                     provenance: dict[str, Any] | None = None, sister_junctions: bool = False,
                     part_neighbours: bool = False) -> tuple[dict[str, list[tuple[str, TrackedVideo]]], dict[str, Any]]:
    """Render the same synthetic ``masks`` with renderers fitted only on the fold ``limited``.

    ``"tgan"``: a two-stage generator trained on the fold with ``budget``
    (:class:`tgan_aug.training.budgeted.StageBudget`) under ``workdir/generator``, its carry-over and
    track smoothing fitted on the fold's last frames (:func:`tgan_aug.training.budgeted.fit_generator`),
    rendered into ``workdir/synthetic_tgan.zarr`` (every step resumable; ``sister_junctions`` and
    ``part_neighbours`` as ``tgan-aug render --sister-junctions --part-neighbours``). ``"painter"``: the non-learned painter
    fitted on the fold (seconds; sequence k painted with seed ``seed + k``); a daughter's brightness
    gain is tied to her mother's by the heritability measured on the fold. ``"painter-nolineage"``: the same painter with the masks' lineage
    dropped, so every track draws its own gain (the stronger painter on bacteria-phc's realism
    figures: a colony grown from few founders otherwise comes out in a few, partly extreme, gains).
    Returns ``({renderer: [(name, TrackedVideo)]}, timings in seconds + generator steps reached + the
    fitted ``carry_over`` / ``track_smoothing``, or ``temporal_fit``: why none was fitted)``.
    """
    from tgan_aug.baselines.painter import fit_painter, paint

    unknown = set(renderers) - set(RENDERERS)
    if unknown:
        raise UserError(f"renderers {sorted(unknown)} unknown; use any of {', '.join(RENDERERS)}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[tuple[str, TrackedVideo]]] = {}
    timings: dict[str, Any] = {}
    if "tgan" in renderers:
        from tgan_aug.experiment import mark_step_done, step_done
        from tgan_aug.io import write_store
        from tgan_aug.render.video import render_items
        from tgan_aug.training.budgeted import fit_generator, stage_steps, train_two_stage

        if budget is None:
            raise UserError("render_synthetic: the 'tgan' renderer needs a generator budget (StageBudget)")
        fold_store = workdir / "fold.zarr"
        if not step_done(workdir / "fold.zarr.done"):
            write_store(fold_store, limited, name="fold", overwrite=True)
            mark_step_done(workdir / "fold.zarr.done")
        t0 = time.time()
        ckpt = train_two_stage(fold_store, workdir / "generator", budget=budget, seed=seed, device=device,
                               deepsea_invert=deepsea_invert)
        timings["generator_s"] = time.time() - t0
        timings.update(stage_steps(ckpt))
        t0 = time.time()
        ckpt, fitted = fit_generator(ckpt, limited, seed=seed, device=device)
        timings.update(fitted, temporal_fit_s=time.time() - t0)
        t0 = time.time()
        out["tgan"] = render_items(ckpt, list(masks), workdir / "synthetic_tgan.zarr", seed=seed, device=device,
                                   frame_batch=frame_batch, provenance=provenance or {}, sister_junctions=sister_junctions,
                                   part_neighbours=part_neighbours)
        timings["render_s"] = time.time() - t0
    painters = [r for r in RENDERERS if r.startswith("painter") and r in renderers]
    if painters:
        t0 = time.time()
        params = fit_painter([limited])
        timings["painter_fit_s"] = time.time() - t0
    for painter in painters:
        t0 = time.time()
        out[painter] = [(name, paint(m, params, seed=seed + k, lineage=painter == "painter")) for k, (name, m) in enumerate(masks)]
        timings[f"{painter.replace('-', '_')}_s"] = time.time() - t0
    return out, timings
