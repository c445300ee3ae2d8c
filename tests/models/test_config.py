"""ModelConfig: presets, from_dict round trip and rejection of unknown keys, size checks naming valid sizes."""

from __future__ import annotations

import json

import pytest

from tgan_aug.errors import UserError
from tgan_aug.models import ModelConfig, nearest_valid_sizes


@pytest.mark.parametrize("name", ["paper", "small", "tiny"])
def test_presets_sizes(name):
    cfg = ModelConfig.preset(name)
    assert cfg.preset == name
    assert cfg.out_size == (2 * cfg.lowres_size[0], 2 * cfg.lowres_size[1])
    assert len(cfg.channels()) == cfg.depth + 1


def test_paper_preset_is_the_papers_sizes():
    cfg = ModelConfig.preset("paper")
    assert cfg.lowres_size == (256, 384) and cfg.out_size == (512, 768) and cfg.base_channels == 64


def test_from_dict_round_trip_through_json():
    cfg = ModelConfig.preset("small", use_background=False)
    back = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg


def test_from_dict_rejects_unknown_keys():
    d = ModelConfig.preset("tiny").to_dict()
    d["base_chanels"] = 3
    with pytest.raises(UserError, match="unknown ModelConfig key.*base_chanels"):
        ModelConfig.from_dict(d)


def test_unknown_preset():
    with pytest.raises(UserError, match="unknown model preset 'huge'.*paper"):
        ModelConfig.preset("huge")


def test_lowres_override_sets_out_size():
    cfg = ModelConfig.preset("tiny", lowres_size=(48, 64))
    assert cfg.out_size == (96, 128)


def test_bad_size_names_nearest_valid_sizes():
    with pytest.raises(UserError, match=r"250x380 .*multiples of 16.*nearest valid sizes: 256x384"):
        ModelConfig.preset("paper", lowres_size=(250, 380))


def test_out_size_must_be_twice_lowres():
    with pytest.raises(UserError, match=r"out_size must be 2 x lowres_size = \(64, 64\)"):
        ModelConfig.preset("tiny", out_size=(60, 64))


def test_check_size_accepts_any_multiple():
    cfg = ModelConfig.preset("tiny")  # depth 2 -> multiples of 4
    cfg.check_size(4, 1000)
    with pytest.raises(UserError, match="nearest valid sizes: 12x8"):
        cfg.check_size(13, 7)


def test_nearest_valid_sizes_sorted_by_distance():
    assert nearest_valid_sizes(17, 33, multiple=16)[0] == (16, 32)
    assert nearest_valid_sizes(3, 3, multiple=16) == [(16, 16)]


@pytest.mark.parametrize("field,value", [("depth", 0), ("base_channels", -1), ("disc_attention", "yes"),
                                         ("lowres_size", (32,))])
def test_bad_field_values(field, value):
    with pytest.raises(UserError, match=field):
        ModelConfig.preset("tiny", **{field: value})


def test_preset_field_default_is_a_name_not_the_constructor():
    """Regression: the ``preset`` classmethod must not become the ``preset`` field's default."""
    import dataclasses
    import json

    default = {f.name: f.default for f in dataclasses.fields(ModelConfig)}["preset"]
    assert default == "custom"
    json.dumps(ModelConfig().to_dict())
    assert ModelConfig.preset("tiny").preset == "tiny"
