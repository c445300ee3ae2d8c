"""Lineage graphs as GEFF (graph exchange file format), out of and into tracked sequences.

GEFF is the zarr graph format shared by trackastra, motile-tracker, ultrack, traccuracy and
napari-geff. Written with the ``geff`` package (its structure validator runs on every write).

What :func:`export_geff` writes for a sequence ``NAME``::

    OUT/NAME/                 zarr v3 group
        labels   (T, Y, X) uint16   track ids, 0 = background (a copy of the store's label image)
        tracks.geff/          the graph: one node per (track, frame), directed edges
                              node props t (frame), y, x (centroid, pixels), area (pixels),
                              track_id (CTC track id = the label value), lineage_id (root track id)
                              edges: continuation (frame t -> t+1 of a track) and division
                              (last node of the mother -> first node of each daughter)
                              metadata: axes t/y/x (time/frame, space/pixel),
                              track_node_props {tracklet: track_id, lineage: lineage_id},
                              related_objects [{type: labels, path: ../labels, node_prop: track_id}]

:func:`read_geff` turns a GEFF graph and its label image (as trackastra, motile-tracker,
ultrack or this module write them) into :class:`TrackedMasks`, checked with the CTC rules:
a linear run of nodes in consecutive frames is one track; a branch, a gap in time or a change
of tracklet id starts new tracks whose parent is the track before.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from masksynth.tracked import AXES, CTCValidationError, MAX_ID, TrackedMasks, frame_ids
from tgan_aug.errors import UserError

__all__ = [
    "GEFF_NAME",
    "TrackGraph",
    "export_geff",
    "import_geff",
    "read_geff",
    "tracks_graph",
    "write_geff",
    "write_geff_sequence",
]

#: Name of the graph group inside each exported sequence group.
GEFF_NAME = "tracks.geff"
_LABELS = "labels"
_TIME_NAMES = ("t", "time", "frame")
_SEG_NAMES = ("seg_id", "label")


@dataclass
class TrackGraph:
    """A tracking graph in arrays: one node per (track, frame).

    node_ids: (K,) uint64, 0..K-1, ordered by (track_id, t).
    t: (K,) int64 frame; y, x: (K,) float64 centroid in pixels; area: (K,) int64 pixels.
    track_id: (K,) int64 CTC track id (the label value); lineage_id: (K,) int64 root track id.
    edges: (E, 2) uint64 (source, target) node ids, forward in time.
    """

    node_ids: np.ndarray
    t: np.ndarray
    y: np.ndarray
    x: np.ndarray
    area: np.ndarray
    track_id: np.ndarray
    lineage_id: np.ndarray
    edges: np.ndarray

    def node_props(self) -> dict[str, dict[str, Any]]:
        """The node properties as geff ``{name: {"values": array, "missing": None}}``."""
        names = ("t", "y", "x", "area", "track_id", "lineage_id")
        return {n: {"values": getattr(self, n), "missing": None} for n in names}


def _roots(lineage: np.ndarray) -> dict[int, int]:
    """Track id -> id of its root ancestor (a track without parent)."""
    parent = {int(r[0]): int(r[3]) for r in lineage}
    roots: dict[int, int] = {}
    for tid in parent:
        path, cur = [], tid
        while cur not in roots and parent.get(cur, 0) > 0:
            path.append(cur)
            cur = parent[cur]
        root = roots.get(cur, cur)
        for p in (*path, cur):
            roots[p] = root
    return roots


def tracks_graph(frames: Iterable[np.ndarray], lineage: np.ndarray) -> TrackGraph:
    """Build the graph of a tracked sequence, reading its label frames one at a time.

    frames: iterable of (Y, X) uint16 label frames in time order (track ids, 0 = background).
    lineage: (N, 4) int64 rows id, t_start, t_end, parent (already checked against the frames).
    """
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("t", "id", "area", "y", "x")}
    grid: tuple[np.ndarray, np.ndarray] | None = None
    for t, frame in enumerate(frames):
        frame = np.asarray(frame)
        flat = frame.ravel()
        if grid is None or grid[0].size != flat.size:
            yy, xx = np.indices(frame.shape, dtype=np.float64)
            grid = (yy.ravel(), xx.ravel())
        ids = frame_ids(frame)
        n = int(flat.max()) + 1 if flat.size else 1
        area = np.bincount(flat, minlength=n)[ids]
        cols["t"].append(np.full(ids.size, t, dtype=np.int64))
        cols["id"].append(ids)
        cols["area"].append(area.astype(np.int64))
        cols["y"].append(np.bincount(flat, weights=grid[0], minlength=n)[ids] / area)
        cols["x"].append(np.bincount(flat, weights=grid[1], minlength=n)[ids] / area)
    arr = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in cols.items()}
    order = np.lexsort((arr["t"], arr["id"]))  # by track, then frame
    arr = {k: v[order] for k, v in arr.items()}
    track, t = arr["id"].astype(np.int64), arr["t"].astype(np.int64)
    k = track.size
    node_ids = np.arange(k, dtype=np.uint64)
    same = np.flatnonzero(track[1:] == track[:-1])  # tracks have no gaps (CTC rule)
    edges = [np.stack([node_ids[same], node_ids[same + 1]], axis=1)]
    ends = np.r_[np.flatnonzero(track[1:] != track[:-1]), k - 1] if k else np.zeros(0, dtype=np.int64)
    starts = np.r_[0, ends[:-1] + 1] if k else ends
    first = {int(track[j]): int(j) for j in starts}
    last = {int(track[j]): int(j) for j in ends}
    division = [(last[int(p)], first[int(c)]) for c, _, _, p in lineage if p > 0]
    if division:
        edges.append(np.asarray(division, dtype=np.uint64))
    roots = _roots(np.asarray(lineage))
    return TrackGraph(
        node_ids=node_ids,
        t=t,
        y=arr["y"].astype(np.float64),
        x=arr["x"].astype(np.float64),
        area=arr["area"].astype(np.int64),
        track_id=track,
        lineage_id=np.array([roots[int(i)] for i in track], dtype=np.int64),
        edges=np.concatenate(edges).astype(np.uint64).reshape(-1, 2),
    )


def _only_child_parents(lineage: np.ndarray) -> bool:
    """True when some track has exactly one daughter (its tracks are then not GEFF tracklets)."""
    parents = lineage[:, 3][lineage[:, 3] > 0]
    return bool(parents.size) and bool((np.unique(parents, return_counts=True)[1] == 1).any())


def write_geff(
    path: str | os.PathLike,
    graph: TrackGraph,
    lineage: np.ndarray,
    *,
    labels_path: str = f"../{_LABELS}",
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``graph`` as a GEFF group at ``path`` (zarr v3; validated by geff before returning).

    lineage: (N, 4) the CTC rows the graph came from (decides whether track ids are GEFF
        tracklets: a mother with a single daughter makes a path that GEFF counts as one tracklet).
    labels_path: the label image (values = ``track_id``), relative to the GEFF group.
    extra: JSON-serialisable facts stored under ``extra.tgan_aug`` (provenance, shape).
    """
    import geff
    from geff.core_io import write_arrays
    from geff_spec import Axis, DisplayHint, GeffMetadata, RelatedObject

    types = {"t": ("time", "frame"), "y": ("space", "pixel"), "x": ("space", "pixel")}
    track_props = {"lineage": "lineage_id"}
    if not _only_child_parents(np.asarray(lineage)):
        track_props["tracklet"] = "track_id"
    metadata = GeffMetadata(
        geff_version=geff.__version__,
        directed=True,
        axes=[Axis(name=a, type=types[a][0], unit=types[a][1]) for a in AXES],
        node_props_metadata={},
        edge_props_metadata={},
        track_node_props=track_props,  # type: ignore[arg-type]
        related_objects=[RelatedObject(type="labels", path=labels_path, node_prop="track_id")],
        display_hints=DisplayHint(display_horizontal="x", display_vertical="y", display_time="t"),
        extra={"tgan_aug": {"track_prop": "track_id", **(extra or {})}},
    )
    write_arrays(
        str(path), graph.node_ids, graph.node_props(), graph.edges, {}, metadata, zarr_format=3
    )


def write_geff_sequence(
    out_dir: str | os.PathLike,
    name: str,
    labels: Any,
    lineage: np.ndarray,
    *,
    facts: dict[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Write one tracked sequence as ``OUT/NAME/`` (``labels`` + ``tracks.geff``), frame by frame.

    labels: (T, Y, X) uint16 track ids, array-like indexed per frame (numpy or zarr).
    lineage: (N, 4) int64 CTC rows, already checked against the labels.
    facts: JSON-serialisable facts kept in the graph's ``extra.tgan_aug`` (source, provenance).
    The group appears under its final name only when complete. Returns the tracks.geff path.
    """
    import zarr

    from tgan_aug.io.store import _compressors

    out_dir = Path(out_dir)
    final, tmp = out_dir / name, out_dir / f".{name}.partial"
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir} is a file; give a folder for the GEFF output")
    if final.exists() and not overwrite:
        raise UserError(f"{final} already exists; pass overwrite=True (--overwrite) to replace it")
    shape = tuple(int(s) for s in labels.shape)
    shutil.rmtree(tmp, ignore_errors=True)
    group = zarr.open_group(str(tmp), mode="w", zarr_format=3)
    copy = group.create_array(
        _LABELS, shape=shape, chunks=(1, *shape[1:]), dtype="uint16", fill_value=0,
        compressors=_compressors(), dimension_names=AXES,
    )

    def frames() -> Iterator[np.ndarray]:
        for t in tqdm(range(shape[0]), desc=f"GEFF {name}", unit="frame", disable=not progress, leave=False):
            frame = np.asarray(labels[t])
            copy[t] = frame
            yield frame

    graph = tracks_graph(frames(), lineage)
    write_geff(tmp / GEFF_NAME, graph, lineage, extra={"sequence": name, "shape": list(shape), **(facts or {})})
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final / GEFF_NAME


def export_geff(
    store: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    sequences: list[str] | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Path]:
    """Write store sequences as GEFF graphs with their label images, streaming frame by frame.

    store: a tgan-aug store; sequences: names to export (None = all).
    out_dir: folder receiving one zarr group per sequence, ``OUT/NAME/`` with ``labels`` and
        ``tracks.geff`` (see the module docstring). A group appears only when complete.
    overwrite: replace existing ``OUT/NAME`` groups (checked for all before anything is written).
    Returns {store name: path of its tracks.geff}.
    """
    from tgan_aug.io.store import choose_sequences, open_store_sequence

    store, out_dir = Path(store), Path(out_dir)
    names = choose_sequences(store, sequences)
    opened = {name: open_store_sequence(store, name) for name in names}  # incomplete -> fails here
    if not overwrite:
        for name in names:
            if (out_dir / name).exists():
                raise UserError(f"{out_dir / name} already exists; pass overwrite=True (--overwrite) to replace it")
    written = {}
    for name, seq in opened.items():
        facts = {"source": str(store), "provenance": seq.provenance}
        try:
            written[name] = write_geff_sequence(
                out_dir, name, seq.labels, seq.lineage, facts=facts, overwrite=overwrite, progress=progress
            )
        except RuntimeError as exc:  # damaged zarr chunk (checksum / decode error)
            raise UserError(f"{store}/{name}: a chunk is unreadable ({exc}); write the sequence again") from None
    return written


# ---------------------------------------------------------------------------------------------
# reading


@dataclass
class _Plan:
    """How to turn a GEFF graph into CTC tracks: per node its frame, label value and track."""

    t: np.ndarray  # (K,) int64 frame of each node
    seg: np.ndarray  # (K,) int64 label value of each node in its frame
    track: np.ndarray  # (K,) int64 CTC track id of each node
    lineage: np.ndarray  # (N, 4) int64 CTC rows
    labels: Any  # (T, Y, X) array-like of segment ids (zarr or numpy)


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
    for sibling in ("segmentation", _LABELS):  # trackastra writes ../segmentation
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
    return _Plan(t=t, seg=seg, track=track, lineage=lineage, labels=label_arr)


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
    overwrite: bool = False,
    progress: bool = False,
) -> str:
    """Write a GEFF graph + label image into a store as one sequence, streaming frame by frame.

    name: the sequence name (None: the name the graph was exported from, else the next seqNNN).
    labels, seg_prop: see :func:`read_geff`. Returns the sequence name.
    """
    from geff_spec import GeffMetadata

    from tgan_aug.io.store import StoreWriter, _next_name

    path, store = Path(path), Path(store)
    plan = _plan(path, labels, seg_prop)
    if name is None:
        facts = GeffMetadata.read(str(path)).extra.get("tgan_aug", {})
        name = facts.get("sequence") or _next_name(store)
    shape = tuple(int(s) for s in (plan.labels.shape[0], *plan.labels.shape[-2:]))
    provenance = {"source": str(path), "format": "geff"}
    with StoreWriter(store, name, shape=shape, provenance=provenance, overwrite=overwrite) as writer:
        frames = _frames(plan, path)
        for t, frame in enumerate(tqdm(frames, total=shape[0], desc=f"importing {name}", unit="frame", disable=not progress, leave=False)):
            writer.write_frame(t, frame)
        try:
            writer.finalize(plan.lineage)
        except CTCValidationError as exc:
            raise UserError(f"{path}: {exc}") from None
    return str(name)
