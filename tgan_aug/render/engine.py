"""Rendering: tracked masks -> microscopy video with a trained low-res + super-res generator pair.

Inference mirrors training (tgan_aug/training/steps.py, data.py):

- the masks are the working-resolution geometry: the super-res stage sees ``fg = labels != 0``, or
  with ``close_gaps`` (``--sister-junctions``) ``cell_foreground(labels, lineage)`` (the cells, and
  the cut between two sisters, which bacteria in phase contrast show as a dark junction, not as
  background), with ``part_neighbours`` (``--part-neighbours``) two background pixels between
  neighbours that are not sisters (masks that touch are one blob otherwise, drawn without the
  line between the cells), at the output size (H, W), the low-res
  stage sees ``binary_resize(fg, (H/2, W/2))`` (area average >= 0.5, the rule used in training);
- the background (in [-1, 1]) is area-resized to low-res, encoded ONCE per sequence, and is the
  "previous frame" of frame 0 (of every frame's draft, see below);
- temporal inputs (``Renderer.temporal``): "per-frame" (the default) makes every frame from its own
  mask: the low-res generator renders a draft of frame t as it renders a sequence's first frame
  (mask t in every one of its ``n_masks`` slots, the background as "previous frame"), then frame t
  again with the draft as its previous frame, so it sees a previous frame with cells where they
  are, as in training; the sequence's style, noise and background (drawn once) keep the frames
  coherent, and no frame depends on another (no drift, no motion flicker). "autoregressive" feeds
  masks t, t-1, ... and the previously generated frame, as in training and in the paper.
  Why (recipes/model-zoo/flicker_cause.py, the shipped models, no retraining): their low-res
  generators answer the displacement between masks t-1 and t (a cell's step, random in direction
  and length from frame to frame) with a per-frame jitter of the cell's brightness, so the
  autoregressive frame-parity index grows with cell speed; the fed-back frame alone, the noise, the
  style and the super-res stage are not the cause (each changed alone moves the index by < 0.002
  on hela-small). Rendering the first pass alone ("independent") flickers as little but costs
  FID-DeepSea on two of the four models; the second pass costs one more low-res pass per frame
  (1.5x the CPU time of an autoregressive render with the small preset);
- the style z and the noise maps of both stages are drawn ONCE per sequence from a generator
  seeded by (seed, sequence name), so the result does not depend on batching or sharding;
- intensities (``Renderer.intensity_match``, default "auto"): when the checkpoint stores the training
  data's intensity quantiles, each sequence's frames go through ONE monotone map onto them, fitted
  before its first frame on ``CALIBRATION_FRAMES`` evenly spaced frames rendered per frame
  (:mod:`tgan_aug.render.intensity`; costs those extra frames per sequence);
- carry-over (``Renderer.carry_over``, alpha; by default, when the intensities are matched, the alpha
  fitted into the model file by ``tgan-aug train`` (:mod:`tgan_aug.render.temporal_fit`), else 0 =
  off): after the map, each cell's texture and halo are blended with the previous output frame moved
  with the cell (:mod:`tgan_aug.render.carry_over`; causal);
- track smoothing (``Renderer.track_smoothing``, beta; by default, when the intensities are matched, the
  beta fitted into the model file by ``tgan-aug train``, or ``DEFAULT_TRACK_SMOOTHING`` for a model
  without one; unmatched: 0 = off): after the carry-over, each cell's mean intensity follows a moving
  average along its track (:mod:`tgan_aug.render.track_smoothing`; causal, the cells' texture and the
  background unchanged);
- frames are denormalised with the checkpoint's ImageStats (training dtype and intensity range).

Reproducibility: the same seed, checkpoint, options and CPU thread count give bit-identical
frames (tested). oneDNN splits a convolution's float sums differently for another thread count
(``torch.set_num_threads``, ``OMP_NUM_THREADS``) or another ``frame_batch``; floats then differ in
the last bit (~5e-7 in [-1, 1]), which moves a pixel by one grey level where its value sits on
a rounding boundary (rare: 0 to ~1 in 2,000 pixels). The thread count is recorded in each sequence's provenance
(``torch_threads``); CUDA results are not bit-exact across runs.

Sizes: any (H, W) runs fully convolutionally; frames that are not multiples of 2 * 2**depth are
mirror-padded (masks padded with background) to the next multiple and cropped back. A 512x768
frame of ``synth-masks --density high`` therefore renders directly with the ``small`` model.

Speed: several sequences are batched in the low-res stage (``batch``); the super-res stage runs
``frame_batch`` frames of one sequence at a time, so its styled convs see one style and fold the
modulation into their weights (a plain conv); everything runs under ``torch.inference_mode``
(in-place bias/noise/activation) and, on CUDA, bf16 autocast (``precision="auto"``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

import numpy as np
import torch

from tgan_aug.errors import UserError
from tgan_aug.hashing import file_sha256
from tgan_aug.render.carry_over import CarryState, carry_frame, check_alpha
from tgan_aug.render.intensity import (
    IntensityMatch,
    apply_quantile_map,
    calibration_indices,
    fit_quantile_map,
    resolve_match,
    target_quantiles,
)
from tgan_aug.render.shard import sequence_seed
from tgan_aug.render.track_smoothing import TrackState, check_beta, smooth_frame
from tgan_aug.validation import validate_video

__all__ = ["Renderer", "default_track_smoothing", "file_sha256", "sequence_seed", "render_frames", "render_to_store"]

Precision = Literal["auto", "fp32", "bf16"]
#: what the low-res generator sees of earlier frames (see the module docstring)
Temporal = Literal["per-frame", "autoregressive"]
TEMPORAL_MODES: tuple[str, ...] = ("per-frame", "autoregressive")  # the first is the default
#: beta of track smoothing (:mod:`tgan_aug.render.track_smoothing`): weight of a cell's earlier brightness,
#: used by default when the intensities are matched (the map raises the contrast, and with it the
#: cells' frame-to-frame jitter); unmatched frames are not smoothed by default
DEFAULT_TRACK_SMOOTHING = 0.3


@dataclass
class Renderer:
    """The two generators and what rendering needs from a checkpoint.

    Build with :meth:`from_checkpoint`. ``backgrounds``: name -> (Y, X) float32 in [-1, 1].
    """

    lowres: torch.nn.Module
    superres: torch.nn.Module
    cfg: Any
    stats: Any
    backgrounds: dict[str, np.ndarray]
    checkpoint: str
    sha256: str
    device: torch.device
    info: dict[str, Any] = field(default_factory=dict)
    temporal: Temporal = "per-frame"
    intensity_match: IntensityMatch = "auto"
    track_smoothing: float | None = None
    carry_over: float | None = None
    fitted: dict[str, float] = field(default_factory=dict)  # alpha/beta stored in the model file (fitted_temporal)
    #: sister junctions: the generators see :func:`tgan_aug.contacts.cell_foreground` (the gaps between
    #: sisters closed, when the masks' lineage is given); False (default) = ``labels != 0``
    close_gaps: bool = False
    #: parted neighbours: cells that are not sisters keep two background pixels between them in what the
    #: generators see (:func:`tgan_aug.contacts.neighbour_partings`); False (default) = the masks as they are
    part_neighbours: bool = False

    def __post_init__(self) -> None:
        if self.temporal not in TEMPORAL_MODES:
            raise UserError(f"--temporal {self.temporal!r}: choose one of {', '.join(TEMPORAL_MODES)}")
        self.matches_intensity = resolve_match(self.intensity_match, self.stats, source=f"--checkpoint {self.checkpoint}")
        fitted = self.fitted if self.matches_intensity else {}  # fitted on matched frames
        self.temporal_source = "given" if (self.track_smoothing is not None and self.carry_over is not None) else \
            "fitted" if fitted else "default"
        self.track_smoothing = default_track_smoothing(self.matches_intensity, fitted.get("track_smoothing")) \
            if self.track_smoothing is None else check_beta(self.track_smoothing)
        self.carry_over = check_alpha(fitted.get("carry_over", 0.0)) if self.carry_over is None else check_alpha(self.carry_over)

    @property
    def intensity_desc(self) -> str:
        """What the frames' intensities were matched to, for provenance: "training quantiles" or "none"."""
        return "training quantiles" if self.matches_intensity else "none"

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, device: str | torch.device = "cpu",
                        channels_last: bool = True, temporal: Temporal = "per-frame",
                        intensity_match: IntensityMatch = "auto",
                        track_smoothing: float | None = None, carry_over: float | None = None,
                        close_gaps: bool = False, part_neighbours: bool = False) -> "Renderer":
        """Load a merged (or super-res) checkpoint holding both generators' EMA weights.

        temporal: "per-frame" (default: every frame from its own mask, no flicker from the masks'
        motion, no drift) or "autoregressive" (masks t, t-1, ... and the previous generated frame,
        as in training); see the module docstring.

        intensity_match: "auto" (default: map each sequence's intensities onto the training data's
        quantiles when the checkpoint stores them), "training" (the same, and a :class:`UserError`
        for a checkpoint without them) or "none"; see :mod:`tgan_aug.render.intensity`.

        track_smoothing: beta in [0, 1) of the moving average each cell's mean intensity follows
        along its track (0 = off; None = :func:`default_track_smoothing` with the checkpoint's fitted beta); see
        :mod:`tgan_aug.render.track_smoothing`.

        carry_over: alpha in [0, 1) of the previous output frame, moved with the cells, blended into
        the cells and their halos (0 = off; None = the checkpoint's fitted alpha for matched
        intensities, else 0); see :mod:`tgan_aug.render.carry_over`.

        close_gaps: sister junctions (``--sister-junctions``): close the cut between two daughters
        before the generators see the masks, for cells that stay joined after dividing (bacteria in
        phase contrast); leave off for nuclei, whose daughters part (:mod:`tgan_aug.contacts`).

        part_neighbours: ``--part-neighbours``: clear the pixels where two cells that are not sisters
        touch or lie one pixel apart, so the generators see two background pixels between them and
        draw the line that parts real neighbours (synthetic colonies whose cells touch).

        channels_last: keep the generators' weights (and so their activations) in NHWC memory
        layout, which oneDNN (CPU) and cuDNN (tensor cores) run faster (17 % on a 2-core CPU for
        the small preset); the result differs from NCHW only by float rounding.

        Raises :class:`UserError` (one line) for a missing/unreadable file or missing weights.
        """
        from tgan_aug.training.checkpoint import (
            build_generator_from_checkpoint,
            fitted_temporal,
            image_stats_from_checkpoint,
            load_checkpoint,
            model_config_from_checkpoint,
        )

        path = Path(path)
        ckpt = load_checkpoint(path)
        device = torch.device(device)
        try:
            cfg = model_config_from_checkpoint(ckpt)
            stats = image_stats_from_checkpoint(ckpt)
            lo = build_generator_from_checkpoint(ckpt, "lowres", ema=True, device=device)
            sr = build_generator_from_checkpoint(ckpt, "superres", ema=True, device=device)
        except UserError as exc:
            raise UserError(f"--checkpoint {path}: {exc}") from None
        except (KeyError, TypeError, RuntimeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserError(f"--checkpoint {path}: not a usable tgan-aug checkpoint ({type(exc).__name__}: {first[:200]})") from None
        if channels_last:
            lo, sr = lo.to(memory_format=torch.channels_last), sr.to(memory_format=torch.channels_last)
        bgs = {str(k): np.asarray(v.float().numpy() if torch.is_tensor(v) else v, dtype=np.float32)
               for k, v in ckpt["data"].get("backgrounds", {}).items()}
        info = {"step": ckpt.get("step"), "step_superres": ckpt.get("step_superres"), "stage": ckpt.get("stage"),
                "preset": cfg.preset, "source": ckpt["data"].get("source", "")}
        return cls(lo, sr, cfg, stats, bgs, str(path), file_sha256(path), device, info, temporal, intensity_match,
                   track_smoothing, carry_over, fitted_temporal(ckpt), close_gaps=bool(close_gaps),
                   part_neighbours=bool(part_neighbours))

    @property
    def multiple(self) -> int:
        """Output frame sizes are padded to a multiple of this (2 * 2**depth)."""
        return 2 * int(self.cfg.size_multiple)

    def autocast(self, precision: Precision) -> contextlib.AbstractContextManager:
        """bf16 autocast for "bf16" (or "auto" on CUDA), else a no-op context."""
        if precision not in ("auto", "fp32", "bf16"):
            raise UserError(f"precision must be auto, fp32 or bf16, got {precision!r}")
        use = precision == "bf16" or (precision == "auto" and self.device.type == "cuda")
        if not use:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)


def default_track_smoothing(matches_intensity: bool, fitted: float | None = None) -> float:
    """The track smoothing beta used when none is given: for matched intensities the model's ``fitted``
    beta (:mod:`tgan_aug.render.temporal_fit`), else DEFAULT_TRACK_SMOOTHING; unmatched 0."""
    if not matches_intensity:
        return 0.0
    return DEFAULT_TRACK_SMOOTHING if fitted is None else check_beta(fitted)


def _pad_to(x: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    pad_y, pad_x = size[0] - x.shape[-2], size[1] - x.shape[-1]
    if pad_y == 0 and pad_x == 0:
        return x
    widths = [(0, 0)] * (x.ndim - 2) + [(0, pad_y), (0, pad_x)]
    return np.pad(x, widths, mode=mode)


def _per_sequence_draws(G: torch.nn.Module, gens: list[torch.Generator], size: tuple[int, int], device) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Style w (B, style_dim) and noise maps, drawn once per sequence with its own generator."""
    zs = torch.cat([G.make_z(1, generator=g) for g in gens])
    noises = [G.make_noise(1, g, size=size, device=device) for g in gens]
    noise = [torch.cat(level) for level in zip(*noises)] if noises and noises[0] else []
    return G.mapping(zs.to(device)), noise


def render_frames(
    renderer: Renderer,
    labels: list[np.ndarray],
    backgrounds: list[np.ndarray],
    seeds: list[int],
    *,
    frame_batch: int = 8,
    precision: Precision = "auto",
    lineages: list[np.ndarray | None] | None = None,
) -> Iterator[tuple[int, list[np.ndarray]]]:
    """Render a batch of sequences of one frame size, yielding chunks of frames as they are made.

    labels: B arrays (T_i, H, W) (any int dtype, 0 = background); backgrounds: B arrays (H, W)
    float32 in [-1, 1]; seeds: B per-sequence seeds (see :func:`sequence_seed`); lineages: B CTC
    tables (N, 4) ``[id, begin, end, parent]`` or None: with one, the generators see the gaps
    between sisters closed (``renderer.close_gaps``) and sisters left out of the parting of
    neighbours (``renderer.part_neighbours``; :func:`tgan_aug.contacts.cell_foreground`).
    Yields (t0, [B arrays (k_i, H, W) float32 in [-1, 1]]) for frames t0 .. t0+k_i-1 of each
    sequence (k_i = 0 once a shorter sequence has ended).
    """
    from tgan_aug.contacts import cell_foreground
    from tgan_aug.training.data import binary_resize, image_resize
    from tgan_aug.training.steps import lowres_frame

    if not (len(labels) == len(backgrounds) == len(seeds)) or not labels:
        raise UserError("render_frames: labels, backgrounds and seeds must be non-empty lists of one length")
    labels = [validate_video(None, lab, name=f"render_frames: labels[{i}]", images_optional=True, binary_ok=True)[1]
              for i, lab in enumerate(labels)]
    H, W = labels[0].shape[1:]
    if any(lab.shape[1:] != (H, W) for lab in labels) or any(bg.shape != (H, W) for bg in backgrounds):
        raise UserError("render_frames: every sequence and background of a batch must have the same (H, W)")
    m = renderer.multiple
    Hp, Wp = -(-H // m) * m, -(-W // m) * m
    h, w = Hp // 2, Wp // 2
    T = max(lab.shape[0] for lab in labels)
    dev = renderer.device
    lengths = [lab.shape[0] for lab in labels]
    # masks: pad shorter sequences with their last frame (outputs beyond T_i are dropped)
    uses_lineage = renderer.close_gaps or renderer.part_neighbours
    lineages = [None] * len(labels) if lineages is None or not uses_lineage else list(lineages)
    if len(lineages) != len(labels):
        raise UserError("render_frames: give one lineage (or None) per sequence")
    fg = np.stack([_pad_to(cell_foreground(np.concatenate([lab, np.repeat(lab[-1:], T - lab.shape[0], 0)]), lin,
                                           close_sisters=renderer.close_gaps, part_neighbours=renderer.part_neighbours),
                           (Hp, Wp), "constant") for lab, lin in zip(labels, lineages)])  # (B, T, Hp, Wp) bool
    masks_lr = np.stack([binary_resize(f, (h, w)) for f in fg]).astype(np.float32)  # (B, T, h, w)
    bg_lr = np.stack([image_resize(_pad_to(bg, (Hp, Wp), "symmetric"), (h, w)) for bg in backgrounds])
    G_lo, G_sr = renderer.lowres, renderer.superres
    frame_batch = max(1, int(frame_batch))
    with torch.inference_mode(), renderer.autocast(precision):
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        w_lo, noise_lo = _per_sequence_draws(G_lo, gens, (h, w), dev)
        w_sr, noise_sr = _per_sequence_draws(G_sr, gens, (Hp, Wp), dev)
        masks_t = torch.from_numpy(masks_lr).to(dev)
        bg_t = torch.from_numpy(bg_lr[:, None]).to(dev)
        bg_feats = G_lo.encode_background(bg_t)  # once per sequence
        first = prev = G_lo.first_prev(bg_t, masks_t)
        B = len(labels)

        def super_res(i: int, lr: torch.Tensor, ts: list[int]) -> np.ndarray:
            """Frames ts of sequence i at full size from their low-res frames lr (len(ts), 1, h, w): (k, H, W)."""
            fg_t = torch.from_numpy(fg[i][ts][:, None].astype(np.float32)).to(dev)
            return G_sr(lr, fg_t, w_sr[i : i + 1], [nz[i : i + 1] for nz in noise_sr]).float()[:, 0, :H, :W].cpu().numpy()

        maps = [None] * B  # per sequence: one intensity map (tgan_aug.render.intensity), fitted before frame 0
        if renderer.matches_intensity:
            cal = [calibration_indices(T_i) for T_i in lengths]
            K = max(len(c) for c in cal)
            picks = [[int(c[min(j, len(c) - 1)]) for c in cal] for j in range(K)]  # (K, B) frame per sequence
            lr_cal = torch.stack([lowres_frame(G_lo, masks_t[torch.arange(B), torch.tensor(p)][:, None], 0, first, first,
                                               bg_feats, w_lo, noise_lo).float() for p in picks], dim=1)  # (B, K, 1, h, w)
            target = target_quantiles(renderer.stats)
            for i in range(B):
                ks = len(cal[i])
                maps[i] = fit_quantile_map(super_res(i, lr_cal[i, :ks], [p[i] for p in picks[:ks]]), target)
        tracks = [TrackState() for _ in range(B)]  # per sequence: the tracks' smoothed brightness
        carries = [CarryState() for _ in range(B)]  # per sequence: the previous output frame
        for t0 in range(0, T, frame_batch):
            k = min(frame_batch, T - t0)
            chunk = []
            for t in range(t0, t0 + k):
                prev = lowres_frame(G_lo, masks_t, t, prev, first, bg_feats, w_lo, noise_lo,
                                    temporal=renderer.temporal).float()
                chunk.append(prev)
            lr = torch.stack(chunk, dim=1)  # (B, k, 1, h, w)
            outs = []
            for i in range(B):  # one style per call: the styled convs fold it into their weights
                k_i = max(0, min(k, lengths[i] - t0))
                if k_i == 0:
                    outs.append(np.zeros((0, H, W), np.float32))
                    continue
                out = super_res(i, lr[i, :k_i], list(range(t0, t0 + k_i)))
                if maps[i] is not None:
                    out = apply_quantile_map(out, *maps[i])
                if renderer.carry_over > 0:
                    out = np.stack([carry_frame(out[j], labels[i][t0 + j], carries[i], renderer.carry_over)
                                    for j in range(k_i)])
                if renderer.track_smoothing > 0:
                    out = np.stack([smooth_frame(out[j], labels[i][t0 + j], tracks[i], renderer.track_smoothing)
                                    for j in range(k_i)])
                outs.append(out)
            yield t0, outs


def render_to_store(
    renderer: Renderer,
    items: list[tuple[str, Any]],
    out: str | Path,
    *,
    seed: int = 0,
    background: str = "auto",
    batch: int = 4,
    frame_batch: int = 8,
    precision: Precision = "auto",
    overwrite: bool = False,
    provenance: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Render tracked masks and stream them into a zarr store, one group per sequence.

    items: [(name, TrackedMasks or TrackedVideo)] (a video's images are ignored); labels
        (T, Y, X) uint16 and lineage pass through unchanged.
    out: store path. seed: run seed (per-sequence seeds from :func:`sequence_seed`).
    background: "auto" | "bank" | image path (see :func:`~tgan_aug.render.backgrounds.choose_background`).
    batch: sequences of one frame size rendered together in the low-res stage.
    frame_batch: frames per super-res batch. precision: "auto" (bf16 on CUDA) | "fp32" | "bf16".
    provenance: extra fields recorded with each sequence (command, source, ...).
    progress: called with the number of frames written after each chunk.
    Each sequence is marked complete only after all its frames are written; an exception leaves
    the sequences being written marked incomplete. Returns the names written.
    """
    from tgan_aug.io.store import StoreWriter
    from tgan_aug.render.backgrounds import choose_background

    if batch < 1:
        raise UserError(f"--batch must be >= 1, got {batch}")
    seqs = []
    for name, data in items:
        masks = getattr(data, "masks", data)
        seqs.append((str(name), masks))
    groups: dict[tuple[int, int], list] = {}
    for name, masks in seqs:
        groups.setdefault(tuple(masks.labels.shape[1:]), []).append((name, masks))
    dtype = np.dtype(renderer.stats.dtype)
    written: list[str] = []
    for size, members in groups.items():
        for b0 in range(0, len(members), batch):
            part = members[b0 : b0 + batch]
            seeds = [sequence_seed(seed, name) for name, _ in part]
            bgs, descs = [], []
            for (name, _), s in zip(part, seeds):
                bg, desc = choose_background(background, bank=renderer.backgrounds, stats=renderer.stats, size=size,
                                             rng=np.random.default_rng([s, 1]))
                bgs.append(bg)
                descs.append(desc)
            with contextlib.ExitStack() as stack:
                writers = []
                for (name, masks), s, desc in zip(part, seeds, descs):
                    prov = {
                        **(provenance or {}),
                        "seed": int(seed), "sequence_seed": int(s), "sequence": name,
                        "checkpoint": renderer.checkpoint, "checkpoint_sha256": renderer.sha256,
                        "background": desc, "precision": precision, "temporal": renderer.temporal,
                        "intensity_match": renderer.intensity_desc, "track_smoothing": renderer.track_smoothing,
                        "carry_over": renderer.carry_over, "temporal_source": renderer.temporal_source,
                        "sister_junctions": renderer.close_gaps, "part_neighbours": renderer.part_neighbours,
                        # CPU float sums are split across threads: the thread count is part of the recipe
                        "torch_threads": torch.get_num_threads() if renderer.device.type == "cpu" else None,
                    }
                    writers.append(stack.enter_context(StoreWriter(
                        out, name, shape=masks.labels.shape, image_dtype=dtype,
                        intensity_range=tuple(renderer.stats.intensity_range), provenance=prov, overwrite=overwrite)))
                for t0, chunks in render_frames(renderer, [m.labels for _, m in part], bgs, seeds,
                                                frame_batch=frame_batch, precision=precision,
                                                lineages=[m.lineage for _, m in part]):
                    done = 0
                    for wr, (_, masks), frames in zip(writers, part, chunks):
                        if len(frames):
                            k = len(frames)
                            wr.write_frames(t0, masks.labels[t0 : t0 + k], renderer.stats.denormalise(frames))
                            done += k
                    if progress is not None:
                        progress(done)
                for wr, (_, masks) in zip(writers, part):
                    wr.finalize(masks.lineage)
            written.extend(name for name, _ in part)
    return written
