"""Tracker integration: one tracker interface and its registry (:data:`TRACKERS`: btrack,
trackastra, DeepSea), a mixing Dataset for tracker training, CTC result folders and tracking
metrics (py-ctcmetrics).

Submodules import their heavy dependencies (torch, btrack, trackastra, py-ctcmetrics) only
when used; import what you need from them, e.g.
``from tgan_aug.trackers.metrics import evaluate_ctc``.
"""

from tgan_aug.trackers.registry import TRACKERS, Tracker, TrainResult, get_tracker

__all__ = ["TRACKERS", "Tracker", "TrainResult", "get_tracker"]
