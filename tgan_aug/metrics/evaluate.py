"""Run the whole metric suite on one REAL/FAKE pair of tracked videos (arrays in, numbers out)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from masksynth.tracked import TrackedVideo
from tgan_aug.errors import UserError
from tgan_aug.metrics import distribution as dist
from tgan_aug.metrics import microscopy as micro
from tgan_aug.metrics import paired as pm
from tgan_aug.metrics import stability as st
from tgan_aug.metrics import temporal as tm
from tgan_aug.metrics._checks import check_paired, check_range, log_ratio
from tgan_aug.metrics.config import EvalConfig
from tgan_aug.metrics.registry import FAMILIES, metric_specs


def json_ready(v: Any) -> Any:
    """``v`` with numpy scalars/arrays as Python numbers/lists, NaN/inf as None, paths and dict
    keys as text: what ``json.dumps`` accepts and reads back the same."""
    if isinstance(v, dict):
        return {str(k): json_ready(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_ready(x) for x in v]
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.ndarray):
        return json_ready(v.tolist())
    if isinstance(v, Path):
        return str(v)
    return v


@dataclass
class EvalResult:
    """Everything one evaluation measured. ``metrics`` maps registry names to floats (NaN = not computable)."""

    metrics: dict[str, float]
    info: dict[str, Any]
    per_frame: dict[str, list[float]] = field(default_factory=dict)
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    spectra: dict[str, list[float]] = field(default_factory=dict)
    mask_stats: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN/inf become None)."""
        return json_ready(
            {"metrics": self.metrics, "info": self.info, "per_frame": self.per_frame, "curves": self.curves,
             "spectra": self.spectra, "mask_stats": self.mask_stats, "notes": self.notes}
        )


def _decide_paired(real: TrackedVideo, fake: TrackedVideo, mode: str, notes: list[str]) -> bool:
    same_shape = real.images.shape == fake.images.shape
    if mode == "no":
        return False
    if mode == "yes":
        check_paired(real.images, fake.images)
        if not np.array_equal(real.labels, fake.labels):
            raise UserError("paired metrics were requested but REAL and FAKE have different masks; render FAKE from REAL's masks or use --unpaired")
        return True
    if not same_shape:
        notes.append(f"paired metrics skipped: REAL {real.images.shape} and FAKE {fake.images.shape} differ in (T, Y, X)")
        return False
    if not np.array_equal(real.labels, fake.labels):
        notes.append("paired metrics skipped: REAL and FAKE have different masks (distribution metrics only)")
        return False
    return True


def _auto_invert(real: TrackedVideo) -> bool:
    """True when REAL's cells are on average brighter than its background (DeepSea expects dark cells)."""
    lab = real.labels
    idx = np.unique(np.linspace(0, lab.shape[0] - 1, min(10, lab.shape[0])).round().astype(int))
    fg = lab[idx] > 0
    if not fg.any() or fg.all():
        return False
    img = real.images[idx].astype(np.float64)
    return bool(img[fg].mean() > img[~fg].mean())


def _curve_lengths(n_frames: int, points: int, min_len: int) -> list[int]:
    if points <= 0 or n_frames < min_len:
        return []
    return sorted({int(round(x)) for x in np.linspace(min_len, n_frames, points)})


@dataclass
class FamilyRun:
    """What a metric family sees: the two videos, the options, and where its results go.

    A family writes ``metrics`` (registry names of its family only), ``res`` (per-frame series,
    curves, spectra, info) and ``notes``; :meth:`deepsea` runs the DeepSea feature pass once for
    every family that needs it.
    """

    real: TrackedVideo
    fake: TrackedVideo
    cfg: EvalConfig
    data_range: tuple[float, float]
    is_paired: bool
    res: EvalResult
    say: Callable[[str], None]
    timing: dict[str, float] = field(default_factory=dict)
    _deepsea: Any = None

    @property
    def metrics(self) -> dict[str, float]:
        return self.res.metrics

    @property
    def notes(self) -> list[str]:
        return self.res.notes

    def deepsea(self):
        """The DeepSea feature pass over REAL and FAKE (perceptual distances when paired), computed once."""
        if self._deepsea is None:
            from tgan_aug.metrics.deepsea_pass import deepsea_pass, input_range_from

            invert = {"yes": True, "no": False}.get(self.cfg.invert, None)
            if invert is None:
                invert = _auto_invert(self.real)
            t0 = time.perf_counter()
            self.say("DeepSea features")
            input_range = input_range_from(self.real.images)
            self._deepsea = deepsea_pass(self.real.images, self.fake.images, input_range=input_range,
                                         paired=self.is_paired and "paired" in self.cfg.families, invert=invert,
                                         scale=self.cfg.feature_scale, batch=self.cfg.batch, device=self.cfg.device)
            self.res.info["deepsea"] = {"input_range": list(input_range), "invert": invert, "scale": self.cfg.feature_scale,
                                        "levels": ["res1", "res2", "res3"]}
            self.timing["deepsea_features"] = time.perf_counter() - t0
        return self._deepsea


#: metric families in the order they run: name -> function(run) (see :func:`register_family`)
FAMILY_FUNCTIONS: dict[str, Callable[[FamilyRun], None]] = {}


def register_family(name: str) -> Callable[[Callable[[FamilyRun], None]], Callable[[FamilyRun], None]]:
    """Decorator: register ``fn(run: FamilyRun)`` as the metric family ``name`` (one of the registry's FAMILIES)."""
    if name not in FAMILIES:
        raise ValueError(f"metric family {name!r} is not in tgan_aug.metrics.registry.FAMILIES {FAMILIES}")

    def deco(fn: Callable[[FamilyRun], None]) -> Callable[[FamilyRun], None]:
        FAMILY_FUNCTIONS[name] = fn
        return fn

    return deco


def evaluate_videos(
    real: TrackedVideo,
    fake: TrackedVideo,
    *,
    config: EvalConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> EvalResult:
    """Compute the metric suite of FAKE against REAL: every registered family in ``config.families``.

    real, fake: :class:`TrackedVideo` (images (T, Y, X) any real dtype, labels (T, Y, X) uint16). All
    intensities are measured in REAL's recorded ``intensity_range`` (data range ``hi - lo``); FAKE is
    expected in the same units. Paired metrics need equal (T, Y, X) and equal labels (see ``config.paired``).
    progress: optional callable receiving the name of each stage as it starts.
    Returns an :class:`EvalResult`; metric names are those of :func:`tgan_aug.metrics.registry.metric_specs`
    (a family that reports a name outside its family there is a bug, and raises).
    """
    cfg = config or EvalConfig()
    notes: list[str] = []
    if real.n_frames < 2 or fake.n_frames < 2:
        raise UserError(f"evaluation needs at least 2 frames in REAL and FAKE (got {real.n_frames} and {fake.n_frames})")
    rng_ = check_range(real.intensity_range or (0, 0), "REAL intensity_range")
    is_paired = _decide_paired(real, fake, cfg.paired, notes)
    specs = metric_specs(clip_length=cfg.clip_length)
    res = EvalResult(metrics={}, info={}, notes=notes)
    run = FamilyRun(real, fake, cfg, rng_, is_paired, res, progress or (lambda stage: None))
    for family, fn in FAMILY_FUNCTIONS.items():
        if family not in cfg.families:
            continue
        before = set(res.metrics)
        fn(run)
        stray = [k for k in res.metrics if k not in before and (k not in specs or specs[k].family != family)]
        if stray:
            raise RuntimeError(f"metric family {family} reported {stray}, which the registry does not list under {family}")

    R, F = real.images, fake.images
    res.info.update(
        paired=is_paired, protocol=cfg.protocol, data_range=list(rng_), fake_intensity_range=list(fake.intensity_range or ()),
        real_shape=list(R.shape), fake_shape=list(F.shape), timing_s=run.timing, config=cfg.to_dict(),
        metric_specs={k: {"family": s.family, "better": s.better, "unit": s.unit, "description": s.description}
                      for k, s in specs.items() if k in res.metrics},
    )
    if cfg.protocol == "paper-minmax":
        notes.append("protocol paper-minmax: SSIM/PSNR/VGG19-perceptual use per-frame min-max normalisation (hides brightness errors and flicker)")
    return res


@register_family("paired")
def _paired(run: FamilyRun) -> None:
    """SSIM, PSNR, VGG19- and DeepSea-perceptual of frame pairs (only when REAL and FAKE are paired)."""
    if not run.is_paired:
        return
    cfg, metrics, res, rng_ = run.cfg, run.metrics, run.res, run.data_range
    R, F = run.real.images, run.fake.images
    t0 = time.perf_counter()
    run.say("SSIM/PSNR")
    ssim = pm.ssim_frames(R, F, data_range=rng_, protocol=cfg.protocol)
    psnr = pm.psnr_frames(R, F, data_range=rng_, protocol=cfg.protocol)
    metrics["SSIM"], metrics["PSNR"] = float(ssim.mean()), float(psnr.mean())
    res.per_frame["SSIM"], res.per_frame["PSNR"] = ssim.tolist(), psnr.tolist()
    if cfg.vgg19_weights:
        from tgan_aug.metrics.perceptual import vgg19_perceptual_frames

        run.say("VGG19-perceptual")
        v = vgg19_perceptual_frames(R, F, weights=cfg.vgg19_weights, data_range=rng_, protocol=cfg.protocol, device=cfg.device, batch=cfg.batch)
        metrics["VGG19-perceptual"] = float(v.mean())
        res.per_frame["VGG19-perceptual"] = v.tolist()
    else:
        run.notes.append("VGG19-perceptual skipped: no local VGG19 weights given (--vgg19-weights FILE)")
    run.timing["paired"] = time.perf_counter() - t0
    ds = run.deepsea()
    if ds.perceptual is not None:
        metrics["DeepSea-perceptual"] = float(ds.perceptual.mean())
        res.per_frame["DeepSea-perceptual"] = ds.perceptual.tolist()


@register_family("distribution")
def _distribution_family(run: FamilyRun) -> None:
    """FID/KID on DeepSea frame and clip features (+ FID-Inception with local weights)."""
    cfg = run.cfg
    ds = run.deepsea()
    t0 = time.perf_counter()
    run.say("FID/KID")
    _distribution(ds, cfg, run.metrics, run.res, run.notes)
    run.timing["distribution"] = time.perf_counter() - t0
    if cfg.inception_weights:
        from tgan_aug.metrics.inception_fid import inception_fid

        run.say("FID-Inception")
        run.metrics["FID-Inception"] = inception_fid(run.real.images, run.fake.images, weights=cfg.inception_weights,
                                                     data_range=run.data_range, device=cfg.device, batch=cfg.batch)
    else:
        run.notes.append("FID-Inception skipped: no local Inception-v3 weights given (--inception-weights FILE)")


@register_family("temporal")
def _temporal(run: FamilyRun) -> None:
    """Warping error, track flicker, frame parity and drift of each video."""
    cfg, metrics, res, rng_ = run.cfg, run.metrics, run.res, run.data_range
    real, fake = run.real, run.fake
    t0 = time.perf_counter()
    run.say("warping error / flicker")
    we_r = tm.warping_errors(real.images, data_range=rng_, method=cfg.flow, smooth=cfg.flow_smooth)
    we_f = tm.warping_errors(fake.images, data_range=rng_, method=cfg.flow, smooth=cfg.flow_smooth)
    metrics["warp-error-real"], metrics["warp-error-fake"] = float(we_r.mean()), float(we_f.mean())
    metrics["warp-error-logratio"] = log_ratio(float(we_f.mean()), float(we_r.mean()))
    res.per_frame["warp-error-real"], res.per_frame["warp-error-fake"] = we_r.tolist(), we_f.tolist()
    fl_r = tm.track_flicker(real.images, real.labels, data_range=rng_)
    fl_f = tm.track_flicker(fake.images, fake.labels, data_range=rng_)
    metrics["flicker-real"], metrics["flicker-fake"] = fl_r, fl_f
    metrics["flicker-logratio"] = log_ratio(fl_f, fl_r) if np.isfinite(fl_r) and np.isfinite(fl_f) else float("nan")
    run.say("frame parity / drift")
    _stability(real, fake, rng_, metrics, res)
    run.timing["temporal"] = time.perf_counter() - t0


@register_family("microscopy")
def _microscopy(run: FamilyRun) -> None:
    """Intensity histogram, power spectrum and inside/outside-mask statistics."""
    metrics, res, rng_ = run.metrics, run.res, run.data_range
    R, F = run.real.images, run.fake.images
    t0 = time.perf_counter()
    run.say("microscopy statistics")
    metrics["histogram-W1"] = micro.histogram_distance(R, F, data_range=rng_)
    res.spectra["quantiles_real"] = micro.intensity_quantiles(R, data_range=rng_, n=101).tolist()
    res.spectra["quantiles_fake"] = micro.intensity_quantiles(F, data_range=rng_, n=101).tolist()
    if R.shape[1:] == F.shape[1:]:
        freq, p_r = micro.radial_power_spectrum(R, data_range=rng_)
        _, p_f = micro.radial_power_spectrum(F, data_range=rng_)
        metrics["spectrum-L1"] = float(np.abs(np.log10(p_r[1:] + 1e-12) - np.log10(p_f[1:] + 1e-12)).mean())
        res.spectra.update(frequency=freq.tolist(), power_real=p_r.tolist(), power_fake=p_f.tolist())
    else:
        run.notes.append("spectrum-L1 skipped: REAL and FAKE frame sizes differ")
    ms_r = micro.mask_stats(R, run.real.labels, data_range=rng_)
    ms_f = micro.mask_stats(F, run.fake.labels, data_range=rng_)
    res.mask_stats = {"real": ms_r, "fake": ms_f}
    metrics["mask-stats-L1"] = micro.mask_stats_distance(ms_r, ms_f)
    metrics["cell-mean-error"] = abs(ms_f["inside_mean"] - ms_r["inside_mean"])
    metrics["background-mean-error"] = abs(ms_f["outside_mean"] - ms_r["outside_mean"])
    metrics["cell-intensity-KS"] = micro.cell_intensity_ks(
        micro.cell_mean_intensities(R, run.real.labels, data_range=rng_),
        micro.cell_mean_intensities(F, run.fake.labels, data_range=rng_))
    cc_r = micro.contact_contrast(R, run.real.labels, data_range=rng_)
    cc_f = micro.contact_contrast(F, run.fake.labels, data_range=rng_)
    metrics.update({"contact-contrast-real": cc_r, "contact-contrast-fake": cc_f,
                    "contact-contrast-error": abs(cc_f - cc_r)})
    if not (np.isfinite(cc_r) and np.isfinite(cc_f)):
        run.notes.append("contact-contrast: " + " and ".join(k for k, v in (("REAL", cc_r), ("FAKE", cc_f)) if not np.isfinite(v))
                         + " has no touching cells (no contacts to measure)")
    run.timing["microscopy"] = time.perf_counter() - t0


def _distribution(ds, cfg: EvalConfig, metrics: dict[str, float], res: EvalResult, notes: list[str]) -> None:
    kid = lambda a, b: dist.kernel_distance(a, b, subsets=cfg.kid_subsets, subset_size=cfg.kid_subset_size, seed=cfg.seed)[0]  # noqa: E731
    metrics["FID-DeepSea"] = dist.frechet_distance(ds.real_frames, ds.fake_frames)
    metrics["KID-DeepSea"] = kid(ds.real_frames, ds.fake_frames)
    L = cfg.clip_length
    t_min = min(ds.real_frames.shape[0], ds.fake_frames.shape[0])
    n_clips = (t_min - L) // max(1, L // 2) + 1 if t_min >= L else 0
    if n_clips >= 2:
        cr = dist.clip_descriptors(ds.real_frames, ds.real_change, length=L)
        cf = dist.clip_descriptors(ds.fake_frames, ds.fake_change, length=L)
        metrics[f"FD-DeepSea-clip{L}"] = dist.frechet_distance(cr, cf)
        metrics[f"KID-DeepSea-clip{L}"] = kid(cr, cf)
    else:
        notes.append(f"clip metrics skipped: {t_min} frames give fewer than 2 clips of {L} frames (use a smaller --clip-length)")
    # context: the same metrics between REAL's two halves (a floor that FAKE cannot be expected to beat)
    half = ds.real_frames.shape[0] // 2
    if half >= 2:
        res.info["real_halves_baseline"] = {
            "FID-DeepSea": dist.frechet_distance(ds.real_frames[:half], ds.real_frames[half:]),
            "KID-DeepSea": kid(ds.real_frames[:half], ds.real_frames[half:]),
        }
    # metric versus video length (first n frames of each), like the paper's Figure 4
    lengths = _curve_lengths(t_min, cfg.curve_points, max(4, L + L // 2))
    if len(lengths) >= 2:
        curve: dict[str, list[float]] = {"length": [float(n) for n in lengths], "FID-DeepSea": [], f"FD-DeepSea-clip{L}": []}
        for n in lengths:
            curve["FID-DeepSea"].append(dist.frechet_distance(ds.real_frames[:n], ds.fake_frames[:n]))
            cr = dist.clip_descriptors(ds.real_frames[:n], ds.real_change[: n - 1], length=L)
            cf = dist.clip_descriptors(ds.fake_frames[:n], ds.fake_change[: n - 1], length=L)
            curve[f"FD-DeepSea-clip{L}"].append(dist.frechet_distance(cr, cf) if min(len(cr), len(cf)) >= 2 else float("nan"))
        res.curves["metric_vs_length"] = curve


def _stability(real: TrackedVideo, fake: TrackedVideo, rng_: tuple[float, float], metrics: dict[str, float], res: EvalResult) -> None:
    """Frame-parity index and drift summaries of each video (each over its own length), per-frame series for the plots."""
    drift: dict[str, dict[str, float]] = {}
    for side, v in (("real", real), ("fake", fake)):
        metrics[f"frame-parity-{side}"], per_frame = st.frame_parity(v.images, v.labels)
        res.per_frame[f"frame-parity-{side}"] = per_frame.tolist()
        series = st.drift_series(v.images, v.labels, data_range=rng_)
        res.curves[f"drift_{side}"] = {"frame": list(range(v.n_frames)), **{k: x.tolist() for k, x in series.items()}}
        drift[side] = st.drift_summary(series)
    p_r, p_f = metrics["frame-parity-real"], metrics["frame-parity-fake"]
    metrics["frame-parity-logratio"] = log_ratio(p_f, p_r) if np.isfinite(p_r) and np.isfinite(p_f) else float("nan")
    for key in st.DRIFT_SUMMARY:
        for side in ("real", "fake"):
            metrics[f"drift-{key}-{side}"] = drift[side][key]
