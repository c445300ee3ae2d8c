"""Where does a renderer lose FID-DeepSea: near the cells or in the background? (diagnostic)

Takes the held-out frames Table 1 saved for one seed (``work/frames/<scale>/<dataset>-<method>-seed<seed>.npy``;
run ``table1.py`` first) and scores composites against the real held-out video: pixels farther
than ``--ring`` px from every cell ("background") from one source, the rest ("colony": cells, the
gaps between them and a ring around them) from another.

    python recipes/realism/table1.py --scale cpu --methods full,painter --datasets bacteria
    python recipes/realism/region_swap.py --dataset bacteria --seed 0     # ~30 s on one thread
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from recipes.realism import common as C  # noqa: E402

KEYS = ("FID-DeepSea", "FD-DeepSea-clip8", "histogram-W1")
FAMILIES = ("distribution", "microscopy")  # the metric families holding KEYS (strict protocol)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=["psc", "bacteria"], default="bacteria", help="a Table 1 dataset")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", default="full", help="the tGAN method whose frames to use (default full)")
    p.add_argument("--scale", choices=sorted(C.SCALES), default="cpu")
    p.add_argument("--ring", type=float, default=4.0, help="px around each cell counted with the colony (default 4)")
    p.add_argument("--data-root", default=C.DATA_ROOT, help="folder holding the shared datasets")
    args = p.parse_args(argv)
    C.set_threads()
    scale = C.SCALES[args.scale]
    test = C.prepare_dataset(args.dataset, scale.data_scale, args.data_root)["test"]
    frames = C.WORK / "frames" / scale.name
    paths = {m: frames / f"{args.dataset}-{m}-seed{args.seed}.npy" for m in (args.method, "painter")}
    for m, path in paths.items():
        if not path.is_file():
            raise SystemExit(f"error: {path} is missing: run table1.py with --methods {m} first")
    tgan, painter = (np.load(paths[m]) for m in (args.method, "painter"))
    far = np.stack([ndi.distance_transform_edt(lab == 0) > args.ring for lab in test.masks.labels])
    rows = [("tGAN", tgan), ("tGAN colony + painter background", np.where(far, painter, tgan)),
            ("painter colony + tGAN background", np.where(far, tgan, painter)), ("painter", painter),
            ("tGAN colony + real background", np.where(far, test.images, tgan)),
            ("real colony + tGAN background", np.where(far, tgan, test.images))]
    print(f"{args.dataset}, seed {args.seed}, background = pixels > {args.ring:g} px from every cell "
          f"({far.mean():.0%} of the held-out pixels)\n")
    print("| composite | " + " | ".join(KEYS) + " |")
    print("|---|" + "---|" * len(KEYS))
    for name, imgs in rows:
        m = C.evaluate(test, replace(test, images=imgs.astype(test.images.dtype)), device="cpu", families=FAMILIES)["metrics"]
        print(f"| {name} | " + " | ".join(f"{m[k]:.4g}" for k in KEYS) + " |", flush=True)


if __name__ == "__main__":
    main()
