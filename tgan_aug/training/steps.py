"""One training step, split in short functions: generate, D step, G step, FlowNet step, EMA.

Low-res stage (paper Figure 1B, Equations 1 and 3):

- :func:`generate_lowres_clip` runs the generator autoregressively through the clip: frame t is
  made from masks (t, t-1, ...), the previous *generated* frame and the background; the "previous
  frame" of frame 0 is the background (as in rendering). Style ``w`` and noise are drawn once per
  clip. Detach policy: with ``detach_prev=True`` (default) the frame fed back is detached, so each
  frame's loss back-propagates through its own forward pass only (truncated BPTT of one frame;
  memory stays flat in the clip length); ``detach_prev=False`` back-propagates through the chain.
- The discriminator sees windows of the last ``n_masks`` frames concatenated with their masks:
  channels ``[frames t-n+1..t, masks t-n+1..t]``, for every t >= n-1 of the clip.
- DiffAugment parameters are drawn once per step and applied to real and fake windows alike.

Each ``*_step`` function computes its loss, steps its optimizer and returns a dict of floats.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from tgan_aug.models import flow_loss, flow_self_supervised_loss, l1_loss, lsgan_d_loss, lsgan_g_loss
from tgan_aug.training.augment import DiffAugParams, apply_diffaug

__all__ = [
    "StepContext",
    "generate_lowres_clip",
    "lowres_frame",
    "generate_lowres_frames",
    "generate_superres",
    "disc_windows",
    "d_step",
    "g_step",
    "flow_step",
    "ema_update",
    "aug_batch",
]


@dataclass
class StepContext:
    """What the step functions share: loss weights, precision, gradient sync."""

    w_adv: float = 1.0
    w_flow: float = 1.0
    w_l1: float = 10.0
    w_perceptual: float = 10.0
    grad_clip: float = 0.0
    autocast: Callable[[], Any] = contextlib.nullcontext
    scalers: dict = field(default_factory=dict)  # {"G"|"D"|"F": torch.amp.GradScaler} for fp16, else empty
    sync_grads: Callable[[nn.Module], None] = lambda module: None  # all-reduce under DDP


def _backward_and_step(
    loss: torch.Tensor, module: nn.Module, opt: torch.optim.Optimizer, ctx: StepContext, name: str
) -> None:
    scaler = ctx.scalers.get(name)
    if scaler is not None:
        scaler.scale(loss).backward()
        ctx.sync_grads(module)
        if ctx.grad_clip > 0:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(module.parameters(), ctx.grad_clip)
        scaler.step(opt)
        scaler.update()
    else:
        loss.backward()
        ctx.sync_grads(module)
        if ctx.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(module.parameters(), ctx.grad_clip)
        opt.step()


# ---------------------------------------------------------------------------- generation
def generate_lowres_clip(
    G: nn.Module,
    masks: torch.Tensor,
    background: torch.Tensor,
    *,
    generator: torch.Generator,
    detach_prev: bool = True,
    burn_in: int = 0,
) -> torch.Tensor:
    """Autoregressive low-res clip.

    masks: (B, burn_in + L, h, w) in {0, 1}; background: (B, h, w) in [-1, 1].
    generator: CPU generator for the clip's style z and noise (drawn once per clip).
    burn_in: the first ``burn_in`` frames are generated without gradient and not returned: the
        returned clip starts deep in a rollout, as most rendered frames do.
    Returns fakes (B, L, h, w) in [-1, 1] (with graph), for the last L mask frames.
    """
    total = masks.shape[1]
    if not 0 <= burn_in < total:
        raise ValueError(f"burn_in={burn_in} must be in [0, {total}) for a clip of {total} mask frames")
    bg_feats, style, noise, first = _sequence_inputs(G, masks, background, generator)
    prev = first
    frames = []
    for t in range(total):
        if t < burn_in:
            with torch.no_grad():
                prev = lowres_frame(G, masks, t, prev, first, bg_feats, style, noise, temporal="autoregressive")
            continue
        out = lowres_frame(G, masks, t, prev, first, bg_feats, style, noise, temporal="autoregressive")
        frames.append(out)
        prev = out.detach() if detach_prev else out
    return torch.cat(frames, dim=1)


def _sequence_inputs(G: nn.Module, masks: torch.Tensor, background: torch.Tensor,
                     generator: torch.Generator) -> tuple[Any, torch.Tensor, Any, torch.Tensor]:
    """What every low-res frame of a sequence shares: (background features, style w, noise maps,
    the background as the first "previous frame"); z then noise drawn from ``generator``.

    masks: (B, T, h, w) in {0, 1}; background: (B, h, w) in [-1, 1].
    """
    B, _, h, w = masks.shape
    bg = background[:, None]
    style = G.mapping(G.make_z(B, generator=generator))
    noise = G.make_noise(B, generator, size=(h, w), device=masks.device, dtype=masks.dtype)
    return G.encode_background(bg), style, noise, G.first_prev(bg, masks)


def lowres_frame(G: nn.Module, masks: torch.Tensor, t: int, prev: torch.Tensor, first: torch.Tensor,
                 bg_feats: Any, style: torch.Tensor, noise: Any, *, temporal: str = "per-frame") -> torch.Tensor:
    """Low-res frame t of a rendered sequence, (B, 1, h, w) in [-1, 1].

    masks: (B, T, h, w) in {0, 1}; prev: the frame made before (used by "autoregressive");
    first: ``G.first_prev`` of the sequence (the background as a frame).
    temporal: "autoregressive" feeds masks t, t-1, ... and ``prev`` (as in training and the paper);
    "per-frame" makes a draft of frame t as a sequence's first frame (mask t in every slot, ``first``
    as previous frame), then frame t again with the draft as previous frame: no frame depends on
    another (see :mod:`tgan_aug.render.engine` for why this is the rendering default).
    """
    n = G.cfg.n_masks
    if temporal == "autoregressive":
        return G(masks[:, [max(t - j, 0) for j in range(n)]], prev, bg_feats, style, noise)
    if temporal != "per-frame":
        raise ValueError(f"temporal={temporal!r}: use 'per-frame' or 'autoregressive'")
    out = G(masks[:, [t] * n], first, bg_feats, style, noise)
    if G.cfg.use_prev_frame:  # (a generator without that input ignores the draft)
        out = G(masks[:, [t] * n], out, bg_feats, style, noise)
    return out


def generate_lowres_frames(G: nn.Module, masks: torch.Tensor, background: torch.Tensor, *,
                           generator: torch.Generator, temporal: str = "per-frame") -> torch.Tensor:
    """Low-res frames of whole sequences as ``tgan-aug render`` makes them (no gradient).

    masks: (B, T, h, w) in {0, 1}; background: (B, h, w) in [-1, 1]; style z and noise drawn once
    from ``generator`` (as :func:`generate_lowres_clip`). Returns (B, T, h, w) in [-1, 1].
    """
    with torch.no_grad():
        bg_feats, style, noise, first = _sequence_inputs(G, masks, background, generator)
        prev = first
        frames = []
        for t in range(masks.shape[1]):
            prev = lowres_frame(G, masks, t, prev, first, bg_feats, style, noise, temporal=temporal)
            frames.append(prev)
    return torch.cat(frames, dim=1)


def generate_superres(
    G: nn.Module, lowres: torch.Tensor, mask: torch.Tensor, *, generator: torch.Generator
) -> torch.Tensor:
    """Super-res frames: lowres (B, h, w) in [-1, 1], mask (B, H, W) in {0, 1} -> (B, H, W)."""
    B = lowres.shape[0]
    H, W = mask.shape[-2:]
    style = G.mapping(G.make_z(B, generator=generator))
    noise = G.make_noise(B, generator, size=(H, W), device=lowres.device, dtype=lowres.dtype)
    return G(lowres[:, None], mask[:, None], style, noise)[:, 0]


def disc_windows(frames: torch.Tensor, masks: torch.Tensor, n: int) -> torch.Tensor:
    """Discriminator inputs from a clip.

    frames, masks: (B, L, H, W). Returns (B * (L - n + 1), 2n, H, W): for each t >= n-1 the frames
    t-n+1..t then the masks t-n+1..t. With L < n (e.g. single frames) the window repeats frame 0.
    """
    B, L, H, W = frames.shape
    if L < n:
        idx = [[0] * (n - L) + list(range(L))]
    else:
        idx = [list(range(t - n + 1, t + 1)) for t in range(n - 1, L)]
    wins = [torch.cat([frames[:, i], masks[:, i].to(frames.dtype)], dim=1) for i in idx]
    return torch.cat(wins, dim=0)


# ---------------------------------------------------------------------------- steps
def d_step(
    D: nn.Module,
    opt_D: torch.optim.Optimizer,
    real_in: torch.Tensor,
    fake_in: torch.Tensor,
    aug: DiffAugParams,
    *,
    image_channels: int,
    ctx: StepContext,
) -> dict[str, float]:
    """Equation 3 on DiffAugmented real and (detached) fake inputs; steps D. Returns d_loss, d_real, d_fake."""
    opt_D.zero_grad(set_to_none=True)
    reps = real_in.shape[0] // aug_batch(aug, real_in.shape[0])
    with ctx.autocast():
        real_logits, _ = D(apply_diffaug(real_in, _tile(aug, reps), image_channels=image_channels))
        fake_logits, _ = D(apply_diffaug(fake_in.detach(), _tile(aug, reps), image_channels=image_channels))
        loss = lsgan_d_loss(real_logits.float(), fake_logits.float())
    _backward_and_step(loss, D, opt_D, ctx, "D")
    return {
        "d_loss": float(loss.detach()),
        "d_real": float(real_logits.detach().float().mean()),
        "d_fake": float(fake_logits.detach().float().mean()),
    }


def g_step(
    G: nn.Module,
    opt_G: torch.optim.Optimizer,
    D: nn.Module,
    *,
    real: torch.Tensor,
    fake: torch.Tensor,
    real_in: torch.Tensor,
    fake_in: torch.Tensor,
    aug: DiffAugParams,
    image_channels: int,
    perceptual: nn.Module | None,
    flownet: nn.Module | None,
    ctx: StepContext,
) -> dict[str, float]:
    """Equations 1/2: adversarial + w_flow * flow + w_l1 * L1 + w_perceptual * perceptual; steps G.

    real, fake: (B, L, H, W) frames (fake carries the generator's graph; L = 1 for super-res).
    real_in, fake_in: discriminator windows (see :func:`disc_windows`) built from real/fake.
    flownet: frozen inside the flow term (None = no flow term, the super-res stage).
    D's parameters are frozen for this step (gradients reach the fakes only).
    """
    opt_G.zero_grad(set_to_none=True)
    reps = real_in.shape[0] // aug_batch(aug, real_in.shape[0])
    out: dict[str, float] = {}
    D.requires_grad_(False)  # gradients flow through D to the fakes, not into D's parameters
    try:
        total = _g_losses(D, real, fake, real_in, fake_in, _tile(aug, reps), image_channels, perceptual, flownet, ctx, out)
    finally:
        D.requires_grad_(True)
    _backward_and_step(total, G, opt_G, ctx, "G")
    out["g_loss"] = float(total.detach())
    return out


def _g_losses(D, real, fake, real_in, fake_in, aug, image_channels, perceptual, flownet, ctx, out) -> torch.Tensor:
    """The weighted sum of the generator terms; each term's value is stored in ``out``."""
    with ctx.autocast():
        fake_logits, fake_feats = D(apply_diffaug(fake_in, aug, image_channels=image_channels))
        adv = lsgan_g_loss(fake_logits.float())
        total = ctx.w_adv * adv
        out["g_adv"] = float(adv.detach())
        B, L, H, W = real.shape
        l1 = l1_loss(fake.float(), real.float())
        total = total + ctx.w_l1 * l1
        out["g_l1"] = float(l1.detach())
        if flownet is not None and L > 1 and ctx.w_flow > 0:
            prev = real[:, :-1].reshape(-1, 1, H, W)
            cur = real[:, 1:].reshape(-1, 1, H, W)
            fk = fake[:, 1:].reshape(-1, 1, H, W)
            fl = flow_loss(flownet, prev, cur, fk).float()
            total = total + ctx.w_flow * fl
            out["g_flow"] = float(fl.detach())
        if perceptual is not None and ctx.w_perceptual > 0:
            if getattr(perceptual, "kind", "") == "feature_matching":
                with torch.no_grad():
                    _, real_feats = D(apply_diffaug(real_in, aug, image_channels=image_channels))
                pl = perceptual(fake_in, real_in, fake_feats=fake_feats, real_feats=real_feats).float()
            else:
                pl = perceptual(fake.reshape(-1, 1, H, W), real.reshape(-1, 1, H, W)).float()
            total = total + ctx.w_perceptual * pl
            out["g_perceptual"] = float(pl.detach())
    return total


def flow_step(
    flownet: nn.Module, opt_F: torch.optim.Optimizer, real: torch.Tensor, *, ctx: StepContext
) -> dict[str, float]:
    """Self-supervised FlowNet update on real consecutive pairs of the clip. real: (B, L, H, W), L >= 2."""
    B, L, H, W = real.shape
    opt_F.zero_grad(set_to_none=True)
    img1 = real[:, :-1].reshape(-1, 1, H, W)
    img2 = real[:, 1:].reshape(-1, 1, H, W)
    with ctx.autocast():
        loss = flow_self_supervised_loss(flownet, img1, img2).float()
    _backward_and_step(loss, flownet, opt_F, ctx, "F")
    return {"flow_train": float(loss.detach())}


@torch.no_grad()
def ema_decay_at(step: int, decay: float, rampup: int) -> float:
    """EMA decay for the update made after ``step`` completed steps (0-based), with warm-up.

    Without a warm-up a decay of 0.999 leaves ``G_ema`` at 0.999**n of its random initialisation
    after n steps (65 % after 430 steps), so short runs sample noise. The warm-up
    ``min(decay, (1 + step) / (rampup + step))`` averages over roughly the steps seen so far.
    rampup = 0 turns it off (constant ``decay``).
    """
    if rampup <= 0:
        return float(decay)
    return float(min(decay, (1.0 + step) / (rampup + step)))


def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model (parameters); buffers copied."""
    for pe, p in zip(ema.parameters(), model.parameters()):
        pe.lerp_(p.detach(), 1.0 - decay)
    for be, b in zip(ema.buffers(), model.buffers()):
        be.copy_(b)


# ---------------------------------------------------------------------------- helpers
def aug_batch(aug: DiffAugParams, n: int) -> int:
    """Batch size the DiffAugment params were drawn for (n when inactive)."""
    return n if aug.brightness is None else int(aug.brightness.shape[0])


def _tile(aug: DiffAugParams, reps: int) -> DiffAugParams:
    """Repeat per-clip parameters over the windows of the clip (windows are stacked window-major)."""
    if reps == 1 or not aug.order:
        return aug
    def rep(t):
        return None if t is None else t.repeat(reps, *([1] * (t.dim() - 1)))
    return DiffAugParams(
        order=aug.order, brightness=rep(aug.brightness), saturation=rep(aug.saturation),
        contrast=rep(aug.contrast), translation=rep(aug.translation), cutout=rep(aug.cutout),
    )

