"""masksynth: tracked mask-sequence synthesis and augmentation (numpy/scipy/scikit-image/opencv, never torch).

The data model (``masksynth.tracked``) is imported eagerly; everything else loads on first use,
which keeps ``import masksynth`` fast for code that only needs the data model. masksynth imports
nothing from ``tgan_aug`` (user errors live in ``masksynth.errors``).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from masksynth.tracked import (
    AXES,
    CTCValidationError,
    NotLinkedError,
    TrackedMasks,
    TrackedVideo,
    frame_ids,
    ids_look_linked,
    intensity_range_of,
    lineage_from_labels,
    track_extents,
    validate_frame_ids,
    validate_tracked,
)

#: public name -> module that defines it (loaded on first access)
_LAZY: dict[str, str] = {
    # synthesis
    "SynthConfig": "config",
    "synthesize": "synth",
    "iter_synthesize": "synth",
    "make_bank": "synth",
    "MaskSimulator": "dynamics",
    "ShapeBank": "shapes",
    "BaseShape": "shapes",
    "extract_shapes": "shapes",
    "procedural_shape": "shapes",
    "place_cells": "placement",
    "min_gap_ok": "placement",
    # calibration and statistics
    "calibrate": "calibrate",
    "calibration_params": "calibrate",
    "link_nearest": "linking",
    "DataProfile": "profile",
    "profile_from_masks": "profile",
    "save_profile": "profile",
    "load_profile": "profile",
    "like_config": "profile",
    "sequence_stats": "stats",
    "compare_stats": "stats",
    "stats_table": "stats",
    "colony_packing": "stats",
    "frame_drift": "stats",
    # augmentation of real sequences
    "augment_tracked": "augment",
    "augment_many": "augment",
    "relineage": "augment",
    "rot90": "augment",
    "flip": "augment",
    "crop": "augment",
    "time_slice": "augment",
    "split_time": "augment",
    "morph_cells": "augment",
}

__all__ = [
    "AXES",
    "CTCValidationError",
    "NotLinkedError",
    "TrackedMasks",
    "TrackedVideo",
    "frame_ids",
    "ids_look_linked",
    "intensity_range_of",
    "lineage_from_labels",
    "track_extents",
    "validate_frame_ids",
    "validate_tracked",
    *_LAZY,
]


class _Package(types.ModuleType):
    """The package module: importing a submodule binds it as an attribute of the package, which
    for ``masksynth.calibrate`` (module and function of one name) would hide the function for
    good once anything imported the module first (``masksynth.batch`` does): ``from masksynth
    import calibrate`` then gave the module. The function is bound instead (so ``import
    masksynth.calibrate as m`` gives the function too; ``from masksynth.calibrate import NAME``
    and ``sys.modules["masksynth.calibrate"]`` reach the module)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == name and value.__name__ == f"{__name__}.{name}":
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'masksynth' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"masksynth.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
