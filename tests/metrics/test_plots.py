"""OpenCV line plots for the report."""

from __future__ import annotations

import numpy as np

from tgan_aug.metrics.plots import COLORS, _fill, _ticks, line_plot


def test_line_plot_draws_series_and_skips_bad_values(tmp_path):
    import cv2

    x = np.arange(10)
    path = line_plot({"a": (x, x**2), "b": (x, np.where(x == 3, np.nan, 50.0 - x))}, tmp_path / "p.png", title="t", xlabel="x", ylabel="y")
    img = cv2.imread(str(path))
    assert img.shape == (400, 640, 3)
    blue = (np.abs(img.astype(int) - (180, 119, 31)).sum(-1) < 30).sum()
    orange = (np.abs(img.astype(int) - (14, 127, 255)).sum(-1) < 30).sum()
    assert blue > 200 and orange > 200


def test_log_plot_and_degenerate_input(tmp_path):
    assert line_plot({"s": ([0.1, 0.2, 0.3], [1e-3, 1e-5, 0.0])}, tmp_path / "log.png", logy=True).is_file()
    assert line_plot({"flat": ([1, 1], [2, 2])}, tmp_path / "flat.png").is_file()
    assert line_plot({}, tmp_path / "empty.png").is_file()


def test_ticks_are_round_and_cover_the_range():
    t = _ticks(0.013, 0.087)
    assert t[0] >= 0.013 - 1e-12 and t[-1] <= 0.087 + 1e-12 and len(t) >= 3
    assert np.allclose(np.diff(t), np.diff(t)[0])


def test_fill_hatches_the_second_round_of_colours():
    """Series k and k + len(COLORS) share a colour; the second is hatched white, the first is not."""
    first, second = (np.zeros((40, 40, 3), np.uint8) for _ in range(2))
    _fill(first, (5, 5), (34, 34), 1)
    _fill(second, (5, 5), (34, 34), 1 + len(COLORS))
    inside = (slice(5, 35), slice(5, 35))

    def white(im: np.ndarray) -> int:
        return int((im[inside] == 255).all(-1).sum())

    assert (first[inside] == COLORS[1]).all() and white(first) == 0
    assert 100 < white(second) < 30 * 30 // 2 and (second[inside] == COLORS[1]).all(-1).sum() > 30 * 30 // 2
    assert not second[:5].any() and not second[35:].any()  # nothing drawn outside the rectangle
