"""The training loop of both stages, top to bottom (nanoGPT style).

``train(cfg, data=..., out_dir=...)`` reads the data, builds the networks (or restores them from
``resume``), makes a new numbered run folder, then repeats: batch -> generate -> D step -> G step
-> FlowNet step (low-res only) -> EMA, logging to ``metrics.jsonl``, drawing sample grids and the
loss curve, and saving ``checkpoint.pt`` every ``ckpt_every`` steps and at the end.

Randomness: network initialisation uses ``cfg.seed``; every step's data, style/noise and DiffAugment
draws come from generators seeded by ``(seed, rank, step)``. So a run resumed from a checkpoint at
step N reproduces, bit for bit on CPU, the run that was never interrupted.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tgan_aug.errors import UserError
from tgan_aug.training.augment import sample_diffaug
from tgan_aug.training.checkpoint import (
    FORMAT_VERSION,
    build_generator_from_checkpoint,
    image_stats_from_checkpoint,
    load_checkpoint,
    lowres_fields,
    resolve_run_config,
    save_checkpoint,
    saved_model_dict,
)
from tgan_aug.training.config import NO_STEP_LIMIT, TrainConfig
from tgan_aug.training.data import ClipDataset, ImageStats, Sequence, prepare_sequences, read_sources, split_holdout
from tgan_aug.training.ddp import (
    DistInfo,
    average_gradients,
    broadcast_module,
    init_distributed,
    rank_device,
    shutdown_distributed,
)
from tgan_aug.training.plots import save_loss_plot, save_sample_grid
from tgan_aug.training.quality_check import prepare_held_out, quality_record, save_quality_grid, stage_quality
from tgan_aug.training.rundir import MetricsLog, make_run_dir, read_metrics
from tgan_aug.training.steps import (
    StepContext,
    d_step,
    disc_windows,
    ema_decay_at,
    ema_update,
    flow_step,
    g_step,
    generate_lowres_clip,
    generate_superres,
)

__all__ = ["train", "build_networks", "step_seed"]


def step_seed(*parts: int) -> int:
    """A 63-bit seed derived from integers (seed, rank, step, purpose)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint64)[0] >> 1)


# ---------------------------------------------------------------------------- setup helpers
def build_networks(cfg: TrainConfig, device: torch.device) -> dict[str, torch.nn.Module]:
    """G, G_ema, D (and FlowNet for the low-res stage), initialised from ``cfg.seed``."""
    from tgan_aug.models import FlowNet, LowResGenerator, PatchDiscriminator, SuperResGenerator

    torch.manual_seed(cfg.seed)
    m = cfg.model
    nets: dict[str, torch.nn.Module] = {}
    if cfg.stage == "lowres":
        nets["G"] = LowResGenerator(m)
        nets["D"] = PatchDiscriminator(2 * m.n_masks, m)
        nets["FlowNet"] = FlowNet(m)
    else:
        nets["G"] = SuperResGenerator(m)
        nets["D"] = PatchDiscriminator(2, m)
    nets["G_ema"] = copy.deepcopy(nets["G"]).eval().requires_grad_(False)
    for k, net in nets.items():
        net.to(device)
    return nets


def _optimizers(cfg: TrainConfig, nets: dict[str, torch.nn.Module]) -> dict[str, torch.optim.Optimizer]:
    betas = (cfg.beta1, cfg.beta2)
    opts = {
        "G": torch.optim.Adam(nets["G"].parameters(), lr=cfg.lr_g, betas=betas),
        "D": torch.optim.Adam(nets["D"].parameters(), lr=cfg.lr_d, betas=betas),
    }
    if "FlowNet" in nets:
        opts["FlowNet"] = torch.optim.Adam(nets["FlowNet"].parameters(), lr=cfg.lr_flow, betas=(0.9, 0.999))
    return opts


def _precision(cfg: TrainConfig, device: torch.device) -> tuple[Any, dict[str, Any], str]:
    """(autocast factory, GradScalers, description). Autocast only on CUDA; fp16 uses GradScalers."""
    if device.type != "cuda" or cfg.amp == "off":
        return contextlib.nullcontext, {}, "fp32"
    if cfg.amp == "fp16" or (cfg.amp == "auto" and not torch.cuda.is_bf16_supported()):
        scalers = {k: torch.amp.GradScaler("cuda") for k in ("G", "D", "F")}
        return (lambda: torch.autocast("cuda", dtype=torch.float16)), scalers, "fp16 autocast"
    return (lambda: torch.autocast("cuda", dtype=torch.bfloat16)), {}, "bf16 autocast"


def _perceptual(cfg: TrainConfig, device: torch.device):
    if cfg.perceptual == "none" or cfg.w_perceptual <= 0:
        return None, "none"
    from tgan_aug.models import PerceptualLoss

    loss = PerceptualLoss(cfg.perceptual, vgg19_weights=cfg.vgg19_weights or None, invert=cfg.deepsea_invert)
    return loss.to(device), loss.describe()


def _sample_batch(seqs: list[Sequence], cfg: TrainConfig) -> dict[str, torch.Tensor]:
    """A fixed, un-augmented batch shown in every sample grid."""
    longest = max(s.n_frames for s in seqs)
    n = 1 if cfg.stage == "superres" else min(4, longest, max(2, cfg.clip_schedule[-1][1]))
    ds = ClipDataset(seqs, crop=cfg.crop_size, lowres=cfg.lowres_size, batch_size=min(4, 2 * cfg.batch_size),
                     clip_len=n, p_vanilla=0.0, seed=cfg.seed + 7777)
    return ds[0]


# ---------------------------------------------------------------------------- one step per stage
def lowres_train_step(nets, opts, batch, cfg: TrainConfig, ctx: StepContext, gen: torch.Generator, perceptual,
                      step: int = 0) -> dict[str, float]:
    """Generate a clip, then D step, G step, FlowNet step and EMA. Returns the losses.

    step: steps completed before this one (sets the EMA warm-up, see :func:`ema_decay_at`).
    """
    G, D, FN = nets["G"], nets["D"], nets["FlowNet"]
    k = int(batch.get("burn_in", 0))
    real, masks, bg = batch["images_lr"][:, k:], batch["masks_lr"], batch["background_lr"]
    n = cfg.model.n_masks
    with ctx.autocast():
        fake = generate_lowres_clip(G, masks, bg, generator=gen, detach_prev=cfg.detach_prev, burn_in=k).float()
    masks = masks[:, k:]
    real_in, fake_in = disc_windows(real, masks, n), disc_windows(fake, masks, n)
    aug = sample_diffaug(real.shape[0], real.shape[-2], real.shape[-1], p=cfg.p_diff, generator=gen)
    out = d_step(D, opts["D"], real_in, fake_in.detach(), aug, image_channels=n, ctx=ctx)
    out |= g_step(G, opts["G"], D, real=real, fake=fake, real_in=real_in, fake_in=fake_in, aug=aug,
                  image_channels=n, perceptual=perceptual, flownet=FN, ctx=ctx)
    out |= flow_step(FN, opts["FlowNet"], real, ctx=ctx)
    ema_update(nets["G_ema"], G, ema_decay_at(step, cfg.ema_decay, cfg.ema_rampup))
    return out


def superres_train_step(nets, opts, batch, cfg: TrainConfig, ctx: StepContext, gen: torch.Generator, perceptual,
                        lowres_G=None, step: int = 0) -> dict[str, float]:
    """(low-res frame, mask at out size) -> real frame at out size: D step, G step, EMA."""
    G, D = nets["G"], nets["D"]
    real, mask = batch["images"][:, -1], batch["masks"][:, -1]
    lowres = batch["images_lr"][:, -1]
    if lowres_G is not None and float(torch.rand((), generator=gen)) < cfg.p_lowres_input:
        with torch.no_grad(), ctx.autocast():
            lowres = generate_lowres_clip(lowres_G, batch["masks_lr"], batch["background_lr"], generator=gen)[:, -1].float()
    with ctx.autocast():
        fake = generate_superres(G, lowres, mask, generator=gen).float()
    real_in, fake_in = disc_windows(real[:, None], mask[:, None], 1), disc_windows(fake[:, None], mask[:, None], 1)
    aug = sample_diffaug(real.shape[0], real.shape[-2], real.shape[-1], p=cfg.p_diff, generator=gen)
    out = d_step(D, opts["D"], real_in, fake_in.detach(), aug, image_channels=1, ctx=ctx)
    out |= g_step(G, opts["G"], D, real=real[:, None], fake=fake[:, None], real_in=real_in, fake_in=fake_in, aug=aug,
                  image_channels=1, perceptual=perceptual, flownet=None, ctx=ctx)
    ema_update(nets["G_ema"], G, ema_decay_at(step, cfg.ema_decay, cfg.ema_rampup))
    return out


@torch.no_grad()
def make_samples(nets, batch, cfg: TrainConfig, *, lowres_G=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(masks, real, generated) as (N, L, H, W) numpy arrays from G_ema on a fixed batch and seed."""
    gen = torch.Generator().manual_seed(cfg.seed + 4242)
    G = nets["G_ema"]
    if cfg.stage == "lowres":
        fake = generate_lowres_clip(G, batch["masks_lr"], batch["background_lr"], generator=gen)
        return batch["masks_lr"].cpu().numpy(), batch["images_lr"].cpu().numpy(), fake.float().cpu().numpy()
    lowres = batch["images_lr"][:, -1]
    if lowres_G is not None:
        lowres = generate_lowres_clip(lowres_G, batch["masks_lr"], batch["background_lr"], generator=gen)[:, -1]
    fake = generate_superres(G, lowres, batch["masks"][:, -1], generator=gen)
    return (batch["masks"][:, -1:].cpu().numpy(), batch["images"][:, -1:].cpu().numpy(),
            fake[:, None].float().cpu().numpy())


def _checkpoint(cfg, nets, opts, ctx, step, stats: ImageStats, seqs, source: str, perceptual_desc: str,
                lowres_weights=None) -> dict[str, Any]:
    from tgan_aug import __version__

    weights = {cfg.stage: {k: v.state_dict() for k, v in nets.items()}}
    if lowres_weights is not None:
        weights["lowres"] = {"G_ema": lowres_weights}
    optim = {k: o.state_dict() for k, o in opts.items()}
    for k, s in ctx.scalers.items():
        optim[f"scaler_{k}"] = s.state_dict()
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return {
        "format_version": FORMAT_VERSION,
        "kind": "tgan-aug-checkpoint",
        "stage": cfg.stage,
        "config": cfg.to_dict(),
        "weights": weights,
        "optimizers": optim,
        "step": int(step),
        "rng": rng,
        "data": {
            "stats": stats.to_dict(),
            "backgrounds": {s.name: torch.from_numpy(np.ascontiguousarray(s.background)) for s in seqs},
            "source": source,
        },
        "perceptual": perceptual_desc,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tgan_aug_version": __version__,
    }


def _stop_flag(stop: bool, info: DistInfo, device: torch.device) -> bool:
    """Rank 0 decides (time limit); every rank follows."""
    if not info.enabled:
        return stop
    t = torch.tensor([1.0 if stop else 0.0], device=device)
    torch.distributed.broadcast(t, src=0)
    return bool(t.item() > 0)


def init_from_checkpoint(nets: dict[str, torch.nn.Module], cfg: TrainConfig) -> str:
    """Fine-tuning: load ``cfg.init_checkpoint``'s weights of ``cfg.stage`` into G and G_ema (and D
    when the file has one, i.e. a stage checkpoint rather than a model file). Returns a log line.

    The architecture must match (same preset and model settings; frame sizes may differ: the
    networks are convolutional). Raises :class:`UserError` naming the file and the fix otherwise.
    """
    path = cfg.init_checkpoint
    init = load_checkpoint(path)
    weights = init["weights"].get(cfg.stage) or {}
    src = weights.get("G_ema", weights.get("G"))
    if src is None:
        raise UserError(f"--init {path}: it holds no {cfg.stage} generator; give a model file from 'tgan-aug train' "
                        f"or a {cfg.stage} checkpoint")
    loaded = ["G", "G_ema"]
    try:
        nets["G"].load_state_dict(src)
        nets["G_ema"].load_state_dict(src)
        if "D" in weights:
            nets["D"].load_state_dict(weights["D"])
            loaded.append("D")
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0][:160]
        raise UserError(f"--init {path}: its {cfg.stage} networks do not fit this model config ({first}); "
                        f"train with the preset and --set model.* settings it was trained with") from None
    return f"initialised {'/'.join(loaded)} from {path} (step {init.get('step', '?')}); optimizers start fresh"


# ---------------------------------------------------------------------------- the loop
def train(
    cfg: TrainConfig,
    *,
    data: str | Path,
    out_dir: str | Path,
    device: str = "auto",
    resume: str | Path | None = None,
    sequence: str | None = None,
    workers: int = 0,
    max_steps: int | None = None,
    max_minutes: float | None = None,
    progress: bool = True,
    sources: list | None = None,
) -> Path:
    """Train one stage into a new run folder ``out_dir/NNNNN-<stage>-<preset>/``; returns its path.

    cfg: the resolved :class:`TrainConfig` (ignored, except limits, when ``resume`` is given: the
        checkpoint's config is used).
    data: zarr store, CTC folder or ``IMAGES.tif:MASKS.tif`` (see :func:`read_sources`).
    resume: a ``checkpoint.pt`` of the same stage; training continues at its step.
    max_steps, max_minutes: override ``cfg.max_steps`` / ``cfg.max_minutes`` (steps are counted
        from the start of training, not of this process); see :func:`resolve_run_config`.
    sources: the data already read (``read_sources(data)``), to avoid reading it twice.
    With ``cfg.holdout`` > 0 the last frames of every sequence are not trained on; every sample grid
    then also runs the quality check on them (:mod:`tgan_aug.training.quality_check`), logged to
    metrics.jsonl, written on the sample PNG's title and, at the end, to ``quality.json``.
    The folder holds config.json, metrics.jsonl, log.txt, checkpoint.pt, samples/*.png, loss.png.
    """
    from tgan_aug.device import resolve_device

    dev = resolve_device(device)
    info = init_distributed(dev)
    dev = rank_device(dev, info)
    cfg, ckpt = resolve_run_config(cfg, resume=resume, max_steps=max_steps, max_minutes=max_minutes)

    # ---- data (the last `holdout` of every sequence is held back for the quality check)
    sources, held_sources = split_holdout(read_sources(data, sequence=sequence) if sources is None else sources,
                                          cfg.holdout)
    stats = image_stats_from_checkpoint(ckpt) if ckpt is not None else None
    seqs, stats = prepare_sequences(sources, crop=cfg.crop_size, data_scale=cfg.data_scale, percentiles=cfg.percentiles,
                                    background_dilate=cfg.background_dilate, stats=stats)
    held = prepare_held_out(held_sources, cfg, stats, {s.name: s.background for s in seqs}) if held_sources else None
    dataset = ClipDataset(seqs, crop=cfg.crop_size, lowres=cfg.lowres_size, batch_size=cfg.batch_size,
                          clip_len=cfg.clip_len, p_vanilla=cfg.p_vanilla, p_cell_crop=cfg.p_cell_crop,
                          seed=cfg.seed, rank=info.rank,
                          burn_in=cfg.rollout_burnin if cfg.stage == "lowres" else 0)
    longest = max(s.n_frames for s in seqs)
    if cfg.clip_schedule[0][1] > longest:
        raise UserError(f"--data {data}: sequences have at most {longest} frames; clip_schedule starts at "
                        f"{cfg.clip_schedule[0][1]}; use a shorter schedule (--set clip_schedule=[[0,2]])")

    # ---- networks, optimizers, precision, losses
    nets = build_networks(cfg, dev)
    opts = _optimizers(cfg, nets)
    autocast, scalers, precision = _precision(cfg, dev)
    ctx = StepContext(w_adv=cfg.w_adv, w_flow=cfg.w_flow, w_l1=cfg.w_l1, w_perceptual=cfg.w_perceptual,
                      grad_clip=cfg.grad_clip, autocast=autocast, scalers=scalers,
                      sync_grads=lambda module: average_gradients(module, info))
    perceptual, perceptual_desc = _perceptual(cfg, dev)
    lowres_G, lowres_weights = None, None
    if cfg.stage == "superres" and cfg.lowres_checkpoint:
        lo = load_checkpoint(cfg.lowres_checkpoint)
        if lowres_fields(saved_model_dict(lo)) != lowres_fields(cfg.to_dict()["model"]):
            raise UserError(f"lowres_checkpoint {cfg.lowres_checkpoint} was trained with another model config; use the same preset")
        lowres_G = build_generator_from_checkpoint(lo, "lowres", ema=True, device=dev)
        lowres_weights = lo["weights"]["lowres"]["G_ema"]
    step = 0
    init_note = ""
    if cfg.init_checkpoint and ckpt is None:
        init_note = init_from_checkpoint(nets, cfg)
    if ckpt is not None:
        for k, net in nets.items():
            net.load_state_dict(ckpt["weights"][cfg.stage][k])
        for k, opt in opts.items():
            opt.load_state_dict(ckpt["optimizers"][k])
        for k, s in scalers.items():
            if f"scaler_{k}" in ckpt["optimizers"]:
                s.load_state_dict(ckpt["optimizers"][f"scaler_{k}"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        step = int(ckpt["step"])
    for net in nets.values():
        broadcast_module(net, info)

    # ---- run folder (rank 0 writes)
    run_dir = make_run_dir(out_dir, f"{cfg.stage}-{cfg.preset}") if info.is_main else Path(out_dir)
    metrics = MetricsLog(run_dir / "metrics.jsonl")

    def log(msg: str) -> None:
        if info.is_main:
            if progress:  # --quiet: the lines still go to log.txt
                from tqdm import tqdm

                tqdm.write(msg)
            with open(run_dir / "log.txt", "a", encoding="utf-8") as fh:
                fh.write(msg + "\n")

    if info.is_main:
        (run_dir / "config.json").write_text(cfg.to_json() + "\n", encoding="utf-8")
        log(f"run folder: {run_dir}")
        log(f"data: {data} ({len(seqs)} sequence(s), {sum(s.n_frames for s in seqs)} frames, working scale "
            f"{stats.scale:.4g}, intensities {stats.lo:.4g}..{stats.hi:.4g} -> [-1, 1], dtype {stats.dtype})")
        log(f"perceptual loss: {perceptual_desc}")
        log(f"device: {dev} ({precision}), world size {info.world_size}"
            + (f", resumed from {resume} at step {step}" if ckpt is not None else ""))
        if init_note:
            log(init_note)
    sample_batch = {k: v.to(dev) for k, v in _sample_batch(seqs, cfg).items()}

    def save() -> None:
        if not info.is_main:
            return
        save_checkpoint(run_dir / "checkpoint.pt",
                        _checkpoint(cfg, nets, opts, ctx, step, stats, seqs, str(data), perceptual_desc, lowres_weights))
        save_loss_plot(run_dir / "loss.png", read_metrics(run_dir / "metrics.jsonl"))

    def snapshot(seconds: float) -> None:
        """snapshots/step-NNNNNN.pt: the G_ema weights at this step (renderable once merged), and a
        line in snapshots/index.jsonl with the training seconds so far (time-to-quality curves)."""
        if not info.is_main:
            return
        snap = _checkpoint(cfg, {"G_ema": nets["G_ema"]}, {}, ctx, step, stats, seqs, str(data), perceptual_desc,
                           lowres_weights)
        snap["optimizers"] = {}  # (gradient scalers' states, on CUDA)
        save_checkpoint(run_dir / "snapshots" / f"step-{step:06d}.pt", snap)
        with open(run_dir / "snapshots" / "index.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"step": step, "time_s": round(seconds, 3), "file": f"step-{step:06d}.pt"}) + "\n")

    quality: dict[str, Any] = {}
    lowres_cache: dict = {}  # the frozen low-res model's held-back rollouts, made once

    def samples() -> None:
        if not info.is_main:
            return
        m, r, f = make_samples(nets, sample_batch, cfg, lowres_G=lowres_G)
        title = None
        if held is not None:
            report, arrays = stage_quality(cfg.stage, nets["G_ema"], held, seed=cfg.seed, lowres_G=lowres_G,
                                           lowres_cache=lowres_cache)
            metrics.append(quality_record(cfg.stage, step, report))
            save_quality_grid(run_dir / "samples" / f"held-{step:06d}.png", report, arrays)
            quality.update(step=step, **report.to_dict())
            title = f"step {step}, held-back: {report.headline()}"
        save_sample_grid(run_dir / "samples" / f"step-{step:06d}.png", m, r, f, title=title)

    # ---- loop
    loader: Any = (dataset[s] for s in range(step, cfg.max_steps))
    if workers > 0:
        loader = torch.utils.data.DataLoader(dataset, batch_size=None, sampler=range(step, cfg.max_steps),
                                             num_workers=workers)
    from tqdm import tqdm

    limited = cfg.max_steps < NO_STEP_LIMIT  # else only the time limit ends the run: no step total to show
    desc = f"train {cfg.stage}" + (f" ({cfg.max_minutes:g} min)" if cfg.max_minutes > 0 else "")
    bar = tqdm(total=cfg.max_steps if limited else None, initial=step, disable=not (progress and info.is_main), desc=desc,
               unit="step", dynamic_ncols=True)
    t_start = time.time()
    t_window, window = time.time(), []
    step_fn = lowres_train_step if cfg.stage == "lowres" else superres_train_step
    extra = {"lowres_G": lowres_G} if cfg.stage == "superres" else {}
    for batch in loader:
        if step >= cfg.max_steps:
            break
        batch = {k: v.to(dev, non_blocking=True) for k, v in batch.items()}
        gen = torch.Generator().manual_seed(step_seed(cfg.seed, info.rank, step, 1))
        losses = step_fn(nets, opts, batch, cfg, ctx, gen, perceptual, step=step, **extra)
        step += 1
        window.append(losses)
        bar.update(1)
        if step % cfg.log_every == 0 or step == cfg.max_steps:
            now = time.time()
            record = {k: float(np.mean([w[k] for w in window if k in w])) for k in window[-1]}
            clip_len = int(batch["images"].shape[1]) - int(batch.get("burn_in", 0))
            record.update(step=step, clip_len=clip_len, time_s=round(now - t_start, 3),
                          steps_per_s=round(len(window) / max(now - t_window, 1e-9), 4))
            if info.is_main:
                metrics.append(record)
                bar.set_postfix({k: f"{record[k]:.3g}" for k in ("d_loss", "g_loss", "g_l1") if k in record})
            t_window, window = now, []
        if step % cfg.sample_every == 0:
            samples()
        if step % cfg.ckpt_every == 0:
            save()
        if cfg.snapshot_every and step % cfg.snapshot_every == 0:
            snapshot(time.time() - t_start)
        over = cfg.max_minutes > 0 and (time.time() - t_start) / 60.0 >= cfg.max_minutes
        if _stop_flag(over, info, dev):
            log(f"stopping at step {step}: --max-minutes {cfg.max_minutes} reached")
            break
    bar.close()
    if window and info.is_main:  # flush a partial logging window
        record = {k: float(np.mean([w[k] for w in window if k in w])) for k in window[-1]}
        record.update(step=step, time_s=round(time.time() - t_start, 3))
        metrics.append(record)
    samples()
    save()
    if info.is_main:
        if quality:
            (run_dir / "quality.json").write_text(json.dumps(quality, indent=2) + "\n", encoding="utf-8")
            log(f"quality check ({cfg.stage} stage, {held.n_frames} held-back frames): {quality['verdict']}")
        log(f"done: step {step}, {time.time() - t_start:.1f} s; checkpoint {run_dir / 'checkpoint.pt'}")
        (run_dir / "summary.json").write_text(json.dumps({"step": step, "seconds": round(time.time() - t_start, 2),
                                                          "perceptual": perceptual_desc, "precision": precision,
                                                          "world_size": info.world_size}, indent=2) + "\n")
    shutdown_distributed(info)
    return run_dir
