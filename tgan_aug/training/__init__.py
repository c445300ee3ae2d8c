"""Training of the two tGAN stages: data clips, augmentation, losses, loop, checkpoints.

Public entry points: :class:`TrainConfig` (presets, ``from_dict``), :func:`train` (one run into a
numbered run folder), :func:`load_checkpoint` and :func:`build_generator_from_checkpoint`
(used by rendering).
"""

__all__ = [
    "FORMAT_VERSION",
    "TrainConfig",
    "build_generator_from_checkpoint",
    "load_checkpoint",
    "train",
]

#: public name -> submodule; loaded on first use, so numpy-only submodules (e.g. ``background``,
#: used by the painter) import without torch
_LAZY = {
    "FORMAT_VERSION": "checkpoint",
    "build_generator_from_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "TrainConfig": "config",
    "train": "loop",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"tgan_aug.training.{_LAZY[name]}"), name)
    raise AttributeError(name)
