"""tGAN networks: low-res video generator, super-res generator, PatchGAN discriminator, FlowNet, losses.

API (PLAN.md section C), all sizes from :class:`ModelConfig`; CPU and CUDA (devices follow inputs):

- ``LowResGenerator(cfg)``: ``encode_background(bg)`` once per sequence; ``forward(masks, prev,
  bg_feats, w, noise=None)`` -> (B, 1, h, w) tanh; ``mapping(z)``; ``make_noise(batch, generator)``.
- ``SuperResGenerator(cfg)``: ``forward(lowres, mask, w, noise=None)`` -> (B, 1, 2h, 2w) tanh.
- ``PatchDiscriminator(in_channels, cfg)``: ``forward(x)`` -> (logits (B, 1, H/2**L, W/2**L), feats).
- ``FlowNet(cfg)``: ``forward(img1, img2)`` -> flow (B, 2, H, W) px, ``warp(img1, flow) ~= img2``;
  ``warp``; ``flow_self_supervised_loss(flownet, img1, img2)``.
- losses: ``lsgan_d_loss``, ``lsgan_g_loss``, ``l1_loss``, ``flow_loss``, ``PerceptualLoss``.

Additions beyond section C (no name or signature there changed):
- ``noise`` may be a list from ``make_noise``, an int seed (the "noise_seed" of the plan) or None
  (no noise); ``make_noise(batch, generator=None, *, size=None, device=None, dtype=float32)``.
- ``make_z(batch, generator=)``, ``LowResGenerator.rollout(masks (B,T,h,w), bg, w, noise)``,
  ``forward(..., return_attention=True)`` (attention weights per level),
  ``PatchDiscriminator.output_size(H, W)``, ``FlowNet.forward(..., return_pyramid=True)``,
  ``warp_valid_mask``, ``feature_matching_loss``; ``PerceptualLoss`` also accepts kind="auto" and
  ``extractor=`` (a custom feature module); ModelConfig has extra fields ``max_channels``,
  ``flow_channels``, ``flow_radius``.
"""

from tgan_aug.models.config import ModelConfig, nearest_valid_sizes
from tgan_aug.models.discriminator import PatchDiscriminator
from tgan_aug.models.flownet import FlowNet, flow_self_supervised_loss, warp, warp_valid_mask
from tgan_aug.models.losses import (
    PerceptualLoss,
    feature_matching_loss,
    flow_loss,
    l1_loss,
    lsgan_d_loss,
    lsgan_g_loss,
)
from tgan_aug.models.lowres import LowResGenerator
from tgan_aug.models.superres import SuperResGenerator

__all__ = [
    "ModelConfig",
    "nearest_valid_sizes",
    "LowResGenerator",
    "SuperResGenerator",
    "PatchDiscriminator",
    "FlowNet",
    "warp",
    "warp_valid_mask",
    "flow_self_supervised_loss",
    "lsgan_d_loss",
    "lsgan_g_loss",
    "l1_loss",
    "flow_loss",
    "feature_matching_loss",
    "PerceptualLoss",
]
