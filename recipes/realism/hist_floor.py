"""How close can a rendering matched to the TRAINING frames' intensities get to the held-out histogram?

Intensity matching (README "Intensity matching") maps every rendered sequence onto the pooled
intensity quantiles of the training frames, so its hist-W1 against the held-out frames cannot go
much below W1(training frames, held-out frames): this script prints that floor per dataset, with
two other targets a renderer could take from the training data (per-class quantiles mixed by the
held-out masks' coverage; the training frames closest in coverage), and each part's mean
intensities. No model is involved; seconds on a CPU.

    python recipes/realism/hist_floor.py                 # both datasets, the realism split
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: import the recipes package of this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from recipes.realism import common as C  # noqa: E402

PROBS = np.linspace(0.0, 1.0, 257)


def w1_to(real: np.ndarray, quantiles: np.ndarray) -> float:
    """hist-W1 (``tgan_aug.metrics.microscopy.histogram_distance``) of a video whose histogram has these quantiles."""
    from tgan_aug.metrics.microscopy import histogram_distance

    fake = np.interp((np.arange(100_000) + 0.5) / 100_000, PROBS, quantiles).reshape(1, 1, -1)
    return histogram_distance(real, fake, data_range=(float(real.min()), float(real.max())))


def floor_rows(dataset: str, data_root: str) -> list[str]:
    d = C.prepare_dataset(dataset, 0.5, data_root)
    n = d["n_train"]
    train = np.asarray(d["full"].images[:n], np.float64)
    train_lab = np.asarray(d["full"].masks.labels[:n])
    test = np.asarray(d["test"].images, np.float64)
    test_lab = np.asarray(d["test"].masks.labels)
    cov_train, cov_test = (train_lab > 0).mean(axis=(1, 2)), float((test_lab > 0).mean())
    rng = np.random.default_rng(0)
    cells, bg = train[train_lab > 0], train[train_lab == 0]
    k = 200_000
    mix = np.concatenate([rng.choice(cells, int(cov_test * k)), rng.choice(bg, k - int(cov_test * k))])
    near = np.argsort(np.abs(np.log(cov_train + 1e-3) - np.log(cov_test)))[:10]
    rows = [("pooled training frames (what matching uses)", w1_to(test, np.quantile(train, PROBS))),
            (f"training cells / background mixed at the held-out coverage {cov_test:.3f}", w1_to(test, np.quantile(mix, PROBS))),
            ("the 10 training frames closest in coverage", w1_to(test, np.quantile(train[near], PROBS)))]
    out = [f"| {dataset} | {name} | {w:.4f} |" for name, w in rows]
    out.append(f"| {dataset} | means: training cells {cells.mean():.1f}, background {bg.mean():.1f} (coverage "
               f"{cov_train.mean():.3f}); held-out cells {test[test_lab > 0].mean():.1f}, background "
               f"{test[test_lab == 0].mean():.1f} | |")
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default="bacteria,psc", help="comma-separated subset of bacteria,psc")
    p.add_argument("--data-root", default=str(C.DATA_ROOT))
    args = p.parse_args(argv)
    lines = ["| dataset | target histogram (from the training data) | hist-W1 vs the held-out frames |", "|---|---|---|"]
    for ds in args.datasets.split(","):
        lines += floor_rows(ds, args.data_root)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
