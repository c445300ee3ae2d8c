"""Sharding splits work exactly; tiles cover frames and stitching reproduces a constant image."""

from __future__ import annotations

import numpy as np
import pytest

from tgan_aug.errors import UserError
from tgan_aug.render.shard import parse_shard, shard_items
from tgan_aug.render.tiling import feather_weights, plan_tiles, stitch


def test_shards_partition_the_items_whatever_their_order():
    items = [f"seq{i:03d}" for i in range(11)]
    shuffled = list(np.random.default_rng(0).permutation(items))
    parts = [shard_items(shuffled, (k, 4)) for k in range(4)]
    assert sorted(sum(parts, [])) == items
    assert all(set(a).isdisjoint(b) for i, a in enumerate(parts) for b in parts[i + 1 :])
    assert parts[1] == shard_items(items, (1, 4))


@pytest.mark.parametrize("text", ["4/4", "-1/2", "a/b", "3", "1/0"])
def test_bad_shard_names_the_flag(text):
    with pytest.raises(UserError, match="--shard"):
        parse_shard(text)


def test_parse_shard():
    assert parse_shard("2/5") == (2, 5) and parse_shard(None) == (0, 1)


@pytest.mark.parametrize("shape", [(64, 64), (100, 130), (64, 200)])
def test_tiles_cover_every_pixel_and_stitch_exactly(shape):
    tile, overlap = (64, 64), 16
    pos = plan_tiles(shape, tile, overlap=overlap)
    cover = np.zeros(shape, dtype=int)
    for y, x in pos:
        assert y + 64 <= shape[0] and x + 64 <= shape[1]
        cover[y : y + 64, x : x + 64] += 1
    assert cover.min() >= 1
    rng = np.random.default_rng(1)
    full = rng.random(shape).astype(np.float32)
    tiles = [full[y : y + 64, x : x + 64] for y, x in pos]
    np.testing.assert_allclose(stitch(tiles, pos, shape, overlap=overlap), full, rtol=1e-6)


def test_feathering_is_positive_and_one_inside():
    w = feather_weights((32, 48), 8)
    assert w.min() > 0 and w[16, 24] == 1.0 and w[0, 0] < w[4, 4]


def test_frames_smaller_than_a_tile_are_refused():
    with pytest.raises(UserError, match="smaller than the tile"):
        plan_tiles((32, 32), (64, 64), overlap=8)
