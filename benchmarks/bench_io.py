"""I/O speed on the real bacteria-phc set (53 x 1305x1009, 714 tracks): median of N runs.

Times: read the CTC folder (with lineage validation), import-ctc (CTC -> zarr store),
write_store alone (video in memory -> store), info on the store, export-ctc (store -> CTC),
export-geff (store -> GEFF graph + labels), import-geff (GEFF -> store), and info on the CTC folder.

Usage:
    python benchmarks/bench_io.py [--repeat 3] [--dataset bacteria-phc]

The data folder comes from TGAN_AUG_SHARED_DATA or ../shared/data beside the repository;
without it the script prints why and exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _data_dir() -> Path | None:
    env = os.environ.get("TGAN_AUG_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


def _time(func, repeat: int) -> tuple[float, list[float]]:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median reported)")
    parser.add_argument("--dataset", default="bacteria-phc", help="folder name under the shared data")
    args = parser.parse_args(argv)

    data = _data_dir()
    if data is None or not (data / args.dataset).is_dir():
        print(
            f"skipped: {args.dataset} not found; set TGAN_AUG_SHARED_DATA to the folder holding it "
            "(default ../shared/data beside the repository)"
        )
        return 0
    src = data / args.dataset

    from tgan_aug.io import dataset_info, export_ctc, export_geff, import_ctc, import_geff, read_ctc, write_store

    work = Path(tempfile.mkdtemp(prefix="bench_io_"))
    try:
        store, out = work / "data.zarr", work / "ctc"
        video = read_ctc(src)
        t, y, x = video.labels.shape
        print(f"{args.dataset}: {t} frames x {y}x{x}, {video.masks.n_tracks} tracks, "
              f"images {video.images.dtype}; median of {args.repeat} runs")
        rows = [
            ("read CTC (read_ctc, validated)", lambda: read_ctc(src)),
            ("import-ctc (CTC -> store)", lambda: import_ctc(src, store, overwrite=True)),
            ("write_store (memory -> store)", lambda: write_store(work / "w.zarr", video, overwrite=True)),
            ("info on the store", lambda: dataset_info(store)),
            ("export-ctc (store -> CTC)", lambda: export_ctc(store, out, overwrite=True)),
            ("export-geff (store -> GEFF)", lambda: export_geff(store, work / "geff", overwrite=True)),
            ("import-geff (GEFF -> store)",
             lambda: import_geff(work / "geff" / "01" / "tracks.geff", work / "g.zarr", overwrite=True)),
            ("info on the CTC folder", lambda: dataset_info(src)),
        ]
        for name, func in rows:
            med, runs = _time(func, args.repeat)
            print(f"  {name:34s} {med:6.2f} s   (runs: {', '.join(f'{r:.2f}' for r in runs)})")
        size = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
        size_ctc = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        print(f"  store size {size / 1e6:.1f} MB, exported CTC size {size_ctc / 1e6:.1f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
