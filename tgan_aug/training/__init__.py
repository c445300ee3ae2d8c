"""Training of the two tGAN stages: data clips, augmentation, losses, loop, checkpoints.

Public entry points: :class:`TrainConfig` (presets, ``from_dict``), :func:`train` (one run into a
numbered run folder), :func:`load_checkpoint` and :func:`build_generator_from_checkpoint`
(used by rendering).
"""

from tgan_aug.training.checkpoint import (
    FORMAT_VERSION,
    build_generator_from_checkpoint,
    load_checkpoint,
)
from tgan_aug.training.config import TrainConfig

__all__ = [
    "FORMAT_VERSION",
    "TrainConfig",
    "build_generator_from_checkpoint",
    "load_checkpoint",
    "train",
]


def __getattr__(name: str):  # lazy: importing the loop pulls in the models
    if name == "train":
        from tgan_aug.training.loop import train

        return train
    raise AttributeError(name)
