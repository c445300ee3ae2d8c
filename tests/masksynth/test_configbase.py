"""masksynth.configbase: the one base of every configuration dataclass (masksynth's and tgan_aug's)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar, Literal

import pytest

from masksynth.configbase import ConfigBase, check_choice, choices_of, configclass
from masksynth.errors import UserError

Mode = Literal["fast", "exact"]


@configclass
class _Toy(ConfigBase):
    preset: str = "custom"  # a field with the constructor's name
    mode: Mode = "exact"
    size: tuple[int, int] = (8, 8)

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"quick": {"mode": "fast"}, "big": {"size": (64, 64)}}
    DEFAULT_PRESET: ClassVar[str | None] = "quick"
    WHAT: ClassVar[str] = "toy config"
    PRESET_WHAT: ClassVar[str] = "toy"

    def validate(self) -> None:
        check_choice(self.mode, Mode, "toy mode")

    @classmethod
    def _coerce(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "size" in data:
            data["size"] = tuple(data["size"])
        return data


def test_preset_is_the_constructor_on_the_class_and_the_field_on_instances():
    cfg = _Toy.preset("big", mode="fast")
    assert cfg.preset == "big" and cfg.size == (64, 64) and cfg.mode == "fast"
    assert _Toy.preset().preset == "quick"  # DEFAULT_PRESET
    assert _Toy().preset == "custom"  # the field default is kept
    assert dataclasses.fields(_Toy)[0].default == "custom"


def test_unknown_preset_and_keys_are_named():
    with pytest.raises(UserError, match="unknown toy preset 'huge'; choose one of quick, big"):
        _Toy.preset("huge")
    with pytest.raises(UserError, match="unknown toy config key.*: colour; valid keys"):
        _Toy.preset("quick", colour="red")
    with pytest.raises(UserError, match="must be a mapping"):
        _Toy.from_dict([("mode", "fast")])


def test_validate_runs_on_every_construction():
    with pytest.raises(UserError, match="toy mode must be one of fast, exact, got 'slow'"):
        _Toy(mode="slow")
    with pytest.raises(UserError, match="toy mode"):
        _Toy().replace(mode="slow")


def test_to_dict_is_json_and_round_trips():
    cfg = _Toy.preset("big")
    d = cfg.to_dict()
    assert d == json.loads(json.dumps(d)) and d["size"] == [64, 64]
    assert _Toy.from_dict(d) == cfg


def test_check_choice_takes_a_literal_or_a_tuple():
    assert choices_of(Mode) == ("fast", "exact") and choices_of(["a", "b"]) == ("a", "b")
    check_choice("fast", Mode, "mode")
    with pytest.raises(UserError, match="--flag must be one of 1, 2, got True"):
        check_choice(True, (1, 2), "--flag")  # True == 1, but a bool is not a choice


def _every_config():
    from masksynth.config import SynthConfig
    from tgan_aug.metrics.config import EvalConfig
    from tgan_aug.models.config import ModelConfig
    from tgan_aug.trackers.deepsea_track import DeepSeaTrackConfig
    from tgan_aug.trackers.deepsea_train import DeepSeaTrainConfig
    from tgan_aug.trackers.trackastra_train import TrackastraConfig
    from tgan_aug.training.config import TrainConfig

    return [SynthConfig.preset("high", "colony"), EvalConfig.preset("fast"), ModelConfig.preset("tiny"),
            TrainConfig.preset("tiny", stage="superres"), DeepSeaTrackConfig.preset("fast"),
            DeepSeaTrainConfig.preset("tiny"), TrackastraConfig.preset("tiny")]


def test_every_configuration_uses_the_base_and_round_trips():
    pytest.importorskip("torch", reason="the tgan_aug configurations live beside torch code")
    for cfg in _every_config():
        assert isinstance(cfg, ConfigBase)
        d = cfg.to_dict()
        assert type(cfg).from_dict(json.loads(json.dumps(d))) == cfg, type(cfg).__name__
        with pytest.raises(UserError, match="typo_key"):
            type(cfg).from_dict({**d, "typo_key": 1})
