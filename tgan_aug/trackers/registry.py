"""One interface for every tracker, and the registry of those tgan-aug ships.

Modelled on trackastra's ``Trackastra`` class: load a tracker (``Tracker.load(model)``, the
folder ``train`` wrote, or the tracker's own default), then ``tracker.track(images, masks)``.
What each one needs is declared, not found out by trial: whether it takes a ``model`` folder
(``model``: "none", "optional" or "required"), the keyword options of :meth:`Tracker.load` and of
:meth:`Tracker.train`, and whether it can be trained at all.

Example::

    from tgan_aug.trackers import TRACKERS
    result = TRACKERS["trackastra"].train([video], [], "runs/ta", ratio=0.0, preset="tiny", max_steps=50)
    tracked = TRACKERS["trackastra"].load(result.model_dir).track(images, masks)   # (T, Y, X) each

Importing this module imports no tracker library: each one is imported when used.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterator, Literal, Mapping, Sequence

import numpy as np

from masksynth.tracked import TrackedMasks
from tgan_aug.errors import UserError

__all__ = ["TRACKERS", "Tracker", "TrainResult", "get_tracker"]


@dataclass(frozen=True)
class TrainResult:
    """What training a tracker made.

    model_dir: the model folder (``Tracker.load(model_dir)`` reads it). steps: optimiser steps.
    seconds: training wall time. history: one row per logged point, always ``{"step": int,
    "loss": float}`` (trackastra logs each epoch's mean loss at its last step, DeepSea every step).
    summary: the trainer's own summary (as written into the model folder).
    """

    model_dir: Path
    steps: int
    seconds: float
    history: list[dict[str, float]]
    summary: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def final_loss(self) -> float:
        """The last logged loss (NaN when nothing was logged)."""
        return float(self.history[-1]["loss"]) if self.history else float("nan")


class Tracker:
    """A tracker: links per-frame detections into tracks.

    Subclasses set the class attributes and implement :meth:`load`, :meth:`track` and (when
    ``trainable``) :meth:`_fit`.
    """

    name: ClassVar[str]
    #: whether :meth:`load` takes a model folder: "none", "optional" (a default ships) or "required"
    model: ClassVar[Literal["none", "optional", "required"]] = "none"
    #: keyword options of :meth:`load` (how to track)
    track_options: ClassVar[tuple[str, ...]] = ()
    #: keyword options of :meth:`train` besides the common ones (how to train)
    train_options: ClassVar[tuple[str, ...]] = ()
    trainable: ClassVar[bool] = False

    @classmethod
    def load(cls, model: str | Path | None = None, *, device: str = "cpu", **options: Any) -> "Tracker":
        """A ready tracker: ``model`` is a model folder (see :attr:`model`); options: :attr:`track_options`."""
        cls._check_load(model, options)
        return cls._load(model, device=str(device), **options)

    @classmethod
    def _check_load(cls, model: str | Path | None, options: Mapping[str, Any]) -> None:
        if cls.model == "required" and model is None:
            raise UserError(f"tracker {cls.name} needs a model folder (train one with tgan-aug train-tracker --tracker {cls.name})")
        if cls.model == "none" and model is not None:
            raise UserError(f"tracker {cls.name} takes no model folder (got {model})")
        _check_options(cls.name, "tracking", options, cls.track_options)

    @classmethod
    def _load(cls, model: str | Path | None, *, device: str, **options: Any) -> "Tracker":
        raise NotImplementedError

    def track(self, images: np.ndarray, masks: np.ndarray, *, progress: bool = False) -> TrackedMasks:
        """Link detections. images, masks: (T, Y, X); masks are per-frame label masks (ids need not
        persist). Returns :class:`TrackedMasks` with every detection kept and new track ids."""
        raise NotImplementedError

    @classmethod
    def train(
        cls,
        real: Sequence[Any],
        synthetic: Sequence[Any],
        out_dir: str | Path,
        *,
        ratio: float,
        preset: str = "small",
        init: str | Path | None = None,
        device: str = "cpu",
        seed: int = 0,
        overwrite: bool = False,
        progress: bool = True,
        **options: Any,
    ) -> TrainResult:
        """Train on ``real`` mixed with ``synthetic`` (synthetic fraction ``ratio``) into the new model folder ``out_dir``.

        real, synthetic: sources (CTC folders, stores, ``IMAGES.tif:MASKS.tif``, in-memory
        :class:`~masksynth.tracked.TrackedVideo`). preset: the tracker's training preset; init: a model
        folder to fine-tune; options: :attr:`train_options` (None values are ignored: the preset's).
        """
        if not cls.trainable:
            raise UserError(f"tracker {cls.name} cannot be trained; trainable: {', '.join(n for n, t in TRACKERS.items() if t.trainable)}")
        options = {k: v for k, v in options.items() if v is not None}
        _check_options(cls.name, "training", options, cls.train_options)
        return cls._fit(list(real), list(synthetic), out_dir, ratio=ratio, preset=preset, init=init, device=str(device),
                        seed=seed, overwrite=overwrite, progress=progress, **options)

    @classmethod
    def _fit(cls, real: list, synthetic: list, out_dir, **kwargs: Any) -> TrainResult:
        raise NotImplementedError


def _check_options(name: str, what: str, options: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UserError(f"tracker {name} has no {what} option {', '.join(unknown)}; its options: {', '.join(allowed) or 'none'}")


class _Btrack(Tracker):
    """btrack (Bayesian tracker) with the shipped motion/hypothesis configuration."""

    name = "btrack"
    model = "none"
    track_options = ("config", "search_radius")

    def __init__(self, *, config: str | Path | None = None, search_radius: float | None = None):
        self.config, self.search_radius = config, search_radius

    @classmethod
    def _load(cls, model, *, device, config=None, search_radius=None):
        return cls(config=config, search_radius=search_radius)

    def track(self, images, masks, *, progress=False):
        from tgan_aug.trackers.btrack_runner import track_btrack

        return track_btrack(masks, images=images, config=self.config, search_radius=self.search_radius)


@contextlib.contextmanager
def _root_logger_kept() -> Iterator[None]:
    """Undo what importing trackastra does to the root logger (``logging.basicConfig(level=INFO)``)."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        root.setLevel(level)
        for h in root.handlers[:]:
            if h not in handlers:
                root.removeHandler(h)


def import_trackastra() -> None:
    """Import trackastra (once) without its import's side effect on the root logger.

    Call before any ``from trackastra... import``: the first import of ``trackastra.model`` runs
    ``logging.basicConfig(level=INFO)``, which would print trackastra's INFO messages (and any
    other library's) in every program using tgan-aug.
    """
    with _root_logger_kept():
        import trackastra.model  # noqa: F401


class _Trackastra(Tracker):
    """trackastra (a transformer over detections), trained with tgan-aug's plain-PyTorch loop; greedy or
    ILP linking (:func:`tgan_aug.trackers.trackastra_predict.link_predictions`)."""

    name = "trackastra"
    model = "required"
    track_options = ("mode", "threshold", "division_threshold", "max_distance", "ilp_costs")
    train_options = ("epochs", "max_steps", "window", "batch_size", "lr", "samples_per_epoch", "augment", "object_weighting",
                     "snapshot_steps")
    trainable = True

    def __init__(self, model, *, mode: Literal["greedy", "greedy_nodiv", "ilp"] = "greedy", threshold: float | None = None,
                 division_threshold: float | None = None, max_distance: float | None = None, ilp_costs: str | None = None):
        from tgan_aug.trackers.trackastra_predict import (DIVISION_THRESHOLD, ILP_COSTS, LINK_MODES, LINK_THRESHOLD,
                                                          MAX_DISTANCE)

        if mode not in LINK_MODES:
            raise UserError(f"mode {mode!r}: choose {', '.join(LINK_MODES)}")
        ilp_costs = "gt" if ilp_costs is None else ilp_costs
        if ilp_costs not in ILP_COSTS:
            raise UserError(f"ilp_costs {ilp_costs!r}: choose {', '.join(ILP_COSTS)}")
        if mode == "ilp":  # before any work: the solver is an optional extra
            from tgan_aug.errors import require

            require("motile", "ilp")
        threshold = LINK_THRESHOLD if threshold is None else float(threshold)
        division_threshold = DIVISION_THRESHOLD if division_threshold is None else float(division_threshold)
        max_distance = MAX_DISTANCE if max_distance is None else float(max_distance)
        for name, value, default in (("threshold", threshold, LINK_THRESHOLD),
                                     ("division_threshold", division_threshold, DIVISION_THRESHOLD)):
            if not 0 < value < 1:
                raise UserError(f"{name} {value}: a link probability in (0, 1), e.g. {default}")
        if max_distance <= 0:
            raise UserError(f"max_distance {max_distance}: pixels > 0, e.g. {MAX_DISTANCE:g}")
        self.model_, self.mode, self.max_distance, self.ilp_costs = model, mode, max_distance, ilp_costs
        self.threshold, self.division_threshold = threshold, division_threshold

    @classmethod
    def _load(cls, model, *, device, mode="greedy", threshold=None, division_threshold=None, max_distance=None,
              ilp_costs=None):
        from tgan_aug.errors import require

        require("trackastra", "trackers")
        folder = Path(model)
        missing = [n for n in ("config.yaml", "model.pt", "train_config.yaml") if not (folder / n).is_file()]
        if missing:
            raise UserError(f"--model {folder} is not a trackastra model folder (missing {', '.join(missing)}); train one with tgan-aug train-tracker")
        import_trackastra()
        from trackastra.model import Trackastra

        with _root_logger_kept():
            loaded = Trackastra.from_folder(folder, device=device)
        return cls(loaded, mode=mode, threshold=threshold, division_threshold=division_threshold, max_distance=max_distance,
                   ilp_costs=ilp_costs)

    def predict(self, images, masks, *, progress=False) -> tuple[dict[str, Any], np.ndarray]:
        """trackastra's association probabilities for the detections ``masks`` (T, Y, X), before linking.

        Returns ``(predictions, labels)``: trackastra's ``nodes``/``weights`` dict and the checked
        int32 labels; :meth:`link` turns them into tracks (with any linking settings, so one
        prediction serves several)."""
        from tgan_aug.validation import validate_video

        images, labels = validate_video(images, masks, name="trackastra tracking input", min_frames=2)
        labels = labels.astype(np.int32)
        with _root_logger_kept():
            # trackastra's own track() fixes the link threshold at 0.5: predict here, link in link()
            predictions = self.model_._predict(images.astype(np.float32), labels, progbar_class=_progress_bar(progress))
        return predictions, labels

    def link(self, predictions: dict[str, Any], labels: np.ndarray, *, mode: str | None = None,
             threshold: float | None = None, division_threshold: float | None = None,
             max_distance: float | None = None, ilp_costs: str | None = None) -> TrackedMasks:
        """Tracks from :meth:`predict`'s output; settings default to this tracker's."""
        from tgan_aug.trackers.ctc_results import links_to_tracked
        from tgan_aug.trackers.trackastra_predict import link_predictions

        def setting(value, own):
            return own if value is None else value

        with _root_logger_kept():
            graph = link_predictions(predictions, mode=setting(mode, self.mode), threshold=setting(threshold, self.threshold),
                                     division_threshold=setting(division_threshold, self.division_threshold),
                                     max_distance=setting(max_distance, self.max_distance),
                                     ilp_costs=setting(ilp_costs, self.ilp_costs))
        links = []
        for u, v in graph.edges:
            a, b = graph.nodes[u], graph.nodes[v]
            links.append(((int(a["time"]), int(a["label"])), (int(b["time"]), int(b["label"]))))
        return links_to_tracked(labels, links)

    def track(self, images, masks, *, progress=False):
        return self.link(*self.predict(images, masks, progress=progress))

    @classmethod
    def _fit(cls, real, synthetic, out_dir, *, ratio, preset, init, device, seed, overwrite, progress, snapshot_steps=(),
             **options):
        from tgan_aug.trackers.trackastra_train import TrackastraConfig, fit_trackastra

        cfg = TrackastraConfig.preset(preset, **options)
        out = fit_trackastra(real, synthetic, out_dir, ratio=ratio, config=cfg, init=init, device=device, seed=seed,
                             overwrite=overwrite, progress=progress, snapshot_steps=snapshot_steps)
        history = [{"step": int(h["step"]), "loss": float(h["loss"])} for h in out["history"]]
        return TrainResult(Path(out["model_dir"]), int(out["steps"]), float(out["seconds"]), history, out)


def _progress_bar(progress: bool):
    """tqdm, or a silent stand-in with its interface (trackastra calls ``progbar_class(iterable, ...)``)."""
    from functools import partial

    from tqdm import tqdm

    return tqdm if progress else partial(tqdm, disable=True)


class _DeepSea(Tracker):
    """DeepSea's tracker: the weights the ``deepsea`` package ships, or a fine-tuned folder."""

    name = "deepsea"
    model = "optional"
    track_options = ("crop_size", "invert")
    train_options = ("max_steps", "batch_size", "lr", "samples_per_epoch", "crop_size")
    trainable = True

    def __init__(self, tracker):
        self.tracker = tracker

    @classmethod
    def _load(cls, model, *, device, crop_size=None, invert=None):
        from tgan_aug.trackers.deepsea_track import load_tracker

        if invert not in (None, "auto", True, False):
            raise UserError(f"invert {invert!r}: choose 'auto', True or False")
        return cls(load_tracker(model, crop_size=crop_size, invert=invert, device=device))

    def track(self, images, masks, *, progress=False):
        return self.tracker.track(images, masks, progress=progress)

    @classmethod
    def _fit(cls, real, synthetic, out_dir, *, ratio, preset, init, device, seed, overwrite, progress, crop_size=None, **options):
        from tgan_aug.trackers.deepsea_train import DeepSeaTrainConfig, fit_deepsea

        cfg = DeepSeaTrainConfig.preset(preset, **options)
        out = fit_deepsea(real, synthetic, out_dir, ratio=ratio, config=cfg, init=init, crop_size=crop_size, device=device,
                          seed=seed, overwrite=overwrite, progress=progress)
        history = [{"step": k + 1, "loss": float(loss)} for k, loss in enumerate(out["history"])]
        return TrainResult(Path(out["model_dir"]), int(out["steps"]), float(out["seconds"]), history, out)


#: every tracker by name
TRACKERS: dict[str, type[Tracker]] = {t.name: t for t in (_Btrack, _Trackastra, _DeepSea)}


def get_tracker(name: str) -> type[Tracker]:
    """The registered tracker ``name``; a :class:`UserError` names the registered ones."""
    try:
        return TRACKERS[name]
    except KeyError:
        raise UserError(f"tracker {name!r} is not registered; choose {', '.join(TRACKERS)}") from None

