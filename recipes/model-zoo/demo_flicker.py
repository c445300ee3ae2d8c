"""What drives the frame-parity flicker of a shipped model on masks made like its data:
16 frames of 256x384 `synth-masks --like NAME` masks, 2 seeds, with the calibrated parameters and
with one changed at a time (speed, divisions, density), rendered with `--temporal autoregressive`
(the render default before 2026-11-30) and `--temporal per-frame` (the default now).

    OMP_NUM_THREADS=1 python recipes/model-zoo/demo_flicker.py [NAME]     # 2-6 min on a busy 2-core CPU

Measured for hela-small (2026-11-30), autoregressive -> per-frame: calibrated (speed_mean 2.3
px/frame) 0.036 / 0.034 -> 0.020 / 0.021; speed 1.68 (the data's median) 0.032 / 0.028 -> 0.020 /
0.019; no divisions 0.037 / 0.034 -> 0.021 / 0.021; speed 0.8 0.024 / 0.021 -> 0.017 / 0.016;
45 % coverage 0.040 / 0.042 -> 0.025 / 0.026 (real HeLa video: 0.012-0.015). The autoregressive
flicker grows with the cells' speed; per frame it barely does (why: recipes/model-zoo/flicker_cause.py).
"""

from __future__ import annotations

import sys

import numpy as np

from masksynth import synthesize
from masksynth.profile import like_config
from tgan_aug.metrics.stability import frame_parity_index
from tgan_aug.pretrained import DEFAULT_MODEL, model_profile, pretrained_path
from tgan_aug.render.engine import TEMPORAL_MODES
from tgan_aug.render.video import render_video

CONDITIONS = (("calibrated", {}), ("speed 1.68 px/frame", {"speed_mean": 1.68}), ("no divisions", {"division_rate": 0.0}),
              ("speed 0.8 px/frame", {"speed_mean": 0.8}), ("coverage 0.45", {"coverage": 0.45}))


def main(name: str = DEFAULT_MODEL) -> None:
    profile, checkpoint = model_profile(name), pretrained_path(name)
    print(f"{name}: calibrated speed_mean {profile.config['speed_mean']:.2f} px/frame")
    for label, changes in CONDITIONS:
        values: dict[str, list[float]] = {mode: [] for mode in TEMPORAL_MODES}
        for seed in (0, 1):
            masks = synthesize(like_config(profile, size=(256, 384), frames=16, **changes), seed=seed, shapes=profile.bank)
            for mode in TEMPORAL_MODES:
                video = render_video(checkpoint, masks, seed=seed, temporal=mode)
                values[mode].append(frame_parity_index(video.images, video.labels))
        print(f"  {label}: frame parity " + "; ".join(f"{mode} " + " / ".join(f"{v:.4f}" for v in vals)
                                                      for mode, vals in values.items()), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:2])
