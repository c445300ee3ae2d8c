"""Data-parallel smoke test: two CPU processes on the gloo backend keep identical weights."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, data: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from tgan_aug.training import TrainConfig
    from tgan_aug.training.data import ClipDataset, prepare_sequences, read_sources
    from tgan_aug.training.ddp import average_gradients, broadcast_module, init_distributed
    from tgan_aug.training.loop import _optimizers, build_networks, lowres_train_step, train
    from tgan_aug.training.steps import StepContext

    cfg = TrainConfig.preset("tiny", perceptual="none", sample_every=100, ckpt_every=100, p_vanilla=1.0)
    dev = torch.device("cpu")
    info = init_distributed(dev)
    assert info.world_size == world and info.rank == rank
    seqs, _ = prepare_sequences(read_sources(data), crop=cfg.crop_size)
    nets = build_networks(cfg, dev)
    if rank == 1:  # a different start on rank 1: the broadcast must overwrite it
        with torch.no_grad():
            for p in nets["G"].parameters():
                p.add_(1.0)
    for net in nets.values():
        broadcast_module(net, info)
    opts = _optimizers(cfg, nets)
    ctx = StepContext(w_flow=cfg.w_flow, w_l1=cfg.w_l1, w_perceptual=0.0,
                      sync_grads=lambda module: average_gradients(module, info))
    ds = ClipDataset(seqs, crop=cfg.crop_size, lowres=cfg.lowres_size, batch_size=1, clip_len=2,
                     p_vanilla=1.0, seed=0, rank=rank)
    batch = ds[0]
    gen = torch.Generator().manual_seed(100 + rank)
    lowres_train_step(nets, opts, batch, cfg, ctx, gen, None)
    torch.save({"nets": {k: v.state_dict() for k, v in nets.items()}, "images": batch["images"]},
               Path(out) / f"rank{rank}.pt")
    # the full loop under the same process group (rank 0 writes the run folder)
    train(cfg, data=data, out_dir=Path(out) / "runs", device="cpu", max_steps=2, progress=False)


@pytest.mark.slow  # ~40 s on 2 shared cores: two interpreters import torch and join a gloo group
@pytest.mark.timeout(300)
def test_two_process_gloo_keeps_ranks_in_sync(tmp_path, tiff_pair):
    mp.spawn(_worker, args=(2, _free_port(), tiff_pair, str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert not torch.equal(r0["images"], r1["images"]), "ranks must train on different clips"
    for net in ("G", "G_ema", "D", "FlowNet"):
        for k, v in r0["nets"][net].items():
            assert torch.equal(v, r1["nets"][net][k]), f"{net}.{k} differs between ranks"
    runs = list((tmp_path / "runs").glob("*-lowres-tiny"))
    assert len(runs) == 1 and (runs[0] / "checkpoint.pt").is_file()
