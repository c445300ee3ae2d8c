"""recipes/end-to-end/contacts.py: the cell contrast it reports and the colony figure it draws."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "end-to-end" / "contacts.py"


def load_contacts():
    spec = importlib.util.spec_from_file_location("_contacts_recipe", RECIPE)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def videos():
    """Three renderings of one 4-frame 40x50 mask sequence: dark cells (contrast 60), invisible cells
    (flat image), bright cells (-40)."""
    from masksynth import TrackedMasks, TrackedVideo

    labels = np.zeros((4, 40, 50), np.uint16)
    labels[:, 5:15, 5:25] = 1
    labels[:, 20:30, 10:40] = 2
    masks = TrackedMasks.from_labels(labels)
    flat = np.full(labels.shape, 100, np.uint8)
    return masks, {"dark": TrackedVideo(masks, np.where(labels > 0, 40, 100).astype(np.uint8)),
                   "invisible": TrackedVideo(masks, flat),
                   "bright": TrackedVideo(masks, np.where(labels > 0, 140, 100).astype(np.uint8))}


def test_cell_contrast_is_background_minus_cells_in_range_units():
    contacts = load_contacts()
    _, v = videos()
    assert contacts.cell_contrast(v["dark"], (0.0, 200.0)) == pytest.approx(0.3)
    assert contacts.cell_contrast(v["invisible"], (0.0, 200.0)) == pytest.approx(0.0)
    assert contacts.cell_contrast(v["bright"], (0.0, 200.0)) == pytest.approx(-0.2)


def test_colony_figure_shows_the_masksynth_colony_of_each_rendering(tmp_path):
    """The figure's tiles come from the ``synth_*`` sequence, not the augmented copy before it."""
    import cv2

    contacts = load_contacts()
    masks, v = videos()
    small = type(v["dark"])(type(masks).from_labels(masks.labels[:, :20, :20]), v["dark"].images[:, :20, :20])
    vids = {"real limited": [v["dark"]], "real test": [v["dark"]], "sequence names": [("aug_p00_a00", masks), ("synth_00", masks)],
            "tgan": [small, v["dark"]], "painter": [small, v["invisible"]]}
    assert contacts.colony_index(vids) == 1
    assert contacts.colony_index({**vids, "sequence names": [("aug_p00_a00", masks)]}) is None
    path = contacts.colony_figure({0: vids, 1: vids}, ["tgan", "painter"], tmp_path / "colony.png", {0: (0.0, 200.0), 1: (0.0, 200.0)})
    image = cv2.imread(str(path))
    assert image.shape == (2 * 46, 3 * 56, 3)  # 2 folds x (real, tgan, painter), 40x50 frames + 6 px white
    # the painter tile shows the invisible colony (flat inside the cells); the tgan tile its dark cells
    tgan_cell, painter_cell = image[25, 56 + 25], image[25, 2 * 56 + 25]
    assert tgan_cell.max() < painter_cell.min()
