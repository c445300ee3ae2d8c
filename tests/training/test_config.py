"""TrainConfig: presets, JSON round trip, unknown keys, overrides, clip schedule."""

from __future__ import annotations

import json

import pytest

from tgan_aug.errors import UserError
from tgan_aug.training import TrainConfig


@pytest.mark.parametrize("preset", ["paper", "small", "tiny"])
@pytest.mark.parametrize("stage", ["lowres", "superres"])
def test_presets_resolve_and_round_trip(preset, stage):
    cfg = TrainConfig.preset(preset, stage=stage)
    assert cfg.model.preset == preset
    assert cfg.crop_size == tuple(cfg.model.out_size)
    back = TrainConfig.from_dict(json.loads(cfg.to_json()))
    assert back.to_dict() == cfg.to_dict()


def test_unknown_keys_are_named():
    d = TrainConfig.preset("tiny").to_dict()
    d["learning_rate"] = 1.0
    with pytest.raises(UserError, match="learning_rate"):
        TrainConfig.from_dict(d)
    d = TrainConfig.preset("tiny").to_dict()
    d["model"]["widht"] = 3
    with pytest.raises(UserError, match="widht"):
        TrainConfig.from_dict(d)


def test_overrides_and_their_errors():
    cfg = TrainConfig.preset("tiny").with_overrides(["w_l1=5", "model.base_channels=4", "perceptual=none"])
    assert cfg.w_l1 == 5 and cfg.model.base_channels == 4 and cfg.perceptual == "none"
    with pytest.raises(UserError, match="unknown key 'w_typo'"):
        TrainConfig.preset("tiny").with_overrides(["w_typo=1"])
    with pytest.raises(UserError, match="KEY=VALUE"):
        TrainConfig.preset("tiny").with_overrides(["w_l1"])
    with pytest.raises(UserError, match="p_diff"):
        TrainConfig.preset("tiny").with_overrides(["p_diff=1.5"])


def test_bad_preset_and_schedule():
    with pytest.raises(UserError, match="huge"):
        TrainConfig.preset("huge")
    with pytest.raises(UserError, match="clip_schedule"):
        TrainConfig.preset("tiny", clip_schedule=[[0, 1]])  # low-res needs >= 2 frames
    with pytest.raises(UserError, match="clip_schedule"):
        TrainConfig.preset("tiny", clip_schedule=[[0, 3], [10, 2]])  # shrinking


def test_clip_length_grows_with_step():
    cfg = TrainConfig.preset("small", clip_schedule=[[0, 2], [100, 3], [300, 5]])
    assert [cfg.clip_len(s) for s in (0, 99, 100, 299, 300, 10**6)] == [2, 2, 3, 3, 5, 5]


def test_preset_field_default_is_a_name_not_the_constructor():
    """Regression: the ``preset`` classmethod must not become the ``preset`` field's default."""
    import dataclasses

    from tgan_aug.training.config import TrainConfig

    default = {f.name: f.default for f in dataclasses.fields(TrainConfig)}["preset"]
    assert default == "small"
    assert TrainConfig.preset("tiny").preset == "tiny"
