"""validate_video: the one validator of user videos at the library's boundary, and the paths that use it."""

from __future__ import annotations

import numpy as np
import pytest

from tgan_aug.errors import UserError
from tgan_aug.validation import validate_video


def test_returns_arrays_without_copying():
    images = np.zeros((3, 8, 9), np.float32)
    labels = np.zeros((3, 8, 9), np.uint16)
    out_images, out_labels = validate_video(images, labels)
    assert out_images is images and out_labels is labels
    out_images, out_labels = validate_video(images.tolist(), labels.tolist())  # lists become arrays
    assert out_images.shape == (3, 8, 9) and np.issubdtype(out_labels.dtype, np.integer)
    assert validate_video(None, labels, images_optional=True)[0] is None


@pytest.mark.parametrize(
    "images, labels, options, match",
    [
        (np.zeros((2, 8, 8)), np.zeros((8, 8), np.uint16), {}, r"^seq: labels must be \(T, Y, X\) label masks, got shape \(8, 8\)"),
        (np.zeros((2, 8, 8)), np.zeros((2, 8, 8), np.float32), {}, "integer label mask .*got dtype float32"),
        (np.zeros((2, 8, 8)), np.zeros((2, 8, 8), bool), {}, "integer label mask .*got dtype bool"),
        (np.zeros((2, 8, 8)), -np.ones((2, 8, 8), np.int32), {}, "must be >= 0 .*minimum of -1"),
        (None, np.zeros((2, 8, 8), np.uint16), {}, "images are missing"),
        (np.zeros((2, 8, 9)), np.zeros((2, 8, 8), np.uint16), {}, r"images \(2, 8, 9\) and labels \(2, 8, 8\) must both be"),
        (np.zeros((2, 8, 8), complex), np.zeros((2, 8, 8), np.uint16), {}, "real-valued intensities, got dtype complex128"),
        (np.zeros((1, 8, 8)), np.zeros((1, 8, 8), np.uint16), {"min_frames": 2}, "needs at least 2 frames, got 1"),
    ],
)
def test_each_error_names_the_input(images, labels, options, match):
    with pytest.raises(UserError, match=match) as exc:
        validate_video(images, labels, name="seq", **options)
    assert str(exc.value).startswith("seq: ") and "\n" not in str(exc.value)


def test_bool_masks_pass_where_allowed():
    masks = np.zeros((2, 8, 8), bool)
    assert validate_video(np.zeros((2, 8, 8)), masks, binary_ok=True)[1] is masks


def test_render_frames_rejects_2d_labels_before_any_network():
    from tgan_aug.render.engine import render_frames

    with pytest.raises(UserError, match=r"render_frames: labels\[0\]: labels must be \(T, Y, X\)"):
        next(render_frames(None, [np.zeros((8, 8), np.uint16)], [np.zeros((8, 8), np.float32)], [0]))


def test_training_data_names_the_sequence():
    from tgan_aug.training.data import prepare_sequences

    sources = [("s01", np.zeros((3, 32, 32), np.uint16), np.zeros((3, 32, 31), np.uint16))]
    with pytest.raises(UserError, match=r"--data sequence 's01': images \(3, 32, 32\) and labels \(3, 32, 31\)"):
        prepare_sequences(sources, crop=(16, 16))


def test_background_estimate_rejects_mismatched_masks():
    from tgan_aug.training.background import estimate_background

    with pytest.raises(UserError, match="estimate_background: images"):
        estimate_background(np.zeros((2, 8, 8)), np.zeros((2, 8, 7), bool))


def test_train_cli_reports_a_bad_tiff_pair_in_one_line(tmp_path, capsys):
    """The user-facing path: mismatched images/masks give exit code 2 and one line naming the file."""
    import tifffile

    from tgan_aug.cli import main

    tifffile.imwrite(tmp_path / "img.tif", np.zeros((3, 32, 32), np.uint16), photometric="minisblack")
    tifffile.imwrite(tmp_path / "mask.tif", np.zeros((3, 32, 30), np.uint16), photometric="minisblack")
    with pytest.raises(SystemExit) as exc:
        main(["train", "lowres", "--preset", "tiny", "--data", f"{tmp_path / 'img.tif'}:{tmp_path / 'mask.tif'}",
              "-o", str(tmp_path / "runs"), "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "mask.tif" in err and "same size" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("checkpoint.pt"))
