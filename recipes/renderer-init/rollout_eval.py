"""Low-res rollout of a low-res checkpoint over a whole real mask sequence, as rendering runs it.

The generator (EMA weights) runs autoregressively from the reference background over all frames
(training + held-out) of the realism recipes' prepared data (`recipes/realism/work/data/`, made by
any realism recipe); the output is compared with the real frames at low resolution:

- frame-parity index (`tgan_aug.metrics.stability`; 2-frame flicker along tracks) of fake and real,
- strict SSIM and L1 on the held-out frames (both in the model's [-1, 1] data range),
- cell / background means and their contrast (real PSC: 0.64).

    python recipes/renderer-init/rollout_eval.py RUN/checkpoint.pt psc

Prints one JSON line and writes RUN/checkpoint_rollout.png (real frames 0, 1, 2, 10, 30, 45 above,
the rollout below).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from skimage.metrics import structural_similarity

from tgan_aug.io.ctc import read_ctc
from tgan_aug.metrics.stability import frame_parity_index
from tgan_aug.preview import to_uint8
from tgan_aug.training.checkpoint import build_generator_from_checkpoint, image_stats_from_checkpoint, load_checkpoint
from tgan_aug.training.data import binary_resize, image_resize

DATA = Path(__file__).resolve().parents[1] / "realism" / "work" / "data"


def cell_and_background(frames: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame mean inside cells and in the background: two (T,) arrays."""
    return (np.array([f[m != 0].mean() for f, m in zip(frames, labels)]),
            np.array([f[m == 0].mean() for f, m in zip(frames, labels)]))


def main(ckpt_path: str, dataset: str = "psc") -> dict:
    torch.set_num_threads(1)
    root = DATA / f"{dataset}-s0.5"
    video = read_ctc(root / "full", sequence="01")
    n_train = json.loads((root / "done.json").read_text())["n_train"]
    ckpt = load_checkpoint(ckpt_path)
    stats = image_stats_from_checkpoint(ckpt)
    bg = np.asarray(next(iter(ckpt["data"]["backgrounds"].values())), np.float32)
    T, H, W = video.masks.labels.shape
    Hp, Wp = H // 16 * 16, W // 16 * 16  # the small preset's size multiple at the output size
    labels = video.masks.labels[:, :Hp, :Wp]
    real = image_resize(stats.normalise(np.asarray(video.images))[:, :Hp, :Wp], (Hp // 2, Wp // 2))
    lab_lr = labels[:, ::2, ::2]
    masks = torch.from_numpy(binary_resize(labels != 0, (Hp // 2, Wp // 2)).astype(np.float32))[None]
    bg = bg if bg.shape == (H, W) else image_resize(bg[None], (H, W))[0]
    bg_lr = torch.from_numpy(image_resize(bg[None, :Hp, :Wp], (Hp // 2, Wp // 2)))[None].float()

    G = build_generator_from_checkpoint(ckpt, "lowres", ema=True, device="cpu").eval()
    g = torch.Generator().manual_seed(123)
    with torch.inference_mode():
        w = G.mapping(G.make_z(1, generator=g))
        noise = G.make_noise(1, g, size=(Hp // 2, Wp // 2))
        fake = G.rollout(masks, bg_lr, w, noise)[0].numpy()
    cell, back = cell_and_background(fake, lab_lr)
    rcell, rback = cell_and_background(real, lab_lr)
    held = slice(n_train, T)
    out = {
        "parity_fake": frame_parity_index(fake, lab_lr), "parity_real": frame_parity_index(real, lab_lr),
        "ssim_strict_heldout": float(np.mean([structural_similarity(a, b, data_range=2.0)
                                              for a, b in zip(fake[held], real[held])])),
        "l1_heldout": float(np.abs(fake[held] - real[held]).mean()),
        "contrast_fake": float((cell - back).mean()), "contrast_real": float((rcell - rback).mean()),
        "contrast_fake_first3": float((cell - back)[:3].mean()), "contrast_fake_last5": float((cell - back)[-5:].mean()),
        "cell_fake": float(cell.mean()), "cell_real": float(rcell.mean()),
        "background_fake": float(back.mean()), "background_real": float(rback.mean()),
    }
    pick = [0, 1, 2, 10, 30, 45]
    rows = [np.concatenate([to_uint8(x[i], (-1.0, 1.0)) for i in pick], 1) for x in (real, fake)]
    cv2.imwrite(str(Path(ckpt_path).with_name("checkpoint_rollout.png")), np.concatenate(rows, 0))
    print(json.dumps({k: round(v, 4) for k, v in out.items()}))
    return out


if __name__ == "__main__":
    main(*sys.argv[1:])
