"""Tracker integration: a mixing Dataset for tracker training, btrack and trackastra runners,
CTC result folders and tracking metrics (py-ctcmetrics).

Submodules import their heavy dependencies (torch, btrack, trackastra, py-ctcmetrics) only
when used; import what you need from them, e.g.
``from tgan_aug.trackers.metrics import evaluate_ctc``.
"""
