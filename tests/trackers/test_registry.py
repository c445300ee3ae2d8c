"""The one tracker interface: the registry, what each tracker declares, option checks, one history shape."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest

from tgan_aug.errors import UserError
from tgan_aug.trackers import TRACKERS, Tracker, TrainResult, get_tracker
from tgan_aug.trackers.detections import per_frame_ids

from .conftest import make_blobs


def test_registry_holds_btrack_trackastra_and_deepsea_without_importing_them():
    code = ("import sys; from tgan_aug.trackers import TRACKERS; "
            "assert {'btrack', 'trackastra', 'deepsea'} <= set(TRACKERS), list(TRACKERS); "
            "print(sorted(m for m in ('torch', 'btrack', 'trackastra', 'deepsea') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    for name, kind in TRACKERS.items():
        assert issubclass(kind, Tracker) and kind.name == name
        assert kind.model in ("none", "optional", "required")
    assert [n for n, t in TRACKERS.items() if t.trainable] == ["trackastra", "deepsea"]


def test_what_each_tracker_needs_is_checked_before_any_work():
    with pytest.raises(UserError, match="tracker trackastra needs a model folder"):
        TRACKERS["trackastra"].load(None)
    with pytest.raises(UserError, match="tracker btrack takes no model folder"):
        TRACKERS["btrack"].load("some/folder")
    with pytest.raises(UserError, match=r"tracker btrack has no tracking option crop_size; its options: config, search_radius"):
        TRACKERS["btrack"].load(crop_size=64)
    with pytest.raises(UserError, match="tracker deepsea has no training option epochs"):
        TRACKERS["deepsea"].train([], [], "unused", ratio=0.0, epochs=3)
    with pytest.raises(UserError, match="tracker btrack cannot be trained; trainable: trackastra, deepsea"):
        TRACKERS["btrack"].train([], [], "unused", ratio=0.0)
    with pytest.raises(UserError, match="'nope' is not registered; choose btrack, trackastra, deepsea"):
        get_tracker("nope")
    with pytest.raises(UserError, match="mode 'hungarian': choose greedy, greedy_nodiv, ilp"):
        TRACKERS["trackastra"](object(), mode="hungarian")


def test_btrack_through_the_interface_links_moving_cells():
    pytest.importorskip("btrack")
    from tgan_aug.trackers.metrics import evaluate_tracked

    video = make_blobs(n_cells=4, frames=8, height=64, width=64, seed=2)
    res = TRACKERS["btrack"].load(search_radius=20).track(video.images, per_frame_ids(video.labels, seed=1))
    assert evaluate_tracked(video.masks, res)["MOTA"] > 0.95


@pytest.mark.parametrize("tracker, options", [
    ("trackastra", {"preset": "tiny", "max_steps": 3, "samples_per_epoch": 4, "batch_size": 2}),
    ("deepsea", {"preset": "tiny", "max_steps": 2, "batch_size": 2, "crop_size": 32}),
])
def test_training_histories_have_one_shape(tracker, options, tmp_path):
    pytest.importorskip(tracker)
    import torch

    torch.set_num_threads(1)
    train = [make_blobs(n_cells=3, frames=6, height=48, width=48, seed=s) for s in range(2)]
    out = TRACKERS[tracker].train(train, [], tmp_path / "m", ratio=0.0, seed=0, progress=False, **options)
    assert isinstance(out, TrainResult) and out.model_dir == tmp_path / "m" and out.steps == options["max_steps"]
    assert out.history and all(set(h) == {"step", "loss"} for h in out.history)
    steps = [h["step"] for h in out.history]
    assert steps == sorted(steps) and steps[-1] == out.steps
    assert np.isfinite(out.final_loss) and out.final_loss == out.history[-1]["loss"]
    model = tmp_path / "m"
    tracked = TRACKERS[tracker].load(model, **({"crop_size": 32} if tracker == "deepsea" else {})).track(
        train[0].images, per_frame_ids(train[0].labels))
    assert tracked.labels.shape == train[0].labels.shape and (tracked.labels > 0).sum() == (train[0].labels > 0).sum()


def test_using_trackastra_leaves_the_root_logger_alone():
    pytest.importorskip("trackastra")
    code = ("import logging; from tgan_aug.trackers.trackastra_train import TrackastraConfig, build_model; "
            "build_model(TrackastraConfig.preset('tiny')); "
            "import trackastra.model; root = logging.getLogger(); print(root.level, len(root.handlers))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(logging.WARNING), "0"]  # trackastra's import would make it INFO with a handler
