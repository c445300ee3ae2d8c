"""Where a tracker's identity switches come from: MOTA's ``IDSW`` split by what the tracker did.

With ground-truth detections (every reference cell detected, nothing else), MOTA is
``1 - IDSW / detections``; py-ctcmetrics counts an identity switch whenever a reference track's
matched result track changes from one frame to the next. :func:`id_switch_causes` gives every
such switch its cause, read from the result's lineage:

- ``wrong link``: the cell's result track continues another cell of the previous frame;
- ``false division``: the result divided the cell (its track ended and this cell is a daughter);
- ``wrong mother``: the cell became the daughter of another cell;
- ``missed link``: the cell starts a new result track with no parent.

:func:`division_outcomes` says what happened at each reference division: ``found`` (both
daughters are result daughters of the mother's track), ``mother continues`` (one daughter
continues the mother's result track: no identity switch, so MOTA does not see the miss) or
``other``; ``result divisions`` counts the divisions the result calls. MOTA with ground-truth
detections therefore rewards calling no division at all; read it with ``BC(1)`` (division F1).

Matching is CTC's: a result object matches a reference object when it covers more than half of
its pixels. Example::

    causes = id_switch_causes(reference, tracked)   # TrackedMasks each, same (T, Y, X)
    causes["false division"]
"""

from __future__ import annotations

import numpy as np

from masksynth.tracked import TrackedMasks
from tgan_aug.errors import UserError

__all__ = ["ID_SWITCH_CAUSES", "division_outcomes", "id_switch_causes", "matched_ids"]

ID_SWITCH_CAUSES = ("wrong link", "false division", "wrong mother", "missed link")


def matched_ids(reference: np.ndarray, result: np.ndarray) -> list[dict[int, int]]:
    """Per frame, reference id -> the result id covering more than half of its pixels (CTC matching).

    reference, result: (T, Y, X) integer label images (0 = background). Unmatched reference ids are left out.
    """
    reference, result = np.asarray(reference), np.asarray(result)
    if reference.shape != result.shape:
        raise UserError(f"reference {reference.shape} and result {result.shape} label images differ in shape")
    out = []
    for ref, res in zip(reference, result):
        fg = ref > 0
        pairs, counts = np.unique(np.stack([ref[fg], res[fg]]).astype(np.int64), axis=1, return_counts=True)
        sizes = dict(zip(*np.unique(ref[fg], return_counts=True)))
        out.append({int(a): int(b) for (a, b), n in zip(pairs.T, counts) if b > 0 and 2 * n > sizes[a]})
    return out


def id_switch_causes(reference: TrackedMasks, tracked: TrackedMasks) -> dict[str, int]:
    """Count MOTA's identity switches by cause (module docstring) plus ``continuations`` (reference
    links between consecutive frames whose cells are matched in both) and ``kept`` (links whose
    result track stays the same). ``sum(causes) == continuations - kept`` = py-ctcmetrics' IDSW when
    every reference cell is matched."""
    ids = matched_ids(reference.labels, tracked.labels)
    rows = {int(r[0]): (int(r[1]), int(r[3])) for r in tracked.lineage}  # id -> (t_start, parent)
    counts = dict.fromkeys(("continuations", "kept", *ID_SWITCH_CAUSES), 0)
    for t in range(len(ids) - 1):
        for cell, before in ids[t].items():
            after = ids[t + 1].get(cell)
            if after is None:
                continue
            counts["continuations"] += 1
            start, parent = rows[after]
            if after == before:
                cause = "kept"
            elif start <= t:
                cause = "wrong link"
            elif parent == before:
                cause = "false division"
            else:
                cause = "wrong mother" if parent else "missed link"
            counts[cause] += 1
    return counts


def division_outcomes(reference: TrackedMasks, tracked: TrackedMasks) -> dict[str, int]:
    """What the result did at each reference division whose three cells it matched (module docstring)."""
    ids = matched_ids(reference.labels, tracked.labels)
    ref_end = {int(r[0]): int(r[2]) for r in reference.lineage}
    rows = {int(r[0]): (int(r[1]), int(r[3])) for r in tracked.lineage}
    daughters: dict[int, list[int]] = {}
    for r in reference.lineage:
        if r[3]:
            daughters.setdefault(int(r[3]), []).append(int(r[0]))
    out = {"found": 0, "mother continues": 0, "other": 0}
    for mother, kids in daughters.items():
        t = ref_end.get(mother, -1)
        if len(kids) != 2 or not 0 <= t < len(ids) - 1 or mother not in ids[t] or any(k not in ids[t + 1] for k in kids):
            continue
        m, ds = ids[t][mother], [ids[t + 1][k] for k in kids]
        if all(rows[d] == (t + 1, m) for d in ds):
            out["found"] += 1
        else:
            out["mother continues" if m in ds else "other"] += 1
    children: dict[int, int] = {}
    for r in tracked.lineage:
        if r[3]:
            children[int(r[3])] = children.get(int(r[3]), 0) + 1
    out["result divisions"] = sum(n >= 2 for n in children.values())
    return out
