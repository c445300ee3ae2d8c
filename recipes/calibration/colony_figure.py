"""What does a calibrated bacteria-phc colony look like, and what do pushes that turn rods change?

Frames 20, 40 and the last of the real bacteria-phc 01_GT colony (top row), then of one sequence
synthesized with seed (S, 0) from `masksynth.calibrate(real, seed=S)`: as calibrated (own motion,
pushes across the contact), with the cells' own motion switched off (steps 0: they move only when
growth pushes them), off and with centre-line pushes (`push_contact` False, as before session 16),
and off with pushes that turn the rods they hit (`push_torque` G). Each label image with the
preview's colour per track id; per row the number of cells in the last frame and the colony's
aspect ratio (long over short axis sd of all cell pixels in the last frame: a chain is long, a colony round).

    PYTHONPATH=. OMP_NUM_THREADS=1 python recipes/calibration/colony_figure.py --seed 2 --torque 1
    PYTHONPATH=. OMP_NUM_THREADS=1 python recipes/calibration/colony_figure.py --seed 2 --calibrated-only --out colony-s18.png

Writes results/colony-mechanics.png (or --out) and prints one line per row.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from masksynth import calibrate, synthesize
from tgan_aug.preview import id_colours

from run import HERE, load  # noqa: E402  (this recipe folder)


def aspect(labels: np.ndarray) -> float:
    """Long over short axis (sd) of all cell pixels of a (Y, X) label image."""
    ev = np.linalg.eigvalsh(np.cov(np.stack(np.nonzero(labels))))
    return float(np.sqrt(ev[1] / max(ev[0], 1e-9)))


def coloured(labels: np.ndarray) -> np.ndarray:
    """(Y, X) labels -> (Y, X, 3) uint8 BGR, each id in its preview colour, background black."""
    lut = id_colours(np.arange(int(labels.max()) + 1))
    lut[0] = 0
    return lut[labels]


def row(name: str, labels: np.ndarray, times: list[int]) -> np.ndarray:
    tiles = []
    for t in times:
        tile = coloured(labels[t])
        cv2.putText(tile, f"t={t}", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
        tiles.append(tile)
    img = np.concatenate(tiles, axis=1)
    n = len(np.unique(labels[-1])) - 1
    cv2.putText(img, f"{name}: {n} cells, aspect {aspect(labels[-1]):.1f}", (10, img.shape[0] - 20),
                cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
    print(f"{name}: {n} cells in the last frame, aspect {aspect(labels[-1]):.2f}", flush=True)
    return img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=2, help="calibration and synthesis seed [2]")
    ap.add_argument("--torque", type=float, default=1.0, help="push_torque of the last row [1]")
    ap.add_argument("--calibrated-only", action="store_true", help="only the real and the calibrated rows")
    ap.add_argument("--out", default="colony-mechanics.png", help="file name under results/ [colony-mechanics.png]")
    args = ap.parse_args()
    real = load("bacteria-phc")
    times = [20, 40, real.n_frames - 1]
    cfg, bank = calibrate(real, seed=args.seed)
    still = cfg.replace(speed_mean=0.0, speed_quantiles=None, speed_cv=0.0)
    rows = [row("real", real.labels, times)]
    variants = [("calibrated", cfg), ("no own motion", still),
                ("no own motion, centre-line pushes", still.replace(push_contact=False)),
                (f"no own motion, push_torque {args.torque:g}", still.replace(push_torque=args.torque))]
    for name, c in variants[:1] if args.calibrated_only else variants:
        rows.append(row(name, synthesize(c, seed=(args.seed, 0), shapes=bank).labels, times))
    out = HERE / "results" / args.out
    img = np.concatenate(rows, axis=0)
    cv2.imwrite(str(out), cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
