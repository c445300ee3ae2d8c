"""VGG19 loader: a generated torchvision-style weights file loads and gives the reference forward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tgan_aug.errors import UserError
from tgan_aug.features.vgg19 import VGG19_CFG, VGG19_LAYERS, VGG19Features, load_vgg19_features


def _random_vgg19_state(seed: int = 0, *, classifier: bool = True) -> dict[str, torch.Tensor]:
    """A state dict with torchvision's vgg19 key names and shapes, random values."""
    g = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    idx, c_in = 0, 3
    for v in VGG19_CFG:
        if v == "M":
            idx += 1
            continue
        state[f"features.{idx}.weight"] = torch.randn(int(v), c_in, 3, 3, generator=g) * (2 / (9 * c_in)) ** 0.5
        state[f"features.{idx}.bias"] = torch.randn(int(v), generator=g) * 0.01
        c_in, idx = int(v), idx + 2
    if classifier:
        state["classifier.0.weight"] = torch.zeros(4, 4)
    return state


def _reference_forward(state: dict[str, torch.Tensor], x: torch.Tensor, upto: int) -> dict[int, torch.Tensor]:
    """Plain functional VGG19 written independently of the module, returning every layer output up to ``upto``."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    h = ((x.repeat(1, 3, 1, 1) + 1) / 2 - mean) / std
    outs, idx = {}, 0
    for v in VGG19_CFG:
        if idx > upto:
            break
        if v == "M":
            h = F.max_pool2d(h, 2)
            outs[idx] = h
            idx += 1
        else:
            h = F.conv2d(h, state[f"features.{idx}.weight"], state[f"features.{idx}.bias"], padding=1)
            outs[idx] = h
            h = F.relu(h)
            outs[idx + 1] = h
            idx += 2
    return outs


def test_layer_names_match_torchvision_indices():
    assert VGG19_LAYERS["relu1_1"] == 1 and VGG19_LAYERS["relu2_1"] == 6 and VGG19_LAYERS["relu3_1"] == 11
    assert VGG19_LAYERS["relu4_1"] == 20 and VGG19_LAYERS["relu5_1"] == 29 and VGG19_LAYERS["pool5"] == 36


@pytest.mark.parametrize("classifier", [True, False])
def test_generated_weights_load_and_match_reference(tmp_path, classifier):
    state = _random_vgg19_state(classifier=classifier)
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    model = load_vgg19_features(path, layers=layers)
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        out = model(x)
    ref = _reference_forward(state, x, VGG19_LAYERS["relu5_1"])
    for name, o in zip(layers, out):
        torch.testing.assert_close(o, ref[VGG19_LAYERS[name]], rtol=1e-4, atol=1e-5)
    assert not any(p.requires_grad for p in model.parameters())


def test_features_only_state_dict_without_prefix(tmp_path):
    state = {k.removeprefix("features."): v for k, v in _random_vgg19_state(1, classifier=False).items()}
    path = tmp_path / "features.pth"
    torch.save(state, path)
    model = load_vgg19_features(path, layers=("relu2_2",))
    ref = _reference_forward({f"features.{k}": v for k, v in state.items()}, torch.zeros(1, 1, 16, 16), VGG19_LAYERS["relu2_2"])
    with torch.no_grad():
        torch.testing.assert_close(model(torch.zeros(1, 1, 16, 16))[0], ref[VGG19_LAYERS["relu2_2"]], rtol=1e-4, atol=1e-5)


def test_missing_file_and_wrong_content_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_vgg19_features(tmp_path / "none.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(UserError, match="cannot read"):
        load_vgg19_features(tmp_path / "junk.pth")
    state = _random_vgg19_state()
    del state["features.28.weight"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(UserError, match="features.28.weight"):
        load_vgg19_features(tmp_path / "partial.pth")
    # shallow layers need only the first convs
    load_vgg19_features(tmp_path / "partial.pth", layers=("relu1_1",))
    state = _random_vgg19_state()
    state["features.0.weight"] = torch.zeros(64, 1, 3, 3)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(UserError, match="shape"):
        load_vgg19_features(tmp_path / "shape.pth")


def test_bad_layer_and_input_shape():
    with pytest.raises(UserError, match="relu9_9"):
        VGG19Features(layers=("relu9_9",))
    with pytest.raises(UserError, match="B, 1 or 3"):
        VGG19Features(layers=("relu1_1",))(torch.zeros(1, 2, 8, 8))
