"""Training configuration: one dataclass with presets; it embeds the :class:`ModelConfig`.

``TrainConfig.preset("small", stage="lowres")`` gives a resolved configuration; ``from_dict``
rebuilds one from ``dataclasses.asdict`` output (config.json, checkpoints) and rejects unknown
keys by name; :meth:`TrainConfig.with_overrides` applies ``key=value`` strings from the CLI
(``--set w_l1=5 --set model.base_channels=16``).
"""

from __future__ import annotations

import json
from dataclasses import field
from typing import Any, ClassVar, Literal

from masksynth.configbase import ConfigBase, check_choice, configclass
from tgan_aug.errors import UserError

Stage = Literal["lowres", "superres"]
PerceptualKind = Literal["auto", "deepsea", "vgg19", "feature_matching", "none"]
AmpMode = Literal["auto", "bf16", "fp16", "off"]

#: ``max_steps`` at or above this means "no step limit": the time limit (``max_minutes``) ends the run
NO_STEP_LIMIT = 10**7


def _model_config_cls():
    from tgan_aug.models.config import ModelConfig

    return ModelConfig


@configclass
class TrainConfig(ConfigBase):
    """Everything a training run needs besides the data path and the device.

    Sizes come from ``model`` (``lowres_size`` (H, W) for the low-resolution stage, ``out_size``
    for the super-resolution stage). Clip length grows with the step: ``clip_schedule`` is a list
    of ``(from_step, frames)`` pairs (frames >= 2: the first frame is generated from the
    background, every later one from the previous generated frame).
    """

    stage: Stage = "lowres"
    preset: str = "small"
    model: Any = None  # ModelConfig; filled by preset()/from_dict()
    seed: int = 0
    # optimisation
    batch_size: int = 2
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    lr_flow: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    ema_decay: float = 0.999
    ema_rampup: int = 10  # warm-up: decay at step s is min(ema_decay, (1 + s) / (ema_rampup + s)); 0 = off
    grad_clip: float = 0.0  # 0 = off; max global norm per network otherwise
    # clips
    clip_schedule: list = field(default_factory=lambda: [[0, 2], [2000, 3], [6000, 4]])
    detach_prev: bool = True  # previous generated frame fed back detached (truncated BPTT, 1 frame)
    # rollout burn-in: before each low-res clip, k frames (k uniform in 0..rollout_burnin, per step)
    # are generated without gradient from the frames that precede the clip, so the clip's first
    # frame is fed the generator's own k-th output instead of the background; rendering runs the
    # generator for tens to hundreds of frames, training otherwise only ever for clip_len (0 = off)
    rollout_burnin: int = 0
    # data
    data_scale: float = 0.0  # factor applied to the data before cropping; 0 = fit the frame to out_size
    percentiles: list = field(default_factory=lambda: [0.5, 99.5])
    background_dilate: int = 5  # pixels (at working resolution) grown around cells before the median
    holdout: float = 0.0  # fraction of each sequence's last frames held back from training for the quality check
    # augmentation
    p_vanilla: float = 0.5
    # probability that a clip's crop is centred on a random cell pixel of its first frame instead of
    # placed uniformly: cell-dense regions (a colony's interior) are then seen in proportion to their
    # cell area (0 = uniform crops, as before)
    p_cell_crop: float = 0.0
    p_diff: float = 0.5
    # losses (Equations 1-3): G = adv + w_flow*flow + w_l1*L1 + w_perceptual*perceptual
    w_adv: float = 1.0
    w_flow: float = 1.0
    w_l1: float = 10.0
    w_perceptual: float = 10.0
    perceptual: PerceptualKind = "auto"  # auto: deepsea when installed, else vgg19 if vgg19_weights, else feature_matching
    vgg19_weights: str = ""
    deepsea_invert: bool = False  # invert intensities before DeepSea features (bright cells on dark)
    # super-resolution stage: optional low-res checkpoint whose outputs replace the downsampled real frame
    lowres_checkpoint: str = ""
    # fine-tuning: start G/G_ema (and D when saved) of this stage from a model file or stage checkpoint
    # (``tgan-aug train --init NAME|PATH``); optimizers and step count start fresh
    init_checkpoint: str = ""
    p_lowres_input: float = 0.5
    # precision and bookkeeping
    amp: AmpMode = "auto"  # auto = bf16 on CUDA when supported, off on CPU
    max_steps: int = 10000
    max_minutes: float = 0.0  # 0 = no limit
    log_every: int = 10
    sample_every: int = 500
    ckpt_every: int = 1000
    snapshot_every: int = 0  # also keep snapshots/step-NNNNNN.pt (G_ema only) every N steps; 0 = off

    # paper: the paper's schedule; small: ~1-2 s/step on a shared 2-core CPU (2000 steps are tens of
    # minutes to an hour); tiny: tests. The super-resolution stage trains on single frames.
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": dict(batch_size=4, clip_schedule=[[0, 2], [5000, 4], [20000, 6], [50000, 8]],
                      max_steps=100000, sample_every=1000, ckpt_every=5000),
        "small": dict(batch_size=2, clip_schedule=[[0, 2], [600, 3], [1200, 4]],
                      max_steps=2000, sample_every=200, ckpt_every=500),
        "tiny": dict(batch_size=1, clip_schedule=[[0, 2], [2, 3]], max_steps=4, log_every=1,
                     sample_every=2, ckpt_every=2, ema_decay=0.9),
    }
    DEFAULT_PRESET: ClassVar[str | None] = "small"
    WHAT: ClassVar[str] = "training config"
    PRESET_WHAT: ClassVar[str] = "training"

    # ------------------------------------------------------------------ construction
    @classmethod
    def _preset_values(cls, name: str, overrides: dict[str, Any]) -> dict[str, Any]:
        """Preset ``name`` for a ``stage`` (``stage="lowres"`` unless given); ``model`` overrides go
        to :meth:`ModelConfig.preset` of the same name."""
        stage = overrides.pop("stage", "lowres")
        check_choice(stage, Stage, "stage")
        base: dict[str, Any] = {"stage": stage, **cls.PRESETS[name]}
        if stage == "superres":
            base.update(clip_schedule=[[0, 1]])
        model_over = overrides.pop("model", None) or {}
        base.update(overrides)
        base["model"] = _model_config_cls().preset(name, **model_over)
        return base

    @classmethod
    def _coerce(cls, d: dict[str, Any]) -> dict[str, Any]:
        """``model`` as a dict (JSON) becomes a ModelConfig; missing, the model preset of ``preset``."""
        model = d.get("model")
        MC = _model_config_cls()
        if isinstance(model, dict):
            d["model"] = MC.from_dict(model)
        elif model is None:
            d["model"] = MC.preset(d.get("preset", "small"))
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def with_overrides(self, items: list[str] | tuple[str, ...]) -> "TrainConfig":
        """Apply ``key=value`` strings (values parsed as JSON, else kept as text); ``model.x=...`` for model keys."""
        d = self.to_dict()
        for item in items:
            if "=" not in item:
                raise UserError(f"--set {item!r}: expected KEY=VALUE, e.g. --set w_l1=5 or --set model.base_channels=16")
            key, raw = item.split("=", 1)
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                value = raw
            target = d
            parts = key.strip().split(".")
            for p in parts[:-1]:
                if not isinstance(target.get(p), dict):
                    raise UserError(f"--set {item!r}: {p!r} is not a section of the config (only 'model.' is)")
                target = target[p]
            if parts[-1] not in target:
                raise UserError(f"--set {item!r}: unknown key {key!r}; see --dry-run for the keys")
            target[parts[-1]] = value
        return TrainConfig.from_dict(d)

    # ------------------------------------------------------------------ checks and helpers
    def validate(self) -> None:
        """Check ranges and choices; raises :class:`UserError` naming the key."""
        check_choice(self.stage, Stage, "config stage")
        check_choice(self.perceptual, PerceptualKind, "config perceptual")
        check_choice(self.amp, AmpMode, "config amp")
        for key in ("p_vanilla", "p_diff", "p_lowres_input", "p_cell_crop"):
            v = getattr(self, key)
            if not 0.0 <= float(v) <= 1.0:
                raise UserError(f"config {key}={v}: must be a probability in [0, 1]")
        if not 0.0 <= float(self.holdout) < 1.0:
            raise UserError(f"config holdout={self.holdout}: must be a fraction in [0, 1) (0 = train on every frame)")
        if not 0.0 <= self.ema_decay < 1.0:
            raise UserError(f"config ema_decay={self.ema_decay}: must be in [0, 1)")
        if isinstance(self.ema_rampup, bool) or not isinstance(self.ema_rampup, int) or self.ema_rampup < 0:
            raise UserError(f"config ema_rampup={self.ema_rampup}: must be an integer >= 0 (0 = no warm-up)")
        if self.batch_size < 1:
            raise UserError(f"config batch_size={self.batch_size}: must be >= 1")
        if isinstance(self.rollout_burnin, bool) or not isinstance(self.rollout_burnin, int) or self.rollout_burnin < 0:
            raise UserError(f"config rollout_burnin={self.rollout_burnin}: must be an integer >= 0 (0 = off)")
        for key in ("max_steps", "log_every", "sample_every", "ckpt_every"):  # snapshot_every may be 0
            if int(getattr(self, key)) < 1:
                raise UserError(f"config {key}={getattr(self, key)}: must be >= 1")
        if isinstance(self.snapshot_every, bool) or not isinstance(self.snapshot_every, int) or self.snapshot_every < 0:
            raise UserError(f"config snapshot_every={self.snapshot_every}: must be an integer >= 0 (0 = off)")
        if self.data_scale < 0:
            raise UserError(f"config data_scale={self.data_scale}: must be > 0, or 0 to fit frames to the model size")
        lo, hi = (float(v) for v in self.percentiles)
        if not 0.0 <= lo < hi <= 100.0:
            raise UserError(f"config percentiles={self.percentiles}: need 0 <= low < high <= 100")
        sched = [[int(a), int(b)] for a, b in self.clip_schedule]
        if not sched or sched[0][0] != 0:
            raise UserError(f"config clip_schedule={self.clip_schedule}: must start with [0, frames]")
        min_len = 1 if self.stage == "superres" else 2
        for (s0, n0), (s1, n1) in zip(sched, sched[1:]):
            if s1 <= s0 or n1 < n0:
                raise UserError(f"config clip_schedule={self.clip_schedule}: steps must increase and lengths not shrink")
        if any(n < min_len for _, n in sched):
            raise UserError(f"config clip_schedule={self.clip_schedule}: the {self.stage} stage needs clips of >= {min_len} frames")
        self.clip_schedule = sched
        self.percentiles = [lo, hi]

    def clip_len(self, step: int) -> int:
        """Clip length (frames) used at ``step`` according to ``clip_schedule``."""
        n = self.clip_schedule[0][1]
        for s, length in self.clip_schedule:
            if step >= s:
                n = length
        return int(n)

    @property
    def crop_size(self) -> tuple[int, int]:
        """(H, W) of the crops taken from the data at working resolution (the model's out_size)."""
        return tuple(int(v) for v in self.model.out_size)  # type: ignore[return-value]

    @property
    def lowres_size(self) -> tuple[int, int]:
        return tuple(int(v) for v in self.model.lowres_size)  # type: ignore[return-value]


