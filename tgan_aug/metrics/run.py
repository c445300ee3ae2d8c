"""Evaluate FAKE against REAL from paths (stores, CTC folders, TIFF pairs) and write the report."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Literal

from masksynth.tracked import TrackedVideo
from tgan_aug.errors import UserError
from tgan_aug.metrics.config import EvalConfig
from tgan_aug.metrics.evaluate import EvalResult, evaluate_videos

_OUTPUTS = ("report.md", "metrics.json", "panels", "plots")


def _load(path: str, sequence: str | None, flag: str) -> list[tuple[str, TrackedVideo]]:
    from tgan_aug.io.load import load_tracked

    items = load_tracked(path, sequence=sequence)
    out = []
    for name, data in items:
        if not isinstance(data, TrackedVideo):
            raise UserError(f"{flag} {path}: sequence {name!r} has masks but no images; evaluation needs rendered or real images")
        out.append((name, data))
    return out


def pair_sequences(real: list[tuple[str, TrackedVideo]], fake: list[tuple[str, TrackedVideo]]) -> list[tuple[str, TrackedVideo, TrackedVideo]]:
    """Match REAL and FAKE sequences by name; a single sequence on each side pairs regardless of names."""
    if len(real) == 1 and len(fake) == 1:
        (nr, r), (nf, f) = real[0], fake[0]
        return [(nr if nr == nf else f"{nr} vs {nf}", r, f)]
    fake_by = dict(fake)
    common = [(n, r, fake_by[n]) for n, r in real if n in fake_by]
    if not common:
        raise UserError(
            f"REAL sequences {[n for n, _ in real]} and FAKE sequences {[n for n, _ in fake]} share no name; "
            f"pick one on each side with --real-sequence and --fake-sequence"
        )
    return common


def prepare_out_dir(out_dir: str | Path, *, overwrite: bool) -> Path:
    """Create ``out_dir``; refuse a non-empty one unless ``overwrite`` (then replace only the report's own files)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder for the report")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise UserError(f"--out {out} is not empty; choose a new folder or pass --overwrite")
        for name in _OUTPUTS:
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def painter_baseline(real: TrackedVideo, fake: TrackedVideo, cfg: EvalConfig, *, progress=None) -> dict[str, float]:
    """Metrics of the painter fitted on ``real`` and painting ``fake``'s masks, against ``real``."""
    from tgan_aug.baselines import fit_painter, paint

    if progress is not None:
        progress("painter baseline")
    painted = paint(fake.masks, fit_painter([real]), seed=cfg.seed)
    return evaluate_videos(real, painted, config=cfg).metrics


def evaluate_paths(
    real: str,
    fake: str,
    *,
    out_dir: str | Path | None = None,
    config: EvalConfig | None = None,
    real_sequence: str | None = None,
    fake_sequence: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    baseline: Literal["none", "painter"] = "none",
) -> dict[str, Any]:
    """Load REAL and FAKE (anything :func:`tgan_aug.io.load.load_tracked` reads), evaluate each sequence pair,
    write the report under ``out_dir`` (when given) and return the JSON-ready results
    (``{"format_version", "real", "fake", "sequences": {name: {...}}}``).

    baseline: "painter" also evaluates the non-learned painter, fitted on the REAL sequence itself and
    painting FAKE's masks (seed ``config.seed``), against REAL; its metrics go to
    ``info["painter_baseline"]`` of each sequence (a renderer that does not beat it is not done).
    """
    from tqdm import tqdm

    from tgan_aug.metrics.report import results_json, write_report

    cfg = config or EvalConfig()
    if baseline not in ("none", "painter"):
        raise UserError(f"--baseline {baseline!r}: choose none or painter")
    out = prepare_out_dir(out_dir, overwrite=overwrite) if out_dir is not None else None
    pairs = pair_sequences(_load(real, real_sequence, "--real"), _load(fake, fake_sequence, "--fake"))
    done: list[tuple[str, TrackedVideo, TrackedVideo, EvalResult]] = []
    for name, r, f in pairs:
        bar = tqdm(total=0, desc=f"evaluate {name}", disable=not progress, bar_format="{desc}: {elapsed}")

        def stage(s: str, bar=bar, name=name) -> None:
            bar.set_description_str(f"evaluate {name}: {s}")
            bar.refresh()

        try:
            res = evaluate_videos(r, f, config=cfg, progress=stage)
            if baseline == "painter":
                res.info["painter_baseline"] = painter_baseline(r, f, cfg, progress=stage)
        finally:
            bar.close()
        done.append((name, r, f, res))
    if out is not None:
        write_report(out, done, real_source=str(real), fake_source=str(fake))
    return results_json(done, real_source=str(real), fake_source=str(fake))
