"""Pretrained DeepSea on the real shared data, ground-truth masks as detections (ids shuffled per frame).

Slow (each < 60 s on one CPU core) and needs ``../shared/data`` or ``TGAN_AUG_SHARED_DATA``
(the ``shared_data`` fixture skips, saying why, when it is absent). Each test prints its scores
(``pytest -s``); whole-sequence numbers are in the README (``tgan-aug track`` + ``eval-tracking``).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from masksynth.tracked import TrackedMasks, TrackedVideo
from tgan_aug.trackers.dataset import window_lineage
from tgan_aug.trackers.deepsea_track import DeepSeaTrackConfig, DeepSeaTracker
from tgan_aug.trackers.metrics import evaluate_tracked

from tgan_aug.trackers.detections import per_frame_ids

pytestmark = [
    pytest.mark.slow,
    pytest.mark.shared_data,
    pytest.mark.skipif(
        importlib.util.find_spec("deepsea") is None,
        reason="the optional 'deepsea' package (it ships the tracker weights) is not installed: "
        "pip install -c constraints.txt -e '.[trackers]'",
    ),
]


def _frames(shared_data, name: str, a: int, b: int) -> TrackedVideo:
    """Frames [a, b) of the one sequence of ``shared_data/name`` with the lineage cut to them."""
    from tgan_aug.io import load_tracked

    (_, video), = load_tracked(shared_data / name)
    masks = TrackedMasks(np.ascontiguousarray(video.labels[a:b]), window_lineage(video.lineage, a, b))
    return TrackedVideo(masks, np.ascontiguousarray(video.images[a:b]), intensity_range=video.intensity_range)


def _score(video: TrackedVideo, tracker: DeepSeaTracker, what: str) -> dict:
    res = tracker.track(video.images, per_frame_ids(video.labels))
    r = evaluate_tracked(video.masks, res)
    print(f"\n{what}: MOTA {r['MOTA']:.3f} IDF1 {r['IDF1']:.3f} HOTA {r['HOTA']:.3f} TRA {r['TRA']:.3f}")
    return r


def test_pretrained_deepsea_on_real_psc(shared_data):
    """PhC-C2DL-PSC/02 frames 0-7 (~70 bright cells a frame), 64 px crops (preset ``fast``, ~35 s):
    measured MOTA 1.000, IDF1 0.998, HOTA 0.998. Whole sequence (128 px and 64 px) in the README."""
    torch.set_num_threads(1)
    video = _frames(shared_data, "PhC-C2DL-PSC", 0, 8)
    r = _score(video, DeepSeaTracker.from_pretrained(DeepSeaTrackConfig.preset("fast")), "PSC 0-7, 64 px")
    assert r["Valid"] == 1 and r["MOTA"] > 0.95 and r["IDF1"] > 0.9, r


def test_pretrained_deepsea_on_real_bacteria(shared_data):
    """bacteria-phc/01 frames 0-16 (2 -> 8 dark cells, several divisions), published 128 px crops,
    ``invert="auto"`` (inverts: the cells are darker than the background), ~30 s: measured MOTA
    0.955, IDF1 0.830, HOTA 0.876. Not inverted the same frames give MOTA 0.159: dark cells vanish
    in crops whose background is zeroed."""
    torch.set_num_threads(1)
    video = _frames(shared_data, "bacteria-phc", 0, 17)
    r = _score(video, DeepSeaTracker.from_pretrained(), "bacteria 0-16, 128 px")
    assert r["Valid"] == 1 and r["MOTA"] > 0.9 and r["IDF1"] > 0.75, r


def test_finetuned_deepsea_on_unseen_psc_frames(shared_data, tmp_path):
    """Fine-tune 10 steps of 4 crops (64 px) on PSC frames 0-24 through the mixing Dataset, then
    track frames 25-31 with the saved model folder (~40 s): measured MOTA 0.998, IDF1 0.996, crop
    loss 0.050 -> 0.037 (the shipped weights: MOTA 0.998); fine-tuning must not break them."""
    from tgan_aug.trackers.deepsea_train import DeepSeaTrainConfig, finetune_and_track_deepsea

    torch.set_num_threads(1)
    train, test = _frames(shared_data, "PhC-C2DL-PSC", 0, 25), _frames(shared_data, "PhC-C2DL-PSC", 25, 32)
    out = finetune_and_track_deepsea(
        [("psc-train", train)], [], [(test.images, per_frame_ids(test.labels))], tmp_path / "model", ratio=0,
        config=DeepSeaTrainConfig.preset("tiny", max_steps=10, batch_size=4),
        track=DeepSeaTrackConfig.preset("fast"),
    )
    history = out["train"]["history"]
    assert len(history) == 10 and np.isfinite(history).all()
    assert (tmp_path / "model" / "model.pt").is_file()
    r = evaluate_tracked(test.masks, out["tracked"][0])
    print(f"\nPSC 25-31 after fine-tuning: MOTA {r['MOTA']:.3f} IDF1 {r['IDF1']:.3f}, loss {history[0]:.3f} -> {history[-1]:.3f}")
    assert r["Valid"] == 1 and r["MOTA"] > 0.95, r
