"""Where the frame-parity flicker of the shipped models comes from: one input of the render loop
changed at a time, on the shipped weights (no retraining).

Variants of the low-res loop (the super-res stage is unchanged; `per-frame` and `autoregressive`
are `tgan-aug render --temporal ...`):

    autoregressive   masks t, t-1 and the previously generated frame (as trained; the default before)
    noise-per-frame  autoregressive, the noise maps of both stages re-drawn at every frame
    no-noise         autoregressive without noise inputs
    prev=background  masks t, t-1; the background as the "previous frame" at every t (no feedback)
    prev-damped      autoregressive, the frame fed back = 0.5 * new + 0.5 * the one fed before
    masks t,t        the current mask in both mask slots; the generated frame fed back
    independent      the current mask in both slots and the background as "previous frame": every
                     frame rendered as a sequence's first frame
    per-frame        independent, then the frame again with that draft as its previous frame
                     (`tgan-aug render --temporal per-frame`, the render default now)

For each: the frame-parity index of the low-res output (bilinear to the output size) and of the
final frames, on masks made like the model's data (`synth-masks --like`, 256x384, 16 frames, 2
seeds) and on the held-back frames' real masks (the card's setting; 3-6 frames).

    OMP_NUM_THREADS=1 python recipes/model-zoo/flicker_cause.py [NAME ...]    # ~1 min per model, one thread

Measured 2026-11-30: the table in recipes/model-zoo/README.md. In short (final frames, like masks
seed 0 / 1, held back): hela-small autoregressive 0.036 / 0.034, 0.027 -> per-frame 0.020 / 0.021,
0.016 (real 0.015); noise, the fed-back frame alone and the super-res stage move it by < 0.002;
mask t in the previous-mask slot alone 0.021 / 0.022, 0.018.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
import torch.nn.functional as F

from masksynth import synthesize
from masksynth.profile import like_config
from tgan_aug.metrics.stability import frame_parity_index
from tgan_aug.pretrained import model_entry, model_profile, pretrained_path, registry
from tgan_aug.pretrained.build import local_spec
from tgan_aug.pretrained.build import working_split
from tgan_aug.render.backgrounds import choose_background
from tgan_aug.render.engine import Renderer, _per_sequence_draws, sequence_seed
from tgan_aug.training.data import binary_resize, image_resize

VARIANTS = {  # name: (mask slots "history"/"current", previous frame "fed"/"background"/"damped", noise)
    "autoregressive": ("history", "fed", "fixed"),
    "noise-per-frame": ("history", "fed", "per-frame"),
    "no-noise": ("history", "fed", "none"),
    "prev=background": ("history", "background", "fixed"),
    "prev-damped": ("history", "damped", "fixed"),
    "masks t,t": ("current", "fed", "fixed"),
    "independent": ("current", "background", "fixed"),
    "per-frame": ("current", "self", "fixed"),
}


def render_variant(r: Renderer, labels: np.ndarray, bg: np.ndarray, seed: int, variant: str) -> tuple[np.ndarray, np.ndarray]:
    """(low-res output bilinear to (T, H, W), final frames (T, H, W)), both float in [-1, 1]; H, W
    multiples of ``r.multiple``."""
    slots, feed, noise = VARIANTS[variant]
    T, H, W = labels.shape
    h, w = H // 2, W // 2
    G_lo, G_sr = r.lowres, r.superres
    n = G_lo.cfg.n_masks
    with torch.inference_mode():
        g = torch.Generator().manual_seed(int(seed))
        w_lo, noise_lo = _per_sequence_draws(G_lo, [g], (h, w), r.device)
        w_sr, noise_sr = _per_sequence_draws(G_sr, [g], (H, W), r.device)
        masks = torch.from_numpy(binary_resize(labels != 0, (h, w)).astype(np.float32)[None])
        bg_t = torch.from_numpy(image_resize(bg, (h, w))[None, None])
        feats = G_lo.encode_background(bg_t)
        prev = first = G_lo.first_prev(bg_t, masks)
        lo, hi = [], []
        for t in range(T):
            if noise == "per-frame":
                noise_lo, noise_sr = G_lo.make_noise(1, g, size=(h, w)), G_sr.make_noise(1, g, size=(H, W))
            idx = [max(t - j, 0) for j in range(n)] if slots == "history" else [t] * n
            if feed == "self":  # the previous frame: this frame rendered independently first
                prev = G_lo(masks[:, idx], first, feats, w_lo, noise_lo).float()
            out = G_lo(masks[:, idx], prev, feats, w_lo, None if noise == "none" else noise_lo).float()
            prev = {"fed": out, "background": first, "damped": 0.5 * out + 0.5 * prev, "self": None}[feed]
            fg = torch.from_numpy((labels[t : t + 1, None] != 0).astype(np.float32))
            hi.append(G_sr(out, fg, w_sr, None if noise == "none" else noise_sr).float())
            lo.append(F.interpolate(out, size=(H, W), mode="bilinear", align_corners=False))
    return torch.cat(lo)[:, 0].numpy(), torch.cat(hi)[:, 0].numpy()


def cases(name: str, r: Renderer) -> list[tuple[str, np.ndarray, int]]:
    """[(label, labels (T, H, W), seed)]: like masks (2 seeds) and the held-back real masks (cropped
    to a multiple of the model's size step)."""
    prof = model_profile(name)
    out = [(f"like seed {s}", synthesize(like_config(prof, size=(256, 384), frames=16), seed=s, shapes=prof.bank).labels, s)
           for s in (0, 1)]
    e = model_entry(name)
    _, held, _, _ = working_split(local_spec(e["data"]),
                                  holdout=e["holdout"], scale=e["data_scale"])
    lab = held[0][1].labels
    m = r.multiple
    out.append(("held back", lab[:, : lab.shape[1] // m * m, : lab.shape[2] // m * m], 0))
    return out


def main(names: list[str]) -> None:
    for name in names or sorted(registry()):
        r = Renderer.from_checkpoint(pretrained_path(name))
        for label, labels, seed in cases(name, r):
            s = sequence_seed(seed, "seq")
            bg, _ = choose_background("auto", bank=r.backgrounds, stats=r.stats, size=labels.shape[1:],
                                      rng=np.random.default_rng([s, 1]))
            for variant in VARIANTS:
                lo, hi = render_variant(r, labels, bg, s, variant)
                print(f"{name:13s} {label:11s} {variant:16s} frame parity: low-res {frame_parity_index(lo, labels):.4f}"
                      f"  final {frame_parity_index(hi, labels):.4f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
