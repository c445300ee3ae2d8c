"""trackastra: the association loss against a loop reference, training on a tiny synthetic set
(loss goes down, tracking that set reaches a high MOTA), the model folder in trackastra's format."""

from __future__ import annotations

import json
import logging
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("trackastra")

from masksynth.tracked import TrackedMasks, TrackedVideo, lineage_from_labels, validate_tracked  # noqa: E402
from tgan_aug.errors import UserError  # noqa: E402
from tgan_aug.trackers.detections import per_frame_ids  # noqa: E402
from tgan_aug.trackers.trackastra_train import TrackastraConfig, association_loss, fit_trackastra  # noqa: E402

from .conftest import make_blobs  # noqa: E402


def _reference_loss(logits, target, t, pad, delta, div_up):
    """causal_norm='none': weighted BCE-with-logits written out entry by entry."""
    weights = []
    per_sample = []
    for b in range(logits.shape[0]):
        n = logits.shape[1]
        acc, count = 0.0, 0
        for i in range(n):
            for j in range(n):
                if pad[b, i] or pad[b, j] or not 0 < t[b, j] - t[b, i] <= delta:
                    continue
                x, y = float(logits[b, i, j]), float(target[b, i, j])
                bce = max(x, 0) - x * y + np.log1p(np.exp(-abs(x)))
                # links of i to frame t_j plus links of j to frame t_i, counted where target = 1
                out_i = sum(target[b, i, k] for k in range(n) if t[b, k] == t[b, j] and not pad[b, k])
                in_j = sum(target[b, k, j] for k in range(n) if t[b, k] == t[b, i] and not pad[b, k])
                block = y * (out_i + in_j)
                w = 1 + (block == 2) + div_up * (block > 2)
                acc += bce * w
                count += 1
        per_sample.append(acc / count)
        weights.append(count**0.2)
    weights = np.array(weights)
    return float(np.sum(np.array(per_sample) * weights / weights.sum()))


def test_association_loss_matches_a_loop_reference():
    rng = np.random.default_rng(0)
    # two windows, 3 frames: sample 0 has a division (0 -> 2 and 0 -> 3); sample 1 is padded
    t = torch.tensor([[0, 0, 1, 1, 2, 2], [0, 1, 2, -1, -1, -1]])
    pad = t < 0
    target = torch.zeros(2, 6, 6)
    for i, j in [(0, 2), (0, 3), (0, 4), (0, 5), (1, 4), (2, 4), (3, 5)]:  # lineage relations (sym)
        target[0, i, j] = target[0, j, i] = 1
    for i, j in [(0, 1), (1, 2), (0, 2)]:
        target[1, i, j] = target[1, j, i] = 1
    for k in range(6):
        target[0, k, k] = 1
    logits = torch.tensor(rng.normal(0, 2, (2, 6, 6)), dtype=torch.float32)
    got = association_loss(logits, target, t, pad, causal_norm="none", delta_cutoff=2, div_upweight=3.0)
    ref = _reference_loss(logits.numpy(), target.numpy(), t.numpy(), pad.numpy(), 2, 3.0)
    assert float(got) == pytest.approx(ref, rel=1e-5)


def test_association_loss_rewards_correct_logits_and_ignores_padding():
    t = torch.tensor([[0, 0, 1, 1, -1]])
    pad = t < 0
    target = torch.zeros(1, 5, 5)
    target[0, 0, 2] = target[0, 2, 0] = target[0, 1, 3] = target[0, 3, 1] = 1
    good = (target * 2 - 1) * 8
    bad = -good
    for norm in ("none", "quiet_softmax"):
        lg = association_loss(good, target, t, pad, causal_norm=norm)
        lb = association_loss(bad, target, t, pad, causal_norm=norm)
        assert float(lg) < 0.05 < float(lb)
        noisy = good.clone()
        noisy[0, 4, :] = noisy[0, :, 4] = 123.0  # padded token: no effect
        assert float(association_loss(noisy, target, t, pad, causal_norm=norm)) == pytest.approx(float(lg))


def test_config_presets_and_unknown_keys():
    assert TrackastraConfig.preset("default").d_model == 256
    with pytest.raises(UserError, match="unknown trackastra config key"):
        TrackastraConfig.from_dict({"d_modle": 3})
    with pytest.raises(UserError, match="unknown trackastra preset"):
        TrackastraConfig.preset("huge")


def test_training_on_a_tiny_set_lowers_loss_and_tracks_it(tmp_path):
    torch.set_num_threads(1)
    train = [make_blobs(n_cells=6, frames=10, speed=2.5, seed=s, divide=(s == 0)) for s in range(2)]
    cfg = TrackastraConfig.preset("tiny", epochs=8, samples_per_epoch=48)
    out = fit_trackastra(train, [], tmp_path / "model", ratio=0.0, config=cfg, seed=0, progress=False)
    losses = [h["loss"] for h in out["history"]]
    assert losses[-1] < 0.5 * losses[0], losses
    for name in ("config.yaml", "model.pt", "train_config.yaml", "tgan_aug_train.json"):
        assert (tmp_path / "model" / name).is_file()

    from trackastra.model import Trackastra

    from tgan_aug.trackers.metrics import evaluate_tracked
    from tgan_aug.trackers.trackastra_predict import track_trackastra

    model = Trackastra.from_folder(tmp_path / "model", device="cpu")  # trackastra's own loader
    logging.getLogger().setLevel(logging.WARNING)
    for s, video in enumerate(train):
        res = track_trackastra(video.images, per_frame_ids(video.labels, seed=s), model=model)
        r = evaluate_tracked(video.masks, res)
        assert r["Valid"] == 1 and r["MOTA"] > 0.9, r
    assert "torchvision" not in sys.modules and "lightning" not in sys.modules
    with pytest.raises(UserError, match="--overwrite"):
        fit_trackastra(train, [], tmp_path / "model", ratio=0.0, config=cfg, progress=False)


def test_mixed_trackastra_data_uses_both_pools(tmp_path):
    from tgan_aug.trackers.dataset import trackastra_training_data

    real = [make_blobs(n_cells=3, frames=6, height=48, width=48, seed=1)]
    syn = [make_blobs(n_cells=4, frames=6, height=48, width=48, seed=2)]
    data = trackastra_training_data(real, syn, ratio=0.5, workdir=tmp_path, window=3, samples_per_epoch=20, seed=0)
    pools = [p for p, _, _ in data.plan]
    assert pools.count("synthetic") == 10
    item = data[0]
    assert set(item) >= {"features", "coords", "assoc_matrix", "timepoints"}
    assert item["features"].shape[1] == 7


def test_empty_frames_are_cut_out_of_trackastra_data(tmp_path):
    """A crop of a growing colony starts with empty frames; trackastra's CTCData crashes on them
    ('need at least one array to stack'), so the export keeps only runs of non-empty frames."""
    from tgan_aug.trackers.dataset import nonempty_runs, trackastra_training_data

    video = make_blobs(n_cells=3, frames=12, height=48, width=48, seed=1)
    labels = np.array(video.labels)
    labels[[0, 1, 6]] = 0  # empty frames: runs are frames 2-5 and 7-11
    holed = TrackedVideo(TrackedMasks(*lineage_from_labels(labels)), np.asarray(video.images),
                         intensity_range=video.intensity_range)
    runs = nonempty_runs(holed, min_frames=3)
    assert [(start, r.n_frames) for start, r in runs] == [(2, 4), (7, 5)]
    for _, r in runs:
        validate_tracked(r.labels, r.lineage)
        assert all(np.any(f) for f in r.labels)
    assert [s for s, _ in nonempty_runs(holed, min_frames=5)] == [7]
    data = trackastra_training_data([holed], ratio=0.0, workdir=tmp_path, window=3, samples_per_epoch=8, seed=0)
    assert len(data.pools["real"]) == 2 and data[0]["features"].shape[1] == 7
    with pytest.raises(UserError, match="--real: no sequence has 6 consecutive frames"):
        trackastra_training_data([holed], ratio=0.0, workdir=tmp_path / "b", window=6, seed=0)


def test_snapshots_are_model_folders_of_the_run_so_far(tmp_path):
    from tgan_aug.trackers import TRACKERS

    torch.set_num_threads(1)
    train = [make_blobs(n_cells=3, frames=6, height=48, width=48, seed=1)]
    out = TRACKERS["trackastra"].train(train, [], tmp_path / "m", ratio=0.0, preset="tiny", max_steps=4, batch_size=2,
                                       samples_per_epoch=4, seed=0, progress=False, snapshot_steps=(2, 4))
    snaps = out.summary["snapshots"]
    assert sorted(snaps) == [2, 4] and snaps[2] == tmp_path / "m" / "snapshots" / "step_000002"
    weights = {}
    for step, folder in snaps.items():
        assert json.loads((folder / "tgan_aug_train.json").read_text())["step"] == step
        tracker = TRACKERS["trackastra"].load(folder)  # a complete model folder
        weights[step] = torch.load(folder / "model.pt", weights_only=True)
        assert tracker.track(train[0].images, per_frame_ids(train[0].labels)).labels.shape == train[0].labels.shape
    final = torch.load(tmp_path / "m" / "model.pt", weights_only=True)
    key = next(k for k, v in final.items() if v.dtype.is_floating_point and v.numel() > 1)
    assert torch.equal(weights[4][key], final[key]) and not torch.equal(weights[2][key], final[key])


def _predictions(link_weight: float, move: float):
    """Two frames of two cells each: the true links (a->a', b->b') and one wrong link (a->b')."""
    nodes = [{"id": 0, "time": 0, "label": 1, "coords": (10.0, 10.0)}, {"id": 1, "time": 0, "label": 2, "coords": (10.0, 60.0)},
             {"id": 2, "time": 1, "label": 1, "coords": (10.0, 10.0 + move)}, {"id": 3, "time": 1, "label": 2, "coords": (10.0, 60.0 + move)}]
    return {"nodes": nodes, "weights": (((0, 2), link_weight), ((1, 3), link_weight), ((0, 3), link_weight - 0.1))}


def test_link_threshold_and_max_distance_decide_which_links_are_kept():
    from tgan_aug.trackers.trackastra_predict import link_predictions

    under_confident = _predictions(0.3, move=5.0)
    assert set(link_predictions(under_confident, threshold=0.5).edges) == set()  # trackastra's own 0.5: nothing linked
    assert set(link_predictions(under_confident, threshold=0.1).edges) == {(0, 2), (1, 3)}  # the wrong link loses
    assert set(link_predictions(_predictions(0.9, move=40.0), threshold=0.1, max_distance=30).edges) == set()
    assert set(link_predictions(_predictions(0.9, move=40.0), threshold=0.1, max_distance=45).edges) == {(0, 2), (1, 3)}


def _dividing(second: float):
    """A mother (node 0) whose successors are node 2 (probability 0.9) and node 3 (``second``); node 1, a
    neighbour, has node 3 as its only candidate successor, at 0.15."""
    nodes = [{"id": 0, "time": 0, "label": 1, "coords": (10.0, 10.0)}, {"id": 1, "time": 0, "label": 2, "coords": (10.0, 30.0)},
             {"id": 2, "time": 1, "label": 1, "coords": (10.0, 8.0)}, {"id": 3, "time": 1, "label": 2, "coords": (10.0, 16.0)}]
    return {"nodes": nodes, "weights": (((0, 2), 0.9), ((0, 3), second), ((1, 3), 0.15))}


def test_a_second_successor_needs_the_division_threshold():
    from tgan_aug.trackers.trackastra_predict import DIVISION_THRESHOLD, link_predictions

    assert DIVISION_THRESHOLD == 0.5
    # trackastra's greedy (one threshold for both): the mother takes node 3 at 0.35 before its neighbour's 0.15
    assert set(link_predictions(_dividing(0.35), division_threshold=0.1).edges) == {(0, 2), (0, 3)}
    # the default: 0.35 is too weak for a division, so node 3 continues the neighbour's track
    assert set(link_predictions(_dividing(0.35)).edges) == {(0, 2), (1, 3)}
    assert set(link_predictions(_dividing(0.6)).edges) == {(0, 2), (0, 3)}  # a confident division is kept
    assert set(link_predictions(_dividing(0.6), mode="greedy_nodiv").edges) == {(0, 2), (1, 3)}


def _crossing():
    """Two cells a (node 0) and b (node 1) whose true successors are a' (2) and b' (3), at 0.5 each;
    the wrong pair a -> b' is a little more probable (0.55), so greedy linking takes it first."""
    nodes = [{"id": 0, "time": 0, "label": 1, "coords": (10.0, 10.0)}, {"id": 1, "time": 0, "label": 2, "coords": (10.0, 30.0)},
             {"id": 2, "time": 1, "label": 1, "coords": (10.0, 12.0)}, {"id": 3, "time": 1, "label": 2, "coords": (10.0, 24.0)}]
    return {"nodes": nodes, "weights": (((0, 2), 0.5), ((0, 3), 0.55), ((1, 3), 0.5))}


def test_ilp_linking_solves_globally_where_greedy_goes_wrong():
    pytest.importorskip("motile", reason="ILP linking needs the ilp extra: pip install 'tgan-aug[ilp]'")
    from tgan_aug.trackers.trackastra_predict import link_predictions

    # greedy: a -> b' first; b' is then taken, so b ends and a divides into a' and b'
    assert set(link_predictions(_crossing(), division_threshold=0.5).edges) == {(0, 3), (0, 2)}
    # ILP (trackastra's gt costs): two continuing tracks beat a division plus an ended track
    assert set(link_predictions(_crossing(), mode="ilp").edges) == {(0, 2), (1, 3)}
    # a division (0.9 + 0.6 - 0.25 split) that ends the neighbour's track (- 0.5 end) loses to 0.9 + 0.15 ...
    assert set(link_predictions(_dividing(0.6), mode="ilp").edges) == {(0, 2), (1, 3)}
    # ... and wins at 0.95 (1.1 against 1.05)
    assert set(link_predictions(_dividing(0.95), mode="ilp").edges) == {(0, 2), (0, 3)}
    assert link_predictions({"nodes": _crossing()["nodes"], "weights": ()}, mode="ilp").number_of_edges() == 0


def test_ilp_cost_sets_that_make_divisions_dearer_give_up_a_weak_one():
    pytest.importorskip("motile", reason="ILP linking needs the ilp extra: pip install 'tgan-aug[ilp]'")
    from tgan_aug.trackers import TRACKERS
    from tgan_aug.trackers.registry import import_trackastra
    from tgan_aug.trackers.trackastra_predict import ILP_COSTS, link_predictions

    import_trackastra()  # before any trackastra import (see its docstring)
    from trackastra.tracking.ilp import ILP_CONFIGS

    assert set(ILP_COSTS) <= set(ILP_CONFIGS)  # trackastra's own cost sets, by its names
    # the division of 0.95 that wins with gt costs (split 0.25) loses where a division costs 1
    for costs, edges in (("gt", {(0, 2), (0, 3)}), ("deepcell_gt", {(0, 2), (1, 3)}), ("deepcell_gt_tuned", {(0, 2), (1, 3)})):
        assert set(link_predictions(_dividing(0.95), mode="ilp", ilp_costs=costs).edges) == edges, costs
    with pytest.raises(UserError, match="ilp_costs must be one of gt, deepcell_gt"):
        link_predictions(_dividing(0.95), mode="ilp", ilp_costs="tuned")
    with pytest.raises(UserError, match="ilp_costs 'tuned': choose gt, deepcell_gt"):
        TRACKERS["trackastra"](object(), mode="ilp", ilp_costs="tuned")


def test_ilp_without_its_solver_says_what_to_install(monkeypatch):
    from tgan_aug.trackers import TRACKERS

    monkeypatch.setitem(sys.modules, "motile", None)  # makes `import motile` fail
    with pytest.raises(UserError, match=r"'motile' is not installed .*pip install 'tgan-aug\[ilp\]'"):
        TRACKERS["trackastra"](object(), mode="ilp")


def test_linking_options_are_checked():
    from tgan_aug.trackers import TRACKERS

    with pytest.raises(UserError, match=r"threshold 1.5: a link probability in \(0, 1\)"):
        TRACKERS["trackastra"](object(), threshold=1.5)
    with pytest.raises(UserError, match="max_distance -3.0: pixels > 0"):
        TRACKERS["trackastra"](object(), max_distance=-3)
    with pytest.raises(UserError, match=r"division_threshold 0.0: a link probability in \(0, 1\)"):
        TRACKERS["trackastra"](object(), division_threshold=0.0)


def test_augmented_trackastra_windows_are_reproducible_from_the_seed(tmp_path):
    """trackastra builds its augmentations with unseeded RandomStates; the same seed must still give
    the same augmented windows (and another seed other ones)."""
    from tgan_aug.trackers.dataset import trackastra_training_data

    real = [make_blobs(n_cells=5, frames=6, height=64, width=64, seed=1)]

    def coords(seed: int, workdir: str) -> list[np.ndarray]:
        data = trackastra_training_data(real, ratio=0.0, workdir=tmp_path / workdir, window=3, augment=2,
                                        samples_per_epoch=6, seed=seed)
        np.random.seed(0)  # (trackastra also draws from the global states, which training seeds)
        torch.manual_seed(0)
        return [np.asarray(data[i]["coords"]) for i in range(6)]

    a, b, c = coords(0, "a"), coords(0, "b"), coords(1, "c")
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert any(x.shape != z.shape or not np.array_equal(x, z) for x, z in zip(a, c))
