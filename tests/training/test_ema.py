"""EMA warm-up: G_ema must follow G in short runs instead of staying near its random initialisation."""

import pytest
import torch

from tgan_aug.training.config import TrainConfig
from tgan_aug.training.steps import ema_decay_at, ema_update
from tgan_aug.errors import UserError


def test_decay_ramps_up_and_is_capped():
    values = [ema_decay_at(s, 0.999, 10) for s in range(0, 20000, 50)]
    assert values[0] == pytest.approx(0.1)
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert max(values) == pytest.approx(0.999)
    assert ema_decay_at(0, 0.999, 0) == 0.999  # rampup 0 = off


def _run(rampup: int, steps: int) -> float:
    ema = torch.nn.Linear(1, 1, bias=False).requires_grad_(False)
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        ema.weight.fill_(0.0)  # "random init"
        model.weight.fill_(1.0)  # what training reached
    for s in range(steps):
        ema_update(ema, model, ema_decay_at(s, 0.999, rampup))
    return float(ema.weight)


def test_short_run_ema_tracks_the_model_only_with_warm_up():
    assert _run(10, 400) > 0.95
    assert _run(0, 400) == pytest.approx(1 - 0.999**400, rel=1e-4)  # 0.33: mostly the initialisation


def test_config_rejects_bad_rampup():
    with pytest.raises(UserError, match="ema_rampup"):
        TrainConfig.preset("tiny", ema_rampup=-1).validate()
