"""The mixing Dataset: ratios exact in expectation, reproducible with a seed, correct windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from masksynth.tracked import TrackedVideo, validate_tracked
from tgan_aug.errors import UserError
from tgan_aug.trackers.dataset import (
    MixedTrackingDataset,
    RatioMixture,
    collate_windows,
    window_lineage,
)

from .conftest import make_blobs


class _Const(torch.utils.data.Dataset):
    def __init__(self, tag: str, n: int):
        self.tag, self.n = tag, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return (self.tag, i)


@pytest.mark.parametrize("ratio", [0.0, 0.25, 0.3, 0.5, 1.0])
def test_synthetic_fraction_is_exact_in_expectation(ratio):
    mix = RatioMixture([_Const("r", 7), _Const("r2", 3)], [_Const("s", 5)], ratio=ratio, samples_per_epoch=33, seed=1)
    fractions = []
    for epoch in range(200):
        mix.set_epoch(epoch)
        n_syn = sum(mix[i][0] == "s" for i in range(len(mix)))
        assert abs(n_syn - ratio * 33) < 1  # each epoch: floor or ceil of ratio * n
        fractions.append(n_syn / 33)
    assert np.mean(fractions) == pytest.approx(ratio, abs=0.006)


def test_datasets_within_a_pool_are_drawn_by_length():
    mix = RatioMixture([_Const("a", 30), _Const("b", 10)], [], ratio=0.0, samples_per_epoch=4000, seed=0)
    tags = [mix[i][0] for i in range(len(mix))]
    assert tags.count("a") / len(tags) == pytest.approx(0.75, abs=0.03)


class _Counted(_Const):
    """Items that say how many objects they hold (as trackastra's CTCData does)."""

    def __init__(self, tag: str, counts: list[int]):
        super().__init__(tag, len(counts))
        self.n_objects = tuple(counts)


def test_object_weighting_draws_crowded_windows_in_proportion_to_their_objects():
    counts = [2, 2, 4, 8, 200]  # a growing colony: one crowded window among sparse ones
    uniform = RatioMixture([_Counted("a", counts)], [], ratio=0.0, samples_per_epoch=4000, seed=0)
    weighted = RatioMixture([_Counted("a", counts)], [], ratio=0.0, samples_per_epoch=4000, seed=0, object_weighting=1.0)
    share = {name: [m[i][1] for i in range(len(m))].count(4) / len(m) for name, m in (("u", uniform), ("w", weighted))}
    assert share["u"] == pytest.approx(0.2, abs=0.03)
    assert share["w"] == pytest.approx(200 / 216, abs=0.02)
    # across datasets of a pool too: the pool's objects, not its item counts, decide
    two = RatioMixture([_Counted("sparse", [1] * 30), _Counted("dense", [30])], [], ratio=0.0, samples_per_epoch=2000,
                       seed=1, object_weighting=1.0)
    assert [two[i][0] for i in range(len(two))].count("dense") / len(two) == pytest.approx(0.5, abs=0.04)
    with pytest.raises(UserError, match="object_weighting must be >= 0"):
        RatioMixture([_Const("r", 2)], [], ratio=0.0, object_weighting=-1)


def test_plan_is_reproducible_and_depends_on_seed_and_epoch():
    def plan(seed, epoch):
        mix = RatioMixture([_Const("r", 20)], [_Const("s", 20)], ratio=0.5, seed=seed)
        mix.set_epoch(epoch)
        return mix.plan

    assert plan(3, 0) == plan(3, 0)
    assert plan(3, 0) != plan(4, 0)
    assert plan(3, 0) != plan(3, 1)


def test_ratio_and_pool_errors():
    with pytest.raises(UserError, match="--ratio must be in"):
        RatioMixture([_Const("r", 2)], [], ratio=1.5)
    with pytest.raises(UserError, match="no --synthetic data"):
        RatioMixture([_Const("r", 2)], [], ratio=0.5)
    with pytest.raises(UserError, match="no --real data"):
        RatioMixture([], [_Const("s", 2)], ratio=0.5)


def test_window_lineage_clips_and_drops_parents():
    lin = np.array([[1, 0, 3, 0], [2, 4, 9, 1], [3, 4, 6, 1], [4, 8, 9, 0]])
    out = window_lineage(lin, 3, 7)
    assert out.tolist() == [[1, 0, 0, 0], [2, 1, 3, 1], [3, 1, 3, 1]]
    out = window_lineage(lin, 5, 9)
    assert out.tolist() == [[2, 0, 3, 0], [3, 0, 1, 0], [4, 3, 3, 0]]


def test_mixed_tracking_dataset_windows(tmp_path):
    real = make_blobs(n_cells=4, frames=10, height=64, width=64, divide=True, seed=0)
    syn = make_blobs(n_cells=3, frames=8, height=64, width=80, seed=1)
    ds = MixedTrackingDataset(real=[("real0", real)], synthetic=[("syn0", syn)], ratio=0.5, window=4, crop=(48, 48), seed=2)
    assert len(ds) == (10 - 3) + (8 - 3)
    loader = DataLoader(ds, batch_size=3, collate_fn=collate_windows)
    batch = next(iter(loader))
    assert batch["images"].shape == (3, 4, 48, 48) and batch["images"].dtype == torch.float32
    assert batch["labels"].shape == (3, 4, 48, 48) and batch["labels"].dtype == torch.int32
    for i in range(len(ds)):
        item = ds[i]
        assert item["source"] in ("real", "synthetic")
        labels = item["labels"].numpy().astype(np.uint16)
        validate_tracked(labels, item["lineage"].numpy())  # window + lineage obey the CTC rules
        assert 0.0 <= float(item["images"].min()) and float(item["images"].max()) <= 1.0
    again = MixedTrackingDataset(real=[("real0", real)], synthetic=[("syn0", syn)], ratio=0.5, window=4, crop=(48, 48), seed=2)
    assert all(torch.equal(ds[i]["labels"], again[i]["labels"]) for i in range(len(ds)))


def test_mixed_tracking_dataset_input_errors():
    video = make_blobs(n_cells=2, frames=3, height=32, width=32)
    with pytest.raises(UserError, match="fewer than window"):
        MixedTrackingDataset(real=[video], ratio=0.0, window=5)
    with pytest.raises(UserError, match="larger than"):
        MixedTrackingDataset(real=[video], ratio=0.0, window=2, crop=(64, 64))
    with pytest.raises(UserError, match="without images"):
        MixedTrackingDataset(real=[video.masks], ratio=0.0, window=2)
    assert isinstance(video, TrackedVideo)
