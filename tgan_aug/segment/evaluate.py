"""Segmentation scores: the CTC ``SEG`` measure from ``py-ctcmetrics`` plus detection F1 and
foreground Dice.

- ``SEG``: for every reference object, the IoU with the result object that covers more than
  half of it (0 when none), averaged over reference objects (py-ctcmetrics ``match`` + ``seg``).
- ``Precision``, ``Recall``, ``F1``: one-to-one matches at IoU > 0.5 (unique by construction).
- ``Dice``: pixel-wise Dice of the foregrounds, pooled over frames.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np

from tgan_aug.errors import UserError, require

__all__ = ["segmentation_scores"]


def segmentation_scores(gt: np.ndarray, pred: np.ndarray) -> dict[str, float | int]:
    """Score instance masks against reference instance masks.

    gt, pred: (T, Y, X) (or (Y, X)) integer instance masks, 0 = background; ids need not be
    linked over time. Returns ``{"SEG", "Precision", "Recall", "F1", "Dice", "n_ref", "n_pred", "TP"}``.
    """
    require("ctc_metrics", "trackers")
    import tifffile
    from ctc_metrics.metrics import seg
    from ctc_metrics.utils.representations import match

    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.ndim == 2:
        gt, pred = gt[None], pred[None]
    if gt.shape != pred.shape or gt.ndim != 3:
        raise UserError(f"reference masks {gt.shape} and result masks {pred.shape} must have the same (T, Y, X)")
    labels_ref, ious = [], []
    n_pred = 0
    with tempfile.TemporaryDirectory(prefix="tgan_aug_seg_") as tmp:
        for t in range(gt.shape[0]):
            ref_path, comp_path = Path(tmp) / f"ref{t}.tif", Path(tmp) / f"comp{t}.tif"
            tifffile.imwrite(ref_path, gt[t].astype(np.uint16))
            tifffile.imwrite(comp_path, pred[t].astype(np.uint16))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref_ids, comp_ids, _, _, iou = match(str(ref_path), str(comp_path))
            labels_ref.append(list(ref_ids))
            ious.append(np.asarray(iou, dtype=float))
            n_pred += len(comp_ids)
    n_ref = sum(len(r) for r in labels_ref)
    tp = int(sum(int((i > 0.5).sum()) for i in ious))
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_ref if n_ref else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    a, b = gt > 0, pred > 0
    denom = int(a.sum()) + int(b.sum())
    dice = 2 * float((a & b).sum()) / denom if denom else 1.0
    seg_score = seg(labels_ref, ious) if n_ref else 0.0
    return {"SEG": float(seg_score), "Precision": precision, "Recall": recall, "F1": f1, "Dice": dice,
            "n_ref": n_ref, "n_pred": n_pred, "TP": tp}
