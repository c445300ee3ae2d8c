"""Previews: PNG strips with outlines in track colours, MP4s that a reader opens with every frame."""

from __future__ import annotations

import cv2
import numpy as np

from tgan_aug.preview import id_colours, overlay_outlines, to_uint8, write_mp4, write_strip


def test_to_uint8_uses_the_given_range():
    x = np.array([[0, 500, 1000, 2000]], dtype=np.uint16)
    np.testing.assert_array_equal(to_uint8(x, (0, 1000)), [[0, 127, 255, 255]])


def test_outlines_are_drawn_in_the_id_colour_only_on_edges():
    labels = np.zeros((20, 20), dtype=np.uint16)
    labels[5:15, 5:15] = 7
    rgb = overlay_outlines(np.zeros((20, 20), np.uint8), labels)
    assert (rgb[5, 10] == id_colours(np.array([7]))[0]).all()
    assert (rgb[10, 10] == 0).all() and (rgb[0, 0] == 0).all()


def test_strip_and_mp4_round_trip(tmp_path, tracked):
    images = (tracked.labels > 0).astype(np.float32) * 100
    png = write_strip(tmp_path / "s.png", images, tracked.labels, frames=3)
    strip = cv2.imread(str(png))
    assert strip.shape[0] == tracked.shape[1] and strip.shape[1] == 3 * tracked.shape[2] + 2 * 4
    mp4 = write_mp4(tmp_path / "v.mp4", images, tracked.labels)
    cap = cv2.VideoCapture(str(mp4))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == tracked.n_frames
    assert not list(tmp_path.glob("*.partial*"))
