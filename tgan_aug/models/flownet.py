"""Multi-scale optical-flow network (PWC-style, coarse to fine), backward warping and its self-supervised loss.

Convention: ``flow`` (B, 2, H, W) in PIXELS, channel 0 = dx, channel 1 = dy, maps img2 coordinates
to img1: ``img2[y, x] ~= img1[y + dy, x + dx]``, i.e. ``warp(img1, flow) ~= img2``. A scene moving by
+3 px in x from img1 to img2 has flow dx = -3.

Fixes the authors' FlowNet: a feature pyramid of ``flow_scales`` stride-2 levels with a local
correlation (radius ``flow_radius``) and residual refinement at each level sees motions up to about
``flow_radius * 2**flow_scales`` px (24 px for ``small``: 3 * 8); ``warp`` converts pixel positions to
grid_sample's [-1, 1] coordinates (align_corners=False, pixel centres at integer indices); and the
network is meant to be trained (``flow_self_supervised_loss``: photometric + edge-aware smoothness).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tgan_aug.models.config import ModelConfig

__all__ = ["FlowNet", "warp", "warp_valid_mask", "flow_self_supervised_loss", "ssim_map"]


def _base_grid(flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    _, _, h, w = flow.shape
    ys = torch.arange(h, device=flow.device, dtype=flow.dtype).view(1, h, 1)
    xs = torch.arange(w, device=flow.device, dtype=flow.dtype).view(1, 1, w)
    return xs, ys


def warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp: out[b, :, y, x] = img[b, :, y + dy, x + dx] (bilinear, border padding).

    Args:
        img: (B, C, H, W).
        flow: (B, 2, H, W) in pixels (dx, dy).
    Pixel (x, y) maps to grid_sample coordinates ((2x + 1) / W - 1, (2y + 1) / H - 1) with
    align_corners=False, so flow = 0 returns ``img`` exactly.
    """
    if flow.dim() != 4 or flow.shape[1] != 2 or img.dim() != 4 or img.shape[-2:] != flow.shape[-2:]:
        raise ValueError(f"warp: expected img (B, C, H, W) and flow (B, 2, H, W), got {tuple(img.shape)} and "
                        f"{tuple(flow.shape)}")
    _, _, h, w = flow.shape
    xs, ys = _base_grid(flow)
    gx = (2.0 * (xs + flow[:, 0]) + 1.0) / w - 1.0
    gy = (2.0 * (ys + flow[:, 1]) + 1.0) / h - 1.0
    grid = torch.stack([gx, gy], dim=-1).to(img.dtype)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)


def warp_valid_mask(flow: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) float, 1 where the flow samples inside the image (x + dx in [0, W-1], same for y)."""
    _, _, h, w = flow.shape
    xs, ys = _base_grid(flow)
    x = xs + flow[:, 0]
    y = ys + flow[:, 1]
    valid = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    return valid.unsqueeze(1).to(flow.dtype)


def _local_correlation(f1: torch.Tensor, f2: torch.Tensor, radius: int) -> torch.Tensor:
    """Cost volume (B, (2r+1)^2, H, W): mean over channels of f1(p) * f2(p + d), |d_x|, |d_y| <= r."""
    if radius == 0:
        return (f1 * f2).mean(dim=1, keepdim=True)
    _, _, h, w = f1.shape
    f2p = F.pad(f2, (radius, radius, radius, radius))
    costs = [
        (f1 * f2p[:, :, dy : dy + h, dx : dx + w]).mean(dim=1, keepdim=True)
        for dy in range(2 * radius + 1)
        for dx in range(2 * radius + 1)
    ]
    return torch.cat(costs, dim=1)


def _centred_unit(f: torch.Tensor) -> torch.Tensor:
    """Features centred and L2-normalised over channels (their dot product is a Pearson correlation)."""
    return F.normalize(f - f.mean(dim=1, keepdim=True), dim=1)


def _conv(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation), nn.LeakyReLU(0.1)
    )


class FlowNet(nn.Module):
    """Coarse-to-fine flow estimator for grey-level frames.

    Feature pyramid (shared by both frames) at strides 2, 4, ..., 2**flow_scales; at each level,
    from the coarsest: upsample the current flow, warp img1's features by it, build a local cost
    volume (Pearson correlation of the features, radius ``flow_radius``) against img2's features,
    add its soft-argmax match (learned temperature) and a residual predicted from (costs, features,
    flow). The stride-2 flow is upsampled to full resolution. Any input size works (padded
    internally).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.levels = cfg.flow_scales
        self.radius = cfg.flow_radius
        chans = [cfg.flow_channels * min(2**i, 4) for i in range(self.levels)]
        pyr = []
        c_prev = 1
        for c in chans:
            pyr.append(nn.Sequential(_conv(c_prev, c, stride=2), _conv(c, c)))
            c_prev = c
        self.pyramid = nn.ModuleList(pyr)
        n_cost = (2 * self.radius + 1) ** 2
        hidden = 2 * cfg.flow_channels
        self.estimators = nn.ModuleList([
            nn.Sequential(
                _conv(n_cost + c + 2, hidden),
                _conv(hidden, hidden, dilation=2),
                _conv(hidden, hidden // 2),
                nn.Conv2d(hidden // 2, 2, 3, padding=1),
            )
            for c in chans
        ])
        r = self.radius
        offsets = [(dx - r, dy - r) for dy in range(2 * r + 1) for dx in range(2 * r + 1)]
        self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.float32), persistent=False)
        self.temperature = nn.Parameter(torch.tensor(math.log(20.0)))  # softmax sharpness (log scale)
        for est in self.estimators:  # start from the matching-based flow
            nn.init.zeros_(est[-1].weight)
            nn.init.zeros_(est[-1].bias)

    def _features(self, img: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        x = img
        for block in self.pyramid:
            x = block(x)
            feats.append(x)
        return feats

    def forward(self, img1: torch.Tensor, img2: torch.Tensor, *, return_pyramid: bool = False):
        """Flow (B, 2, H, W) in pixels from img2 coordinates to img1 (``warp(img1, flow) ~= img2``).

        Args:
            img1, img2: (B, 1, H, W) frames in [-1, 1].
            return_pyramid: also return the flows of every level, coarsest first, each in pixels of
                its own level (B, 2, H / 2**l, W / 2**l).
        """
        if img1.dim() != 4 or img1.shape[1] != 1 or img1.shape != img2.shape:
            raise ValueError(f"FlowNet: expected two (B, 1, H, W) frames of equal shape, got {tuple(img1.shape)} "
                            f"and {tuple(img2.shape)}")
        h, w = img1.shape[-2:]
        m = 2**self.levels
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            img1 = F.pad(img1, (0, pw, 0, ph), mode="replicate")
            img2 = F.pad(img2, (0, pw, 0, ph), mode="replicate")
        # both frames through the shared pyramid in one batch
        feats = self._features(torch.cat([img1, img2], dim=0))
        b = img1.shape[0]
        flow = None
        pyramid_flows = []
        for level in reversed(range(self.levels)):
            f = feats[level]
            f1, f2 = f[:b], f[b:]
            if flow is None:
                flow = f1.new_zeros((b, 2, f1.shape[-2], f1.shape[-1]))
            else:
                flow = 2.0 * F.interpolate(flow, size=f1.shape[-2:], mode="bilinear", align_corners=False)
            f1w = warp(f1, flow)
            # cosine-similarity cost volume: scale-free, so the estimator can read it from the start
            cost = _local_correlation(_centred_unit(f2), _centred_unit(f1w), self.radius)
            cost = cost * f2.shape[1]  # mean -> sum over channels = cosine in [-1, 1]
            # soft-argmax over the cost volume: a matching-based flow update, refined by the estimator
            prob = torch.softmax(self.temperature.exp() * cost, dim=1)
            match = torch.einsum("bkhw,kc->bchw", prob, self.offsets.to(prob.dtype))
            flow = flow + match
            flow = flow + self.estimators[level](torch.cat([cost, f2, flow], dim=1))
            pyramid_flows.append(flow)
        flow = 2.0 * F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=False)
        flow = flow[:, :, :h, :w]
        return (flow, pyramid_flows) if return_pyramid else flow


def ssim_map(x: torch.Tensor, y: torch.Tensor, *, data_range: float = 2.0) -> torch.Tensor:
    """Local SSIM (3x3 mean windows) per pixel, (B, C, H, W); for images in [-1, 1] (data_range 2)."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x = F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    mu_y = F.avg_pool2d(y, 3, 1, 1, count_include_pad=False)
    sx = F.avg_pool2d(x * x, 3, 1, 1, count_include_pad=False) - mu_x**2
    sy = F.avg_pool2d(y * y, 3, 1, 1, count_include_pad=False) - mu_y**2
    sxy = F.avg_pool2d(x * y, 3, 1, 1, count_include_pad=False) - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sx + sy + c2))


def _smoothness(flow: torch.Tensor, img: torch.Tensor, alpha: float) -> torch.Tensor:
    """Edge-aware first-order smoothness: mean |grad flow| * exp(-alpha * |grad img|)."""
    dfx = (flow[:, :, :, 1:] - flow[:, :, :, :-1]).abs()
    dfy = (flow[:, :, 1:, :] - flow[:, :, :-1, :]).abs()
    dix = (img[:, :, :, 1:] - img[:, :, :, :-1]).abs().mean(dim=1, keepdim=True)
    diy = (img[:, :, 1:, :] - img[:, :, :-1, :]).abs().mean(dim=1, keepdim=True)
    return (dfx * torch.exp(-alpha * dix)).mean() + (dfy * torch.exp(-alpha * diy)).mean()


def flow_self_supervised_loss(flownet: FlowNet, img1: torch.Tensor, img2: torch.Tensor, *,
                              smooth_weight: float = 0.05, ssim_weight: float = 0.0, edge_alpha: float = 10.0,
                              eps: float = 1e-3) -> torch.Tensor:
    """Self-supervised FlowNet loss on a REAL pair: photometric + edge-aware smoothness (scalar tensor).

    photometric = Charbonnier(warp(img1, flow) - img2) averaged over pixels whose flow stays inside the
    image (+ ssim_weight * (1 - SSIM) / 2 when ssim_weight > 0), computed for the full-resolution flow
    and for every pyramid level (images average-pooled to the level's size, weights halving per
    coarser level); smoothness = smooth_weight * edge-aware first-order smoothness of the flows.

    Args:
        img1, img2: (B, 1, H, W) consecutive real frames in [-1, 1].
    """
    flow, pyramid = flownet(img1, img2, return_pyramid=True)
    total = img1.new_zeros(())
    levels = [(flow, img1, img2, 1.0)]
    for k, f in enumerate(reversed(pyramid)):  # finest pyramid level first: stride 2, 4, ...
        stride = 2 ** (k + 1)
        hh, ww = img1.shape[-2] // stride, img1.shape[-1] // stride
        if hh < 4 or ww < 4:
            break
        f = f[:, :, :hh, :ww]
        a = F.adaptive_avg_pool2d(img1, (hh, ww))
        b = F.adaptive_avg_pool2d(img2, (hh, ww))
        levels.append((f, a, b, 0.5 ** (k + 1)))
    for f, a, b, weight in levels:
        warped = warp(a, f)
        valid = warp_valid_mask(f)
        diff = torch.sqrt((warped - b) ** 2 + eps**2)
        photo = (diff * valid).sum() / valid.sum().clamp_min(1.0)
        if ssim_weight > 0:
            dssim = ((1 - ssim_map(warped, b)) / 2).clamp(0, 1)
            photo = photo + ssim_weight * (dssim * valid).sum() / valid.sum().clamp_min(1.0)
        total = total + weight * (photo + smooth_weight * _smoothness(f, b, edge_alpha))
    return total
