"""Lineage graphs out as GEFF (graph exchange file format): ``tgan-aug export-geff``.

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

Reading graphs back: :mod:`tgan_aug.io.geff_import`.
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

from masksynth.tracked import AXES, frame_ids
from tgan_aug.errors import UserError

__all__ = ["GEFF_NAME", "LABELS_NAME", "TrackGraph", "check_geff_targets", "export_geff", "tracks_graph", "write_geff", "write_geff_sequence"]

#: Name of the graph group inside each exported sequence group, and of the label image beside it.
GEFF_NAME = "tracks.geff"
LABELS_NAME = "labels"


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
    labels_path: str = f"../{LABELS_NAME}",
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
        LABELS_NAME, shape=shape, chunks=(1, *shape[1:]), dtype="uint16", fill_value=0,
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


def check_geff_targets(store: str | os.PathLike, out_dir: str | os.PathLike, *, sequences: list[str] | None = None,
                       overwrite: bool = False) -> list[str]:
    """The store sequences :func:`export_geff` would write; a :class:`UserError` when one of their
    ``OUT/NAME`` groups exists and ``overwrite`` is False (callers writing other outputs first check
    here before anything is written)."""
    from tgan_aug.io.store import choose_sequences

    names = choose_sequences(Path(store), sequences)
    if not overwrite:
        for name in names:
            if (Path(out_dir) / name).exists():
                raise UserError(f"{Path(out_dir) / name} already exists; pass overwrite=True (--overwrite) to replace it")
    return names


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
    from tgan_aug.io.store import open_store_sequence

    store, out_dir = Path(store), Path(out_dir)
    names = check_geff_targets(store, out_dir, sequences=sequences, overwrite=overwrite)
    opened = {name: open_store_sequence(store, name) for name in names}  # incomplete -> fails here
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
