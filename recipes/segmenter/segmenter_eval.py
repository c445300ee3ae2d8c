"""DeepSea's shipped segmentation network zero-shot vs fine-tuned, on held-out real frames.

bacteria-phc (01 + 01_GT/TRA, dense masks): train on frames 0-39, test on frames 40-52 (every
``--test-every``-th of them, to keep CPU time down); PhC-C2DL-PSC (02 + 02_ST/SEG): train on
frames 0-36, test on 37-49. Scores from :func:`tgan_aug.segment.segmentation_scores` (CTC SEG
via py-ctcmetrics, detection F1 at IoU > 0.5, foreground Dice). Also reports the polarity that
the label-free rule (:func:`tgan_aug.segment.predict.choose_polarity`) picks, zero-shot
scores with the other polarity, and the fine-tuned model's scores with ``split="watershed"``.
The fine-tuned model is kept in ``work/<dataset>-seg`` (git-ignored).

    OMP_NUM_THREADS=1 python recipes/segmenter/segmenter_eval.py bacteria --scale 0.5 --steps 100
    OMP_NUM_THREADS=1 python recipes/segmenter/segmenter_eval.py psc --scale 1 --steps 100

Prints one JSON line per measurement and writes results/<dataset>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from masksynth import time_slice
from masksynth.tracked import TrackedVideo
from tgan_aug.io.ctc import read_ctc
from tgan_aug.segment import Segmenter, SegmenterConfig, fit_segmenter, segmentation_scores
from tgan_aug.segment.predict import choose_polarity

DATA = Path(os.environ.get("TGAN_AUG_DATA", "/work/shared/data"))
SETS = {"bacteria": ("bacteria-phc", "01", 40), "psc": ("PhC-C2DL-PSC", "02", 37)}


def score(seg: Segmenter, images: np.ndarray, labels: np.ndarray, invert: bool) -> dict:
    start = time.time()
    pred = seg.segment(images, invert=invert)
    return {**segmentation_scores(labels, pred), "seconds": round(time.time() - start, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", choices=sorted(SETS))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--test-every", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-zero-shot", action="store_true", help="keep the zero-shot entries of an earlier results file")
    args = ap.parse_args()
    torch.set_num_threads(1)
    folder, seq, n_train = SETS[args.dataset]
    video = read_ctc(DATA / folder, sequence=seq)
    train = TrackedVideo(time_slice(video.masks, 0, n_train), video.images[:n_train])
    test_idx = np.arange(n_train, video.n_frames)[:: args.test_every]
    images, labels = video.images[test_idx], video.labels[test_idx]
    res = Path(__file__).parent / "results"
    res.mkdir(exist_ok=True)
    earlier = json.loads((res / f"{args.dataset}.json").read_text()) if args.skip_zero_shot else {}
    out: dict = {**earlier, "dataset": folder, "train_frames": [0, n_train - 1], "test_frames": test_idx.tolist(), **vars(args)}

    if not args.skip_zero_shot:
        zero = Segmenter.from_pretrained(scale=args.scale)
        start = time.time()
        out["auto_invert"] = choose_polarity(zero, images, max_frames=1)
        out["auto_invert_seconds"] = round(time.time() - start, 1)
        print(json.dumps({"auto_invert": out["auto_invert"]}), flush=True)
        for inv in (out["auto_invert"], not out["auto_invert"]):
            out[f"zero_shot_invert_{inv}"] = score(zero, images, labels, inv)
            print(json.dumps({f"zero_shot_invert_{inv}": out[f"zero_shot_invert_{inv}"]}), flush=True)
        (res / f"{args.dataset}.json").write_text(json.dumps(out, indent=2))

    config = SegmenterConfig.preset("cpu", scale=args.scale, max_steps=args.steps, batch_size=args.batch_size, crop=args.crop)
    model_dir = Path(__file__).parent / "work" / f"{args.dataset}-seg"  # kept for later runs (git-ignored)
    fit = fit_segmenter([train], [], model_dir, ratio=0, config=config, seed=args.seed, overwrite=True, progress=True)
    tuned = Segmenter.from_folder(fit["model_dir"])
    out["train"] = {"seconds": round(fit["seconds"], 1), "steps": fit["steps"], "invert": tuned.invert,
                    "loss_first10": float(np.mean(fit["history"][:10])), "loss_last10": float(np.mean(fit["history"][-10:]))}
    print(json.dumps({"train": out["train"]}), flush=True)
    out["fine_tuned"] = score(tuned, images, labels, tuned.invert)
    print(json.dumps({"fine_tuned": out["fine_tuned"]}), flush=True)
    tuned.postprocess = tuned.postprocess.replace(split="watershed")
    out["fine_tuned_watershed"] = score(tuned, images, labels, tuned.invert)
    print(json.dumps({"fine_tuned_watershed": out["fine_tuned_watershed"]}), flush=True)
    (res / f"{args.dataset}.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
