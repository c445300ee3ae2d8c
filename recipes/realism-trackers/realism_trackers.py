#!/usr/bin/env python
"""Realism through trackers (the paper's Tables 2-3): track the real test sequence and synthetic
renderings of its ground-truth masks, and compare the scores.

Per dataset (PhC-C2DL-PSC/02, bacteria-phc/01), with the time split of ``recipes/limited-data``:
training part = the first 70 % of the frames, test = the last 30 %.

Videos compared (same masks, same frames, cropped to the test cells' bounding box + 16 px):

- ``real``: the real test frames;
- ``tGAN``: the test ground-truth masks rendered by a ``small`` tGAN trained on the training
  frames only (``tgan-aug train lowres`` + ``superres`` then ``tgan-aug render``; background:
  the training frames' cell-free reference);
- ``painter``: the same masks rendered by the non-learned painter
  (:mod:`tgan_aug.baselines.painter`) fitted on the training frames: the simplest baseline.

Detections: trackers need per-frame objects. With the ground-truth masks as detections the images
hardly matter (btrack ignores them, trackastra only uses each cell's mean intensity), so the
image-dependent test segments every video with one detector: a small U-Net (bg / cell interior /
cell boundary, marker watershed) trained on the **real training frames** only. Then
``btrack`` (shipped config) and ``trackastra`` (trained on the training frames' ground truth)
link the detections (``--trackers`` adds ``deepsea``, the shipped DeepSea tracker, GPU-sized).
A second block of rows uses the ground-truth masks as detections (linking only; a sanity check).

Metrics (``tgan_aug.trackers.metrics``, CTC matching): MOTA, MT, ML, precision, recall (the
paper's columns) + IDF1 and DET. The closer a synthetic row is to the real row, the more the
rendering behaves like real data for that tracker.

Usage (from the repository root)::

    python recipes/realism-trackers/realism_trackers.py --profile cpu          # both datasets
    python recipes/realism-trackers/realism_trackers.py --profile smoke --max-frames 12 --datasets psc
    python recipes/realism-trackers/realism_trackers.py --table-only

Work files go to ``--work`` (default ``recipes/realism-trackers/work``, git ignored; finished steps
are skipped when run again); scores to ``results/<profile>/`` as JSON + ``results.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tgan_aug.experiment import file_logger, mark_step_done, step_done
from tgan_aug.splits import cell_box, grow_box, split_frames, sub_video
from tgan_aug.trackers import TRACKERS as ALL_TRACKERS
from tgan_aug.trackers.detections import per_frame_ids
from tgan_aug.training.budgeted import StageBudget, stage_steps, train_two_stage

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


@dataclass(frozen=True)
class DatasetSpec:
    """A real dataset: its CTC folder (relative to the repository root) and whether its cells are
    brighter than the background (the generator's DeepSea perceptual loss then inverts)."""

    path: str
    deepsea_invert: bool


#: the datasets and time split of recipes/limited-data (training part = first 70 % of the frames)
DATASETS: dict[str, DatasetSpec] = {
    "psc": DatasetSpec("../shared/data/PhC-C2DL-PSC", deepsea_invert=True),
    "bacteria": DatasetSpec("../shared/data/bacteria-phc", deepsea_invert=False),
}
TEST_FRACTION = 0.3
#: the generator trains on random 128x192 crops (preset small): the training region is grown to at least this
MIN_REGION = (144, 208)


@dataclass
class Profile:
    """Sizes of one run (generator and detector training, tracker training)."""

    gen: StageBudget = StageBudget(400, 4.0, 200, 2.0)  # generator training
    detector_steps: int = 400
    detector_crop: int = 128
    detector_batch: int = 8
    tracker_preset: str = "tiny"
    tracker_steps: int = 600
    tracker_augment: int = 2
    samples_per_epoch: int = 64


PROFILES: dict[str, Profile] = {
    "smoke": Profile(gen=StageBudget(3, 0.5, 2, 0.5), detector_steps=5, tracker_steps=10, samples_per_epoch=16),
    "cpu": Profile(gen=StageBudget(600, 6.0, 300, 3.0)),
}

VIDEOS = ("real", "tGAN", "painter")
TRACKERS = tuple(ALL_TRACKERS)  # btrack, trackastra, deepsea
PAPER_KEYS = ("MOTA", "MT", "ML", "Precision", "Recall", "IDF1", "DET")

# ----------------------------------------------------------------------------- detector


def _normalise(images: np.ndarray) -> np.ndarray:
    """Per-frame 0.5/99.5-percentile scaling to [0, 1] (T, Y, X) float32 (any renderer's range)."""
    x = images.astype(np.float32)
    lo = np.percentile(x, 0.5, axis=(1, 2), keepdims=True)
    hi = np.percentile(x, 99.5, axis=(1, 2), keepdims=True)
    return np.clip((x - lo) / np.maximum(hi - lo, 1e-6), 0, 1).astype(np.float32)


def _targets(labels: np.ndarray) -> np.ndarray:
    """(T, Y, X) uint8 classes: 0 background, 1 cell interior, 2 cell boundary (a 4-neighbour differs)."""
    lab = labels
    edge = np.zeros(lab.shape, bool)
    edge[:, 1:, :] |= lab[:, 1:, :] != lab[:, :-1, :]
    edge[:, :-1, :] |= lab[:, :-1, :] != lab[:, 1:, :]
    edge[:, :, 1:] |= lab[:, :, 1:] != lab[:, :, :-1]
    edge[:, :, :-1] |= lab[:, :, :-1] != lab[:, :, 1:]
    out = (lab > 0).astype(np.uint8)
    out[(lab > 0) & edge] = 2
    return out


def _unet():
    import torch
    from torch import nn

    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                             nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(inplace=True))

    class SmallUNet(nn.Module):
        """1 -> 3 classes; 16-32-64 channels, two poolings; any H, W divisible by 4."""

        def __init__(self):
            super().__init__()
            self.e1, self.e2, self.e3 = block(1, 16), block(16, 32), block(32, 64)
            self.d2, self.d1 = block(64 + 32, 32), block(32 + 16, 16)
            self.head = nn.Conv2d(16, 3, 1)

        def forward(self, x):
            f = nn.functional
            x1 = self.e1(x)
            x2 = self.e2(f.max_pool2d(x1, 2))
            x3 = self.e3(f.max_pool2d(x2, 2))
            y = self.d2(torch.cat([x2, f.interpolate(x3, scale_factor=2, mode="bilinear", align_corners=False)], 1))
            y = self.d1(torch.cat([x1, f.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)], 1))
            return self.head(y)

    return SmallUNet()


def train_detector(video, out: Path, *, profile: Profile, seed: int, device: str):
    """Train the detector on a real tracked video (images + masks); cached as ``out``."""
    import torch

    net = _unet().to(device)
    if out.is_file():
        net.load_state_dict(torch.load(out, map_location=device, weights_only=True))
        return net.eval()
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    x_all = _normalise(np.asarray(video.images))
    y_all = _targets(np.asarray(video.labels))
    T, H, W = x_all.shape
    c = min(profile.detector_crop, H, W) // 4 * 4
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    weight = torch.tensor([1.0, 1.0, 2.0], device=device)
    net.train()
    for step in range(profile.detector_steps):
        xs, ys = [], []
        for _ in range(profile.detector_batch):
            t, y0, x0 = rng.integers(T), rng.integers(H - c + 1), rng.integers(W - c + 1)
            xi, yi = x_all[t, y0:y0 + c, x0:x0 + c], y_all[t, y0:y0 + c, x0:x0 + c]
            k = int(rng.integers(4))
            xi, yi = np.rot90(xi, k), np.rot90(yi, k)
            if rng.random() < 0.5:
                xi, yi = xi[:, ::-1], yi[:, ::-1]
            gain, offset = rng.uniform(0.8, 1.25), rng.uniform(-0.1, 0.1)  # contrast/brightness jitter
            xs.append(np.clip(xi * gain + offset, 0, 1))
            ys.append(yi.copy())
        xb = torch.from_numpy(np.stack(xs)[:, None].astype(np.float32) * 2 - 1).to(device)
        yb = torch.from_numpy(np.stack(ys).astype(np.int64)).to(device)
        loss = torch.nn.functional.cross_entropy(net(xb), yb, weight=weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out)
    return net.eval()


def detect(net, images: np.ndarray, *, min_area: int, device: str) -> np.ndarray:
    """Per-frame instance labels (T, Y, X) int32: interior components as markers, watershed over
    the cell region (interior + boundary) on the interior probability; objects < min_area px dropped."""
    import torch
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    x_all = _normalise(np.asarray(images))
    T, H, W = x_all.shape
    Hp, Wp = -(-H // 4) * 4, -(-W // 4) * 4
    out = np.zeros((T, H, W), np.int32)
    with torch.no_grad():
        for t in range(T):
            x = np.pad(x_all[t], ((0, Hp - H), (0, Wp - W)), mode="reflect")
            p = torch.softmax(net(torch.from_numpy(x[None, None] * 2 - 1).to(device)), 1)[0, :, :H, :W].cpu().numpy()
            cls = p.argmax(0)
            interior = cls == 1
            region = cls > 0
            markers, _ = ndi.label(interior)
            sizes = np.bincount(markers.ravel())
            small = sizes < max(2, min_area // 4)
            small[0] = False
            markers[small[markers]] = 0
            lab = watershed(-p[1], markers, mask=region)
            sizes = np.bincount(lab.ravel())
            drop = sizes < min_area
            drop[0] = False
            lab[drop[lab]] = 0
            out[t] = lab
    return out


# ----------------------------------------------------------------------------- one dataset


def save_preview(path: Path, videos: dict[str, np.ndarray], t: int = 0) -> None:
    """One PNG: frame ``t`` of each video side by side (per-frame percentile scaling)."""
    import cv2

    tiles = [(_normalise(v[t:t + 1])[0] * 255).astype(np.uint8) for v in videos.values()]
    h = min(x.shape[0] for x in tiles)
    scale = min(1.0, 360 / h)
    tiles = [cv2.resize(x, (int(x.shape[1] * scale), int(x.shape[0] * scale)), interpolation=cv2.INTER_AREA) for x in tiles]
    gap = np.full((tiles[0].shape[0], 6), 255, np.uint8)
    row = np.concatenate(sum(([x, gap] for x in tiles), [])[:-1], axis=1)
    for i, name in enumerate(videos):
        x = sum(tl.shape[1] + 6 for tl in tiles[:i]) + 6
        cv2.putText(row, name, (x, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 255, 2)
    cv2.imwrite(str(path), row)


def run_dataset(dataset: str, *, profile_name: str, profile: Profile, trackers: list[str], work: Path,
                results: Path, device: str, max_frames: int | None, log=print) -> None:
    from tgan_aug.baselines.painter import fit_painter, paint
    from tgan_aug.io import load_tracked, write_store
    from tgan_aug.render.video import render_items
    from tgan_aug.trackers.metrics import evaluate_tracked

    spec = DATASETS[dataset]
    seed = 0
    t_start = time.time()
    [(_, video)] = load_tracked((REPO / spec.path).resolve())
    if max_frames is not None and max_frames < video.n_frames:
        video = sub_video(video, t1=max_frames, what=f"first {max_frames} frames")
    n_train = split_frames(video.n_frames, test_fraction=TEST_FRACTION)
    train_part = sub_video(video, t0=0, t1=n_train, what="training part (first 70% of frames)")
    train_box = grow_box(cell_box(train_part.labels), train_part.labels.shape[1:], MIN_REGION)
    train_roi = sub_video(train_part, box=train_box, what="training part, cell region")
    test_full = sub_video(video, t0=n_train, what="test (last 30% of frames)")
    test_box = cell_box(test_full.labels)
    test = sub_video(test_full, box=test_box, what="test, cell region")
    wdir = work / profile_name / dataset
    wdir.mkdir(parents=True, exist_ok=True)
    rdir = results / dataset
    rdir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    log(f"[{dataset}] train frames 0-{n_train - 1} box {train_box}; test frames {n_train}-{video.n_frames - 1} box {test_box}")

    # generator trained on the training frames only, then the test masks rendered
    if not step_done(wdir / "train.zarr.done"):
        write_store(wdir / "train.zarr", train_roi, name="train", overwrite=True)
        mark_step_done(wdir / "train.zarr.done")
    t0 = time.time()
    ckpt = train_two_stage(wdir / "train.zarr", wdir / "generator", budget=profile.gen, seed=seed, device=device,
                           deepsea_invert=spec.deepsea_invert)
    timings["generator_s"] = time.time() - t0
    timings.update(stage_steps(ckpt))
    t0 = time.time()
    [(_, tgan)] = render_items(ckpt, [("test", test.masks)], wdir / "test_tgan.zarr", seed=seed, device=device,
                               frame_batch=2, provenance={"command": "recipes/limited-data"})
    timings["render_s"] = time.time() - t0
    painted = paint(test.masks, fit_painter([train_roi]), seed=seed)
    videos = {"real": test.images, "tGAN": np.asarray(tgan.images), "painter": np.asarray(painted.images)}
    save_preview(rdir / "preview.png", videos, t=0)
    log(f"[{dataset}] rendered ({timings})")

    # detector and trackastra trained on the real training frames
    t0 = time.time()
    net = train_detector(train_roi, wdir / "detector.pt", profile=profile, seed=seed, device=device)
    timings["detector_s"] = time.time() - t0
    areas = np.bincount(train_roi.labels.ravel())[1:]
    min_area = int(max(4, np.percentile(areas[areas > 0], 1) / 2))
    ta_dir = wdir / "trackastra"
    if "trackastra" in trackers and not (ta_dir / "model.pt").is_file():
        t0 = time.time()
        ALL_TRACKERS["trackastra"].train([("train", train_part)], [], ta_dir, ratio=0.0, preset=profile.tracker_preset,
                                         max_steps=profile.tracker_steps, augment=profile.tracker_augment,
                                         samples_per_epoch=profile.samples_per_epoch, device=device, seed=seed,
                                         overwrite=True, progress=False)
        timings["trackastra_train_s"] = time.time() - t0
    if (rdir / "setup.json").is_file():  # a resumed run: keep the timings of the run that did the work
        timings = {**timings, **json.loads((rdir / "setup.json").read_text())["timings"]}
    (rdir / "setup.json").write_text(json.dumps({
        "dataset": dataset, "train_frames": [0, n_train], "test_frames": [n_train, video.n_frames],
        "train_box_yyxx": list(train_box), "test_box_yyxx": list(test_box), "min_area": min_area,
        "profile": profile_name, "timings": timings,
        "profile_settings": {k: (dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v)
                             for k, v in dataclasses.asdict(profile).items()},
    }, indent=2, default=str))

    gt_det = per_frame_ids(test.labels, seed=7)
    models = {"trackastra": ta_dir}  # btrack: the shipped config; deepsea: the shipped weights
    linkers = {t: ALL_TRACKERS[t].load(models.get(t), device=device) for t in trackers}
    for vname, images in videos.items():
        t0 = time.time()
        det = detect(net, images, min_area=min_area, device=device)
        t_det = time.time() - t0
        for detections, labels in (("detector", det), ("ground truth", gt_det)):
            for tracker in trackers:
                out_json = rdir / f"{vname}__{tracker}__{detections.replace(' ', '-')}.json"
                if out_json.is_file():
                    continue
                t0 = time.time()
                res = linkers[tracker].track(images, labels)
                t_track = time.time() - t0
                scores = evaluate_tracked(test.masks, res)  # an empty result scores as "no detections"
                out_json.write_text(json.dumps({
                    "dataset": dataset, "video": vname, "tracker": tracker, "detections": detections,
                    "scores": scores, "track_s": round(t_track, 1), "detect_s": round(t_det, 1), "profile": profile_name,
                }, indent=2, default=str))
                log(f"[{dataset}] {vname:8s} {tracker:10s} {detections:12s} MOTA {scores.get('MOTA')} "
                    f"precision {scores.get('Precision')} recall {scores.get('Recall')}")
    log(f"[{dataset}] done in {time.time() - t_start:.0f} s")


# ----------------------------------------------------------------------------- table


def _f(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def make_table(results: Path) -> str:
    recs = [json.loads(p.read_text()) for p in sorted(results.glob("*/*__*__*.json"))]
    if not recs:
        return "(no results yet)\n"
    lines = []
    for detections in ("detector", "ground truth"):
        rows = [r for r in recs if r["detections"] == detections]
        if not rows:
            continue
        what = ("detections from the images (small U-Net trained on the real training frames)" if detections == "detector"
                else "ground-truth masks as detections (linking only)")
        lines.append(f"\nDetections: {what}.\n")
        lines.append("| dataset | tracker | test video | " + " | ".join(PAPER_KEYS) + " |")
        lines.append("|---|---|---|" + "---|" * len(PAPER_KEYS))
        for d in sorted({r["dataset"] for r in rows}):
            for t in [t for t in TRACKERS if any(r["tracker"] == t for r in rows)]:
                for v in VIDEOS:
                    rs = [r for r in rows if r["dataset"] == d and r["tracker"] == t and r["video"] == v]
                    if rs:
                        s = rs[0]["scores"]
                        lines.append(f"| {d} | {t} | {v} | " + " | ".join(_f(s.get(k)) for k in PAPER_KEYS) + " |")
    for p in sorted(results.glob("*/setup.json")):
        s = json.loads(p.read_text())
        tm = s["timings"]
        lines.append(f"\n{s['dataset']}: train frames {s['train_frames']}, test frames {s['test_frames']} "
                     f"(box {tuple(s['test_box_yyxx'])}); generator {tm.get('generator_s', 0):.0f} s "
                     f"({tm.get('generator_lowres_steps')} low-res + {tm.get('generator_superres_steps')} super-res steps), "
                     f"rendering {tm.get('render_s', 0):.0f} s, detector {tm.get('detector_s', 0):.0f} s, "
                     f"trackastra {tm.get('trackastra_train_s', 0):.0f} s (profile {s['profile']}).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--profile", default="cpu", choices=list(PROFILES))
    ap.add_argument("--trackers", nargs="+", default=["btrack", "trackastra"], choices=list(TRACKERS))
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--results", type=Path, default=None, help="default: recipes/realism-trackers/results/<profile>")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-frames", type=int, default=None, help="use only the first N frames (smoke tests)")
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    results = args.results or HERE / "results" / args.profile
    results.mkdir(parents=True, exist_ok=True)
    if not args.table_only:
        log = file_logger(args.work / args.profile / "log.txt")
        t0 = time.time()
        for d in args.datasets:
            try:
                run_dataset(d, profile_name=args.profile, profile=PROFILES[args.profile], trackers=args.trackers,
                            work=args.work, results=results, device=args.device, max_frames=args.max_frames, log=log)
            except Exception:
                log(traceback.format_exc())
        log(f"total {time.time() - t0:.0f} s")
    table = make_table(results)
    (results / "results.md").write_text(f"# Realism through trackers, profile {args.profile}\n" + table)
    print(table)


if __name__ == "__main__":
    main()
