"""Cell segmentation: fine-tune DeepSea's shipped segmentation network (or train a small U-Net)
on real, synthetic or mixed CTC data, and turn its output into per-frame instance masks that
the trackers take as detections.

Modules: :mod:`.config` (settings with presets), :mod:`.nets` (networks, model folders),
:mod:`.data` (targets, frames, mixing, crops), :mod:`.train` (the loop), :mod:`.predict`
(network -> instance masks, CTC result folders), :mod:`.evaluate` (SEG and detection F1).

Example::

    from tgan_aug.segment import fit_segmenter, Segmenter
    fit_segmenter(["data/bacteria-phc"], [], "runs/seg", ratio=0)      # fine-tune DeepSea
    labels = Segmenter.from_folder("runs/seg").segment(images)        # (T, Y, X) uint16
"""

from tgan_aug.segment.config import PostprocessConfig, SegmenterConfig
from tgan_aug.segment.evaluate import segmentation_scores
from tgan_aug.segment.predict import Segmenter, segment_path
from tgan_aug.segment.train import fit_segmenter, train_segmenter

__all__ = [
    "PostprocessConfig",
    "SegmenterConfig",
    "Segmenter",
    "fit_segmenter",
    "segment_path",
    "segmentation_scores",
    "train_segmenter",
]
