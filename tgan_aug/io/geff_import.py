"""Lineage graphs in from GEFF: ``tgan-aug import-geff``.

:func:`read_geff` turns a GEFF graph and its label image (as trackastra, motile-tracker,
ultrack or :mod:`tgan_aug.io.geff_export` write them) into :class:`TrackedMasks`, checked with
the CTC rules: a linear run of nodes in consecutive frames is one track; a branch, a gap in time
or a change of tracklet id starts new tracks whose parent is the track before; merges are refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from masksynth.tracked import MAX_ID, CTCValidationError, TrackedMasks, frame_ids
from tgan_aug.errors import UserError
from tgan_aug.io.geff_export import LABELS_NAME

__all__ = ["import_geff", "read_geff"]

_TIME_NAMES = ("t", "time", "frame")
_SEG_NAMES = ("seg_id", "label")


@dataclass
class _Plan:
    """How to turn a GEFF graph into CTC tracks: per node its frame, label value and track."""

    t: np.ndarray  # (K,) int64 frame of each node
    seg: np.ndarray  # (K,) int64 label value of each node in its frame
    track: np.ndarray  # (K,) int64 CTC track id of each node
    lineage: np.ndarray  # (N, 4) int64 CTC rows
    labels: Any  # (T, Y, X) array-like of segment ids (zarr or numpy)
    facts: dict  # what tgan-aug's export recorded in the metadata (``extra["tgan_aug"]``), or {}


def _prop(mem: dict, name: str | None) -> np.ndarray | None:
    if name is None or name not in mem["node_props"]:
        return None
    p = mem["node_props"][name]
    if p.get("missing") is not None and np.any(p["missing"]):
        raise UserError(f"node property {name!r} is missing on some nodes; every node needs it")
    return np.asarray(p["values"])


def _open_labels(where: str | os.PathLike) -> Any:
    """The (T, Y, X) label array at ``where``: a zarr array, or an OME-Zarr image's level 0."""
    import zarr

    try:
        node = zarr.open(str(where), mode="r")
    except Exception as exc:
        raise UserError(f"cannot open the label image {where} ({exc}); give it with --labels") from None
    if isinstance(node, zarr.Group):
        attrs = dict(node.attrs)
        multi = (attrs.get("ome") or {}).get("multiscales") or attrs.get("multiscales")
        if not multi:
            raise UserError(f"{where} is a zarr group without OME multiscales; give the label array with --labels")
        node = node[multi[0]["datasets"][0]["path"]]
    shape = tuple(node.shape)
    while len(shape) > 3 and shape[1] == 1:  # (T, C, Z, Y, X) with singleton C / Z
        shape = (shape[0], *shape[2:])
    if len(shape) != 3:
        raise UserError(f"{where} has shape {tuple(node.shape)}; tgan-aug reads 2D+t label images (T, Y, X)")
    if np.dtype(node.dtype).kind not in "iu":
        raise UserError(f"{where} has dtype {node.dtype}; a label image holds integer ids")
    return node


def _find_labels(path: Path, meta, labels: str | os.PathLike | None) -> tuple[Any, str | None]:
    """The label image and the node property naming each node's label value (or None)."""
    related = [r for r in (meta.related_objects or []) if r.type == "labels"]
    prop = None
    if related:
        r = related[0]
        prop = r.node_prop or getattr(r, "label_prop", None)
    if labels is not None:
        return _open_labels(labels), prop
    if related:
        return _open_labels(os.path.normpath(path / related[0].path)), prop
    for sibling in ("segmentation", LABELS_NAME):  # trackastra writes ../segmentation
        if (path.parent / sibling).exists():
            return _open_labels(path.parent / sibling), prop
    raise UserError(f"{path} names no label image (related_objects); give it with --labels PATH")


def _plan(path: Path, labels: str | os.PathLike | None, seg_prop: str | None) -> _Plan:
    from geff.core_io import read_to_memory

    if not path.exists():
        raise UserError(f"{path} does not exist; give the path of a GEFF graph (a .geff zarr group)")
    try:
        mem = read_to_memory(str(path))
    except Exception as exc:  # geff's structure validation: pydantic / ValueError / zarr errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path} is not a valid GEFF graph ({first})") from None
    meta = mem["metadata"]
    time_axes = [a.name for a in (meta.axes or []) if a.type == "time"]
    tname = next((n for n in (*time_axes, *_TIME_NAMES) if n in mem["node_props"]), None)
    if tname is None:
        raise UserError(f"{path}: no time property on the nodes (an axis of type 'time', or t/time/frame)")
    t_raw = _prop(mem, tname)
    t = np.rint(t_raw).astype(np.int64)
    if not np.allclose(t, t_raw):
        raise UserError(f"{path}: node property {tname!r} has non-integer frames; CTC tracks need frame indices")
    tracklet = (meta.track_node_props or {}).get("tracklet") or meta.extra.get("tgan_aug", {}).get("track_prop")
    track_vals = _prop(mem, tracklet)
    label_arr, related_prop = _find_labels(path, meta, labels)
    names = [n for n in (seg_prop, related_prop, *_SEG_NAMES, tracklet) if n]
    sname = next((n for n in names if n in mem["node_props"]), None)
    if seg_prop is not None and sname != seg_prop:
        raise UserError(f"{path}: no node property {seg_prop!r} (--seg-prop); nodes have {', '.join(mem['node_props'])}")
    if sname is None:
        raise UserError(f"{path}: no node property gives each node's label value; name it with --seg-prop")
    seg = _prop(mem, sname).astype(np.int64)
    n_frames = int(label_arr.shape[0])
    bad = np.flatnonzero((t < 0) | (t >= n_frames))
    if bad.size:
        raise UserError(f"{path}: node {mem['node_ids'][bad[0]]} is at frame {t[bad[0]]}, outside the label image's 0..{n_frames - 1}")
    if (seg <= 0).any():
        node = mem["node_ids"][np.flatnonzero(seg <= 0)[0]]
        raise UserError(f"{path}: node {node} has label value {seg[seg <= 0][0]} ({sname}); label values must be > 0")
    track, lineage = _link(path, np.asarray(mem["node_ids"]), np.asarray(mem["edge_ids"]).reshape(-1, 2), t, track_vals)
    return _Plan(t=t, seg=seg, track=track, lineage=lineage, labels=label_arr,
                 facts=dict((meta.extra or {}).get("tgan_aug", {})))


def _link(
    path: Path, node_ids: np.ndarray, edges: np.ndarray, t: np.ndarray, tracklet: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """CTC tracks from graph edges: (K,) track id per node and the (N, 4) lineage rows."""
    k = node_ids.size
    sorter = np.argsort(node_ids, kind="stable")
    if k and np.any(node_ids[sorter][1:] == node_ids[sorter][:-1]):
        raise UserError(f"{path}: node ids are not unique")
    pos = sorter[np.searchsorted(node_ids, edges, sorter=sorter)] if edges.size else np.zeros((0, 2), np.int64)
    if edges.size and not np.array_equal(node_ids[pos], edges):
        raise UserError(f"{path}: an edge names a node that does not exist")
    src, dst = pos[:, 0], pos[:, 1]
    back = np.flatnonzero(t[dst] <= t[src])
    if back.size:
        e = edges[back[0]]
        raise UserError(f"{path}: edge {e[0]} -> {e[1]} does not go forward in time (frames {t[src[back[0]]]} -> {t[dst[back[0]]]})")
    indeg, outdeg = np.bincount(dst, minlength=k), np.bincount(src, minlength=k)
    if (indeg > 1).any():
        node = node_ids[np.flatnonzero(indeg > 1)[0]]
        raise UserError(f"{path}: node {node} has {indeg.max()} incoming edges (a merge); CTC tracks cannot merge")
    pred = np.full(k, -1, dtype=np.int64)
    pred[dst] = src
    track = np.zeros(k, dtype=np.int64)
    rows: list[list[int]] = []  # [first node, last node, parent track index + 1]
    for n in np.lexsort((node_ids, t)):  # by frame, then node id: predecessors come first
        p = pred[n]
        cont = p >= 0 and outdeg[p] == 1 and t[n] == t[p] + 1
        if cont and tracklet is not None:
            cont = tracklet[n] == tracklet[p]
        if cont:
            track[n] = track[p]
            rows[track[n] - 1][1] = n
        else:
            rows.append([n, n, int(track[p]) if p >= 0 else 0])
            track[n] = len(rows)
    ids = np.arange(1, len(rows) + 1, dtype=np.int64)
    if tracklet is not None and rows:
        given = np.array([int(tracklet[r[0]]) for r in rows], dtype=np.int64)
        if given.min() > 0 and given.max() <= MAX_ID and np.unique(given).size == given.size:
            ids = given  # keep the graph's track ids when they are valid CTC ids
    if ids.size and ids.max() > MAX_ID:
        raise UserError(f"{path}: {ids.size} tracks do not fit uint16 label ids (at most {MAX_ID})")
    lineage = np.array(
        [[ids[i], t[f], t[l], ids[par - 1] if par else 0] for i, (f, l, par) in enumerate(rows)], dtype=np.int64
    ).reshape(-1, 4)
    return ids[track - 1] if k else track, lineage


def _frames(plan: _Plan, path: Path) -> Iterator[np.ndarray]:
    """The label frames relabelled to track ids (segments without a node become background)."""
    order = np.argsort(plan.t, kind="stable")
    bounds = np.searchsorted(plan.t[order], np.arange(plan.labels.shape[0] + 1))
    for t in range(plan.labels.shape[0]):
        frame = np.asarray(plan.labels[t]).reshape(plan.labels.shape[-2:])
        nodes = order[bounds[t] : bounds[t + 1]]
        seg, tid = plan.seg[nodes], plan.track[nodes]
        if np.unique(seg).size != seg.size:
            raise UserError(f"{path}: two nodes at frame {t} share one label value; each node needs its own segment")
        present = frame_ids(frame)
        absent = seg[~np.isin(seg, present)]
        if absent.size:
            raise UserError(f"{path}: frame {t} has no segment with label value {absent[0]} named by a node")
        lut = np.zeros(int(max(present.max(initial=0), seg.max(initial=0))) + 1, dtype=np.uint16)
        lut[seg] = tid
        yield lut[frame]


def read_geff(
    path: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    seg_prop: str | None = None,
) -> TrackedMasks:
    """Read a GEFF graph and its label image as :class:`TrackedMasks` (CTC rules checked).

    path: the GEFF group (e.g. ``OUT/seq000/tracks.geff``, trackastra's ``tracking_graph.geff``).
    labels: the label image (T, Y, X) (a zarr array or OME-Zarr image); default: the graph's
        ``related_objects`` entry of type labels, else a sibling ``segmentation`` or ``labels``.
    seg_prop: node property holding each node's value in the label image; default: the related
        object's ``node_prop``, else ``seg_id``, ``label``, then the tracklet property.
    Track ids are the graph's tracklet ids when they form valid CTC tracks, else 1..N in order
    of appearance. Raises UserError naming the file, node or frame that breaks a rule.
    """
    path = Path(path)
    plan = _plan(path, labels, seg_prop)
    out = np.stack(list(_frames(plan, path))) if plan.labels.shape[0] else np.zeros(plan.labels.shape, np.uint16)
    try:
        return TrackedMasks(out, plan.lineage)
    except CTCValidationError as exc:
        raise UserError(f"{path}: {exc}") from None


def import_geff(
    path: str | os.PathLike,
    store: str | os.PathLike,
    *,
    name: str | None = None,
    labels: str | os.PathLike | None = None,
    seg_prop: str | None = None,
    append: bool = False,
    overwrite: bool = False,
    flag: str = "STORE",
    progress: bool = False,
) -> str:
    """Write a GEFF graph + label image into a store as one sequence, streaming frame by frame.

    name: the sequence name (None: the name the graph was exported from, else the next seqNNN).
    labels, seg_prop: see :func:`read_geff`. An existing non-empty store is refused unless
    ``append`` (add the sequence) or ``overwrite`` (``flag`` names the store in that message); a
    failed import removes the store it created.
    Returns the sequence name.
    """
    from tgan_aug.io.outputs import removed_on_failure
    from tgan_aug.io.store import StoreWriter, _next_name, check_store_target

    path, store = Path(path), Path(store)
    check_store_target(store, append=append, overwrite=overwrite, flag=flag)
    plan = _plan(path, labels, seg_prop)
    if name is None:
        name = plan.facts.get("sequence") or _next_name(store)
    shape = tuple(int(s) for s in (plan.labels.shape[0], *plan.labels.shape[-2:]))
    provenance = {"source": str(path), "format": "geff"}
    with removed_on_failure(store), StoreWriter(store, name, shape=shape, provenance=provenance, overwrite=overwrite) as writer:
        frames = _frames(plan, path)
        for t, frame in enumerate(tqdm(frames, total=shape[0], desc=f"importing {name}", unit="frame", disable=not progress, leave=False)):
            writer.write_frame(t, frame)
        try:
            writer.finalize(plan.lineage)
        except CTCValidationError as exc:
            raise UserError(f"{path}: {exc}") from None
    return str(name)
