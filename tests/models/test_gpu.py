"""CUDA: every network runs on the device of its inputs, matches CPU, and works under bf16 autocast."""

from __future__ import annotations

import pytest
import torch

from tgan_aug.models import (
    FlowNet,
    LowResGenerator,
    ModelConfig,
    PatchDiscriminator,
    SuperResGenerator,
    flow_loss,
    flow_self_supervised_loss,
)

pytestmark = pytest.mark.gpu


def test_generators_match_cpu_on_cuda():
    cfg = ModelConfig.preset("tiny")
    G = LowResGenerator(cfg)
    g = torch.Generator().manual_seed(0)
    masks = (torch.rand(2, 2, 32, 32, generator=g) > 0.7).float()
    prev = torch.rand(2, 1, 32, 32, generator=g) * 2 - 1
    z = G.make_z(2, generator=g)
    noise_cpu = G.make_noise(2, torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = G(masks, prev, G.encode_background(prev), G.mapping(z), noise_cpu)
        Gc = G.to("cuda")
        noise_gpu = Gc.make_noise(2, torch.Generator().manual_seed(1))  # CPU generator, same noise
        assert noise_gpu[0].device.type == "cuda"
        out = Gc(masks.cuda(), prev.cuda(), Gc.encode_background(prev.cuda()), Gc.mapping(z.cuda()), noise_gpu)
    torch.testing.assert_close(out.cpu(), ref, atol=2e-3, rtol=1e-3)
    S = SuperResGenerator(cfg).cuda()
    hi = S(out, masks[:, :1].repeat_interleave(2, -1).repeat_interleave(2, -2).cuda(), S.mapping(z.cuda()), 3)
    assert hi.shape == (2, 1, 64, 64) and hi.device.type == "cuda"


def test_bf16_autocast_training_step_on_cuda():
    cfg = ModelConfig.preset("small")
    G = LowResGenerator(cfg).cuda()
    D = PatchDiscriminator(2, cfg).cuda()
    Fn = FlowNet(cfg).cuda()
    h, w = cfg.lowres_size
    masks = (torch.rand(2, 2, h, w, device="cuda") > 0.7).float()
    prev = torch.rand(2, 1, h, w, device="cuda") * 2 - 1
    cur = torch.roll(prev, 3, dims=-1)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        fake = G(masks, prev, G.encode_background(prev), G.mapping(G.make_z(2)), G.make_noise(2))
        logits, _ = D(torch.cat([fake, masks[:, :1]], dim=1))
        loss = logits.float().square().mean() + flow_loss(Fn, prev, cur, fake.float())
        loss = loss + flow_self_supervised_loss(Fn, prev, cur)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in G.background_encoder.parameters())
