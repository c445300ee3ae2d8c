"""A tiny LowResGenerator overfits one real clip: L1 to the target falls by a large factor on CPU."""

from __future__ import annotations

import torch

from tgan_aug.models import LowResGenerator, ModelConfig, l1_loss

from ._realdata import hela_clip


def test_tiny_lowres_generator_overfits_a_real_hela_clip():
    img, msk = hela_clip(frames=3, size=32)  # (3, 32, 32) in [-1, 1], masks {0, 1}
    img, msk = torch.from_numpy(img), torch.from_numpy(msk)
    assert 0.05 < msk.mean() < 0.6, "crop should hold cells"
    cfg = ModelConfig.preset("tiny")
    torch.manual_seed(0)  # the weights' init: not whatever state the tests before this one left
    G = LowResGenerator(cfg)
    n = img.shape[0] - 1
    masks = torch.stack([torch.stack([msk[t], msk[t - 1]]) for t in range(1, n + 1)])  # (n, 2, h, w)
    prev, target = img[:-1, None], img[1:, None]
    # the reference background as training makes it: the cell-free level (here the mean of the
    # cell-free pixels; the image minimum sits at the clip value -1, where the residual head's
    # tanh(atanh(bg) + f) starts saturated)
    bg = torch.full((1, 1, 32, 32), float(img[msk == 0].mean()))
    g = torch.Generator().manual_seed(0)
    z = G.make_z(1, generator=g)
    noise = [x.expand(n, -1, -1, -1) for x in G.make_noise(1, g)]  # one noise for the clip
    opt = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.99))
    losses = []
    for _ in range(300):
        out = G(masks, prev, G.encode_background(bg), G.mapping(z).expand(n, -1), noise)
        loss = l1_loss(out, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # Adam at this rate oscillates: judge the mean of the last 10 steps. Over init seeds 0-9 it is
    # 0.029-0.040 from 0.25 (6-9x lower; copying the previous frame scores 0.17)
    copy_prev = (prev - target).abs().mean().item()
    last = sum(losses[-10:]) / 10
    assert last < losses[0] / 5, f"L1 {losses[0]:.3f} -> {last:.3f}"
    assert last < 0.5 * copy_prev, f"no better than copying the previous frame ({copy_prev:.3f})"
