"""Inception-v3 loader: generated torchvision-style weight files load; the FID variant is detected."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tgan_aug.errors import UserError
from tgan_aug.features.inception import InceptionFeatures, load_inception_features


def _generated_state(variant: str = "torchvision", seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with torchvision's inception_v3 names (trunk + AuxLogits + fc), random values."""
    torch.manual_seed(seed)
    state = {k: v.clone() for k, v in InceptionFeatures(variant=variant).state_dict().items()}
    for k, v in state.items():
        if k.endswith("running_var"):
            state[k] = torch.rand_like(v) + 0.5
        elif k.endswith("running_mean") or k.endswith("bn.bias"):
            state[k] = torch.randn_like(v) * 0.1
    n_out = 1008 if variant == "fid" else 1000
    state["fc.weight"], state["fc.bias"] = torch.zeros(n_out, 2048), torch.zeros(n_out)
    if variant == "torchvision":
        state["AuxLogits.fc.weight"] = torch.zeros(n_out, 768)
    return state


def test_torchvision_key_names_and_shapes():
    sd = InceptionFeatures().state_dict()
    assert len(sd) == 94 * 6  # 94 BasicConv2d in the trunk: conv.weight + 5 BatchNorm tensors each
    assert tuple(sd["Conv2d_1a_3x3.conv.weight"].shape) == (32, 3, 3, 3)
    assert tuple(sd["Mixed_5b.branch_pool.conv.weight"].shape) == (32, 192, 1, 1)
    assert tuple(sd["Mixed_6e.branch7x7dbl_5.conv.weight"].shape) == (192, 192, 1, 7)
    assert tuple(sd["Mixed_7c.branch3x3dbl_3b.conv.weight"].shape) == (384, 384, 3, 1)


@pytest.mark.parametrize("variant", ["torchvision", "fid"])
def test_generated_weights_load_and_give_the_same_features(tmp_path, variant):
    torch.set_num_threads(1)
    state = _generated_state(variant)
    path = tmp_path / "inception.pth"
    torch.save(state, path)
    model = load_inception_features(path)
    assert model.variant == variant and not any(p.requires_grad for p in model.parameters())
    ref = InceptionFeatures(variant=variant)
    ref.load_state_dict({k: v for k, v in state.items() if not k.startswith(("fc.", "AuxLogits."))})
    ref.eval()
    x = torch.rand(1, 1, 40, 56) * 2 - 1
    with torch.no_grad():
        out = model(x)
        assert out.shape == (1, 2048)
        torch.testing.assert_close(out, ref(x))


def test_fid_variant_differs_from_torchvision_architecture(tmp_path):
    state = _generated_state("fid")
    a = InceptionFeatures(variant="fid").eval()
    b = InceptionFeatures(variant="torchvision").eval()
    trunk = {k: v for k, v in state.items() if not k.startswith("fc.")}
    a.load_state_dict(trunk)
    b.load_state_dict(trunk)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert not torch.allclose(a(x), b(x))


def test_loader_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_inception_features(tmp_path / "none.pth")
    state = _generated_state()
    del state["Mixed_7c.branch_pool.conv.weight"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(UserError, match="Mixed_7c.branch_pool.conv.weight"):
        load_inception_features(tmp_path / "partial.pth")


def test_inception_fid_of_a_video_with_itself_is_zero(tmp_path):
    from tgan_aug.metrics.inception_fid import inception_fid

    torch.save(_generated_state(), tmp_path / "w.pth")
    video = np.random.default_rng(0).integers(0, 255, size=(2, 24, 24)).astype(np.uint8)
    assert inception_fid(video, video, weights=tmp_path / "w.pth", data_range=(0, 255)) == pytest.approx(0.0, abs=1e-6)
