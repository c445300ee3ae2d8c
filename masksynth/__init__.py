"""masksynth: tracked mask-sequence synthesis and augmentation (numpy/scipy/scikit-image/opencv, never torch)."""

from masksynth.tracked import (
    AXES,
    CTCValidationError,
    NotLinkedError,
    TrackedMasks,
    TrackedVideo,
    ids_look_linked,
    intensity_range_of,
    lineage_from_labels,
    track_extents,
    validate_tracked,
)

__all__ = [
    "AXES",
    "CTCValidationError",
    "NotLinkedError",
    "TrackedMasks",
    "TrackedVideo",
    "ids_look_linked",
    "intensity_range_of",
    "lineage_from_labels",
    "track_extents",
    "validate_tracked",
]
