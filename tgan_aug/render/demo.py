"""``tgan-aug demo``: synthesize tracked masks like a shipped model's data, render them with that
model, export a zarr store and CTC folders, and write a preview (MP4, PNG strips, a real | synthetic
comparison) and a Markdown summary."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from tgan_aug.errors import UserError
from tgan_aug.text import plural

__all__ = ["DEMO_OUTPUTS", "run_demo"]

# what run_demo writes into OUT_DIR (summary.md last: its presence means the demo finished)
DEMO_OUTPUTS = ("summary.md", "masks.zarr", "video.zarr", "ctc", "geff", "preview")


def run_demo(
    out_dir: str | Path,
    *,
    seed: int = 0,
    device: str = "cpu",
    frames: int = 20,
    size: tuple[int, int] = (256, 384),
    sequences: int = 2,
    model: str | None = None,
    checkpoint: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Run the whole pipeline into ``out_dir``; returns the path of ``summary.md``.

    Writes masks.zarr, video.zarr (images + labels + lineage), ctc/01.. (CTC folders), geff/seqNNN (GEFF lineage graphs),
    preview/seqNNN.mp4 and preview/seqNNN_strip.png (outlines over frames), summary.md; with a shipped
    model also preview/real_vs_synthetic.png (real frames of the model's data above synthetic ones).
    model: a shipped model (default: :data:`~tgan_aug.pretrained.DEFAULT_MODEL`); its masks are made like
        its training data (``synth-masks --like``: real cell shapes, density, motion).
    checkpoint: your own model file instead (masks: masksynth's high-density preset).
    size: (H, W) frame size in working pixels of the model (cells keep the training scale).
    progress: show a tqdm bar (stderr) over the rendered frames.
    """
    import masksynth
    import numpy as np
    import torch
    from tqdm import tqdm

    from tgan_aug.device import resolve_device
    from tgan_aug.io import read_store, write_ctc, write_store
    from tgan_aug.io.geff_export import export_geff
    from tgan_aug.io.outputs import removed_on_failure
    from tgan_aug.metrics.stability import frame_parity_index
    from tgan_aug.preview import write_mp4, write_rows, write_strip
    from tgan_aug.render.engine import Renderer, render_to_store

    out = Path(out_dir)
    dev = resolve_device(device)  # bad options fail before anything is written
    size = tuple(int(v) for v in size)
    if model is not None and checkpoint is not None:
        raise UserError("give --model NAME (a shipped model) or --checkpoint CKPT (your own), not both")
    profile, bank = None, None
    if checkpoint is None:
        from masksynth.profile import like_config
        from tgan_aug.pretrained import DEFAULT_MODEL, model_profile, pretrained_path

        model = model or DEFAULT_MODEL
        checkpoint = pretrained_path(model)  # a wrong name lists the shipped models
        profile = model_profile(model)
        cfg, bank = like_config(profile, size=size, frames=int(frames)), profile.bank
        source = f"masks like {model}'s data: {len(bank)} real cell shapes, calibrated density and motion"
    else:
        cfg = masksynth.SynthConfig.preset("high", frames=int(frames), size=size)
        source = "masksynth high density"
    cfg.validate()
    if out.exists() and not out.is_dir():
        raise UserError(f"OUT_DIR {out} is a file; give a folder path")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise UserError(f"OUT_DIR {out} exists and is not empty; pass --overwrite to replace it")
        for name in DEMO_OUTPUTS:  # only what a demo writes: never the user's other files
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    with removed_on_failure(out, *(out / name for name in DEMO_OUTPUTS)):  # a failed demo leaves no partial output
        out.mkdir(parents=True, exist_ok=True)
        times: dict[str, float] = {}
        t = time.perf_counter()
        masks = [(f"seq{i:03d}", masksynth.synthesize(cfg, seed=int(seed) * 1000 + i, shapes=bank))
                 for i in range(int(sequences))]
        for name, m in masks:
            write_store(out / "masks.zarr", m, name=name)
        times["synthesize masks"] = time.perf_counter() - t
        t = time.perf_counter()
        model_name = model if model is not None else str(checkpoint)
        renderer = Renderer.from_checkpoint(checkpoint, device=dev)
        with tqdm(total=sum(m.labels.shape[0] for _, m in masks), unit="frame", desc="demo: render",
                  disable=not progress) as bar:
            render_to_store(renderer, masks, out / "video.zarr", seed=seed, progress=bar.update,
                            provenance={"command": "tgan-aug demo", "source": source})
        times["render"] = time.perf_counter() - t
        t = time.perf_counter()
        notes: list[str] = []
        parity: list[float] = []
        for i, (name, _) in enumerate(masks):
            v = read_store(out / "video.zarr", name)
            parity.append(frame_parity_index(v.images, v.masks.labels))
            write_ctc(out / "ctc", v, sequence=f"{i + 1:02d}")
            try:
                write_mp4(out / "preview" / f"{name}.mp4", v.images, v.masks.labels, intensity_range=None)
            except UserError as exc:  # an OpenCV build without an MP4 encoder: keep the PNG strip, say so
                notes.append(f"MP4 not written: {exc}")
            write_strip(out / "preview" / f"{name}_strip.png", v.images, v.masks.labels)
        if profile is not None and "real_images" in profile.meta.get("arrays", {}):
            real = profile.meta["arrays"]
            v = read_store(out / "video.zarr", masks[0][0])
            write_rows(out / "preview" / "real_vs_synthetic.png",
                       [(f"real ({model_name} data)", real["real_images"]), ("synthetic (demo)", v.images)],
                       intensity_range=tuple(np.percentile(real["real_images"], [0.5, 99.5])), frames=2)
        export_geff(out / "video.zarr", out / "geff", sequences=[name for name, _ in masks])
        times["export + preview"] = time.perf_counter() - t
        n_frames = sum(m.labels.shape[0] for _, m in masks)
        n_tracks = sum(len(m.lineage) for _, m in masks)
        n_div = sum(int(np.count_nonzero(m.lineage[:, 3])) for _, m in masks)
        lines = [
            "# tgan-aug demo", "",
            f"- model: `{model_name}` (preset {renderer.cfg.preset}, sha256 `{renderer.sha256[:16]}...`)",
            f"- made: {plural(len(masks), 'sequence')} x {plural(frames, 'frame')} of {size[0]}x{size[1]} px "
            f"({source}), {plural(n_tracks, 'track')}, {plural(n_div, 'daughter track')}; images {renderer.stats.dtype}",
            f"- seed {seed}, device {dev}" + (f" ({torch.get_num_threads()} threads: the same seed and thread count "
                                               "give the same images bit for bit)" if dev.type == "cpu" else ""), "",
            "| step | seconds |", "|---|---|",
            *[f"| {k} | {v:.1f} |" for k, v in times.items()],
            f"| total | {sum(times.values()):.1f} |", "",
            f"render speed: {n_frames / max(times['render'], 1e-9):.2f} frames/s", "",
            "frame-parity index (2-frame flicker along tracks; real videos 0.008-0.015): "
            + ", ".join(f"{name} {p:.4f}" for (name, _), p in zip(masks, parity)), "",
            *[f"- {n}" for n in notes], "",
            "Files: `masks.zarr`, `video.zarr`, `ctc/NN` + `ctc/NN_GT/TRA`, `geff/seqNNN/tracks.geff` (+ `labels`), "
            "`preview/*.mp4`, `preview/*_strip.png`" + (", `preview/real_vs_synthetic.png`" if profile is not None else "") + ".",
        ]
        (out / "summary.md").write_text("\n".join(lines) + "\n")
    return out / "summary.md"
