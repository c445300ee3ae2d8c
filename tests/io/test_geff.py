"""GEFF lineage graphs: export validated by geff, exact read-back, import of graphs written by others."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from geff.core_io import read_to_memory
from geff.validate.data import ValidationConfig
from geff.validate.structure import validate_structure
from skimage.measure import regionprops

from masksynth import TrackedMasks
from tgan_aug.errors import UserError
from tgan_aug.io import read_store, write_ctc, write_store
from tgan_aug.io.geff_export import export_geff
from tgan_aug.io.geff_import import import_geff, read_geff

_ALL_CHECKS = ValidationConfig(graph=True, lineage=True, tracklet=True)


def _export(tmp_path, data, name="seq000"):
    write_store(tmp_path / "s.zarr", data, name=name)
    return export_geff(tmp_path / "s.zarr", tmp_path / "g")[name]


def _gap_closed(tracked: TrackedMasks) -> TrackedMasks:
    """Track 2 disappears for one frame and comes back as track 6 (one daughter, parent 2)."""
    labels = tracked.labels.copy()
    labels[2][labels[2] == 2] = 0
    later = labels[3:] == 2
    labels[3:][later] = 6
    lineage = tracked.lineage.tolist()
    lineage[1] = [2, 0, 1, 0]
    lineage.append([6, 3, tracked.n_frames - 1, 2])
    return TrackedMasks(labels, np.array(lineage))


def test_export_validates_and_carries_axes_tracks_and_labels(tmp_path, tracked):
    geff_path = _export(tmp_path, tracked)
    validate_structure(str(geff_path))
    mem = read_to_memory(str(geff_path), data_validation=_ALL_CHECKS)  # raises on invalid data
    meta = mem["metadata"]
    assert [(a.name, a.type, a.unit) for a in meta.axes] == [
        ("t", "time", "frame"), ("y", "space", "pixel"), ("x", "space", "pixel")]
    assert meta.track_node_props == {"tracklet": "track_id", "lineage": "lineage_id"}
    [rel] = meta.related_objects
    assert (rel.type, rel.node_prop) == ("labels", "track_id")
    related = zarr.open_array(str((geff_path / rel.path).resolve()), mode="r")
    np.testing.assert_array_equal(related[...], tracked.labels)

    props = {k: v["values"] for k, v in mem["node_props"].items()}
    lengths = tracked.lineage[:, 2] - tracked.lineage[:, 1] + 1
    assert len(mem["node_ids"]) == lengths.sum()
    n_children = int((tracked.lineage[:, 3] > 0).sum())
    assert len(mem["edge_ids"]) == (lengths - 1).sum() + n_children
    # positions and areas against scikit-image's regionprops, node by node
    for t in range(tracked.n_frames):
        for region in regionprops(tracked.labels[t]):
            [k] = np.flatnonzero((props["t"] == t) & (props["track_id"] == region.label))
            assert props["area"][k] == region.area
            np.testing.assert_allclose((props["y"][k], props["x"][k]), region.centroid)
    # daughters 4, 5 belong to lineage 1; divisions are edges from mother's last node
    assert set(props["lineage_id"][np.isin(props["track_id"], [4, 5])]) == {1}
    ids = dict(zip(mem["node_ids"].tolist(), zip(props["track_id"].tolist(), props["t"].tolist())))
    division = sorted(ids[b] for a, b in mem["edge_ids"].tolist() if ids[a][0] != ids[b][0])
    assert division == [(4, 3), (5, 3)] and all(ids[a] == (1, 2) for a, b in mem["edge_ids"].tolist() if ids[b][0] in (4, 5) and ids[a][0] == 1)


def test_read_back_is_exact_and_import_writes_a_store(tmp_path, tracked):
    geff_path = _export(tmp_path, tracked, name="clip")
    back = read_geff(geff_path)
    assert back == tracked  # same ids, lineage and pixels
    assert import_geff(geff_path, tmp_path / "new.zarr") == "clip"  # keeps the exported name
    assert read_store(tmp_path / "new.zarr", "clip") == tracked
    assert read_store(tmp_path / "new.zarr", "clip").labels.dtype == np.uint16


def test_only_child_tracks_round_trip_without_claiming_tracklets(tmp_path, tracked):
    data = _gap_closed(tracked)
    geff_path = _export(tmp_path, data)
    mem = read_to_memory(str(geff_path), data_validation=ValidationConfig(graph=True, lineage=True))
    assert mem["metadata"].track_node_props == {"lineage": "lineage_id"}  # 2 -> 6 is no GEFF tracklet
    assert read_geff(geff_path) == data


def test_geff_written_by_geff_ctc_converter_imports(tmp_path, tracked):
    pytest.importorskip("dask", reason="geff's CTC converter needs dask (geff[ctc])")
    from geff.convert import from_ctc_to_geff

    write_ctc(tmp_path / "ctc", tracked, sequence="01")
    geff_path = tmp_path / "out.zarr" / "tracks.geff"
    from_ctc_to_geff(tmp_path / "ctc" / "01_GT" / "TRA", geff_path, segmentation_store=str(tmp_path / "out.zarr" / "seg"), zarr_format=3)
    assert read_geff(geff_path) == tracked


def test_trackastra_graph_with_per_frame_ids_is_relinked(tmp_path, tracked):
    """trackastra writes nodes (label, time, y, x) over per-frame ids and a sibling 'segmentation'."""
    import networkx as nx

    utils = pytest.importorskip("trackastra.tracking.utils", reason="needs trackastra (pip install tgan-aug[trackers])")
    write_to_geff = utils.write_to_geff

    seg = np.zeros_like(tracked.labels)
    graph, last = nx.DiGraph(), {}
    for t in range(tracked.n_frames):
        for k, tid in enumerate(np.unique(tracked.labels[t])[1:]):
            value = 10 + 3 * k + t % 2  # ids that change from frame to frame
            seg[t][tracked.labels[t] == tid] = value
            ys, xs = np.nonzero(tracked.labels[t] == tid)
            node = 100 * t + value
            graph.add_node(node, label=value, time=t, coords=[ys.mean(), xs.mean()])
            parent = int(tracked.lineage[tracked.lineage[:, 0] == tid][0, 3])
            source = last.get(tid, last.get(parent))
            if source is not None:
                graph.add_edge(source, node)
            last[tid] = node
    write_to_geff(graph, seg, tmp_path / "ta.zarr")
    back = read_geff(tmp_path / "ta.zarr" / "tracking_graph.geff")
    assert back.n_tracks == tracked.n_tracks and back.n_divisions == 1
    np.testing.assert_array_equal(back.labels > 0, tracked.labels > 0)
    np.testing.assert_array_equal(back.lineage, tracked.lineage)  # ids 1..N in order of appearance


def _rewrite(path, edges=None, track_id=None):
    """Replace the edges or track ids of an exported graph (bypassing geff's writer checks)."""
    group = zarr.open_group(str(path), mode="r+")
    if edges is not None:
        del group["edges/ids"]
        group.create_array("edges/ids", data=np.asarray(edges, dtype=np.uint64))
    if track_id is not None:
        del group["nodes/props/track_id/values"]
        group.create_array("nodes/props/track_id/values", data=np.asarray(track_id))


def test_broken_graphs_are_refused_with_the_reason(tmp_path, tracked):
    geff_path = _export(tmp_path, tracked)
    mem = read_to_memory(str(geff_path))
    edges = mem["edge_ids"].tolist()
    node_t = mem["node_props"]["t"]["values"]
    # a merge: a second edge into the target of the first one
    a, b = edges[0]
    other = next(n for n in mem["node_ids"].tolist() if node_t[n] == node_t[a] and n != a)
    _rewrite(geff_path, edges=[*edges, [other, b]])
    with pytest.raises(UserError, match=r"node \d+ has 2 incoming edges \(a merge\)"):
        read_geff(geff_path)
    _rewrite(geff_path, edges=[*edges, [b, a]])
    with pytest.raises(UserError, match="does not go forward in time"):
        read_geff(geff_path)
    track_id = mem["node_props"]["track_id"]["values"].copy()
    track_id[0] = 9  # node 0 (track 1, frame 0) now names a segment that frame 0 lacks
    _rewrite(geff_path, edges=edges, track_id=track_id)
    with pytest.raises(UserError, match=r"frame 0 has no segment with label value 9 named by a node"):
        read_geff(geff_path)
    with pytest.raises(UserError, match="not a valid GEFF graph"):
        read_geff(tmp_path / "s.zarr")
    with pytest.raises(UserError, match="does not exist"):
        read_geff(tmp_path / "nothing.geff")


def test_missing_label_image_names_the_flag(tmp_path, tracked):
    geff_path = _export(tmp_path, tracked)
    import shutil

    shutil.move(str(geff_path.parent / "labels"), str(tmp_path / "moved"))
    with pytest.raises(UserError, match="--labels"):
        read_geff(geff_path)
    assert read_geff(geff_path, labels=tmp_path / "moved") == tracked


def test_export_refuses_to_overwrite_and_names_sequences(tmp_path, tracked):
    geff_path = _export(tmp_path, tracked)
    with pytest.raises(UserError, match=r"already exists; pass overwrite=True \(--overwrite\)"):
        export_geff(tmp_path / "s.zarr", tmp_path / "g")
    with pytest.raises(UserError, match=r"no sequence 'nope'.*--sequence"):
        export_geff(tmp_path / "s.zarr", tmp_path / "g2", sequences=["nope"])
    export_geff(tmp_path / "s.zarr", tmp_path / "g", overwrite=True)
    assert read_geff(geff_path) == tracked
    assert not list((tmp_path / "g").glob(".*.partial"))
