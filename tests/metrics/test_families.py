"""Metric families run from one registry, and metric names are looked up there, loudly."""

from __future__ import annotations

import numpy as np
import pytest

from masksynth import TrackedMasks
from masksynth.tracked import TrackedVideo
from tgan_aug.metrics import EvalConfig, evaluate_videos, metric_spec
from tgan_aug.metrics import evaluate as ev
from tgan_aug.metrics.config import FAMILIES as CONFIG_FAMILIES
from tgan_aug.metrics.registry import FAMILIES, metric_specs


def test_every_registered_family_is_a_registry_family_in_order():
    assert tuple(ev.FAMILY_FUNCTIONS) == FAMILIES == CONFIG_FAMILIES == ("paired", "distribution", "temporal", "microscopy")
    assert {s.family for s in metric_specs().values()} == set(FAMILIES)
    with pytest.raises(ValueError, match="metric family 'speed' is not in"):
        ev.register_family("speed")


def test_metric_spec_names_an_unknown_metric_and_suggests_the_right_one():
    assert metric_spec("FD-DeepSea-clip8").family == "distribution"
    assert metric_spec("FD-DeepSea-clip4", clip_length=4).better == "lower"
    with pytest.raises(KeyError, match=r"metric 'FID-Deepsea' is not in tgan_aug.metrics.registry .*did you mean FID-DeepSea"):
        metric_spec("FID-Deepsea")
    with pytest.raises(KeyError, match="FD-DeepSea-clip8"):
        metric_spec("FD-DeepSea-clip8", clip_length=4)


def test_a_family_that_reports_an_unregistered_name_fails(video, monkeypatch):
    imgs, labels = video
    tv = TrackedVideo(TrackedMasks.from_labels(labels), imgs, intensity_range=(0.0, 255.0))

    def renamed(run):  # as if the microscopy family renamed a metric without the registry knowing
        run.metrics["histogram-W2"] = 0.0

    monkeypatch.setitem(ev.FAMILY_FUNCTIONS, "microscopy", renamed)
    with pytest.raises(RuntimeError, match=r"metric family microscopy reported \['histogram-W2'\]"):
        evaluate_videos(tv, tv, config=EvalConfig(families=("microscopy",)))
    monkeypatch.setitem(ev.FAMILY_FUNCTIONS, "microscopy", lambda run: run.metrics.__setitem__("SSIM", 1.0))
    with pytest.raises(RuntimeError, match="does not list under microscopy"):  # a name of another family
        evaluate_videos(tv, tv, config=EvalConfig(families=("microscopy",)))


def test_only_the_chosen_families_run(video):
    imgs, labels = video
    tv = TrackedVideo(TrackedMasks.from_labels(labels), imgs, intensity_range=(0.0, 255.0))
    res = evaluate_videos(tv, tv, config=EvalConfig(families=("microscopy",)))
    assert {metric_specs()[k].family for k in res.metrics} == {"microscopy"}
    assert res.metrics["histogram-W1"] == pytest.approx(0.0) and np.isfinite(res.metrics["mask-stats-L1"])
