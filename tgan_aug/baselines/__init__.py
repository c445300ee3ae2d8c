"""Baselines the tGAN is compared against in the realism recipes.

- :mod:`tgan_aug.baselines.painter`: a non-learned painter (cell-free background + fitted cell
  intensity and edge profile + blur + noise). ``fit_painter(videos) -> PainterParams`` and
  ``paint(masks, params, seed=...) -> TrackedVideo``.
- The per-frame learned baseline (no temporal input, the role vid2vid plays in the paper) is the
  low-res generator with ``ModelConfig(use_prev_frame=False)``; see :mod:`tgan_aug.models.config`.
"""

from tgan_aug.baselines.painter import PainterParams, fit_painter, load_painter, paint, save_painter

__all__ = ["PainterParams", "fit_painter", "load_painter", "paint", "save_painter"]
