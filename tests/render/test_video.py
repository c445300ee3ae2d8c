"""Rendering for programs: one sequence in memory, or a list through a resumable store."""

from __future__ import annotations

import numpy as np

from tgan_aug.render.video import render_items, render_video


def test_render_video_keeps_the_masks_and_is_seeded(tiny_ckpt, tracked_factory):
    masks = tracked_factory(frames=4, seed=1)
    a = render_video(tiny_ckpt, masks, seed=3)
    assert a.masks == masks and a.images.shape == masks.labels.shape and a.images.dtype == np.uint16
    assert a.intensity_range == (50.0, 4000.0)
    assert a.provenance == {"checkpoint": str(tiny_ckpt), "seed": 3, "temporal": "per-frame", "intensity_match": "none",
                            "track_smoothing": 0.0, "carry_over": 0.0, "temporal_source": "default"}
    assert np.array_equal(render_video(tiny_ckpt, masks, seed=3).images, a.images)
    assert not np.array_equal(render_video(tiny_ckpt, masks, seed=4).images, a.images)
    flat = render_video(tiny_ckpt, masks, seed=3, background=np.zeros((10, 10), np.float32))
    assert not np.array_equal(flat.images, a.images)  # the background given is used


def test_render_items_reads_back_and_reuses_a_finished_store(tiny_ckpt, tracked_factory, tmp_path):
    items = [("s0", tracked_factory(frames=3, seed=0)), ("s1", tracked_factory(frames=4, seed=1))]
    out = render_items(tiny_ckpt, items, tmp_path / "r.zarr", seed=2, provenance={"command": "test"})
    assert [n for n, _ in out] == ["s0", "s1"] and (tmp_path / "r.zarr.done").is_file()
    for (_, m), (_, v) in zip(items, out):
        assert np.array_equal(v.labels, m.labels) and v.images.shape == m.labels.shape
    (tmp_path / "r.zarr.done").write_text("{}")
    again = render_items("no-such-checkpoint.pt", items, tmp_path / "r.zarr", seed=2)  # marker: only reads
    assert all(np.array_equal(a.images, b.images) for (_, a), (_, b) in zip(out, again))
