"""Turn a finished `tgan-aug train` run into a shipped model: weights, card, strip, shape bank and
motion statistics, realism figures against the painter, registry entry with sha256.

    python recipes/model-zoo/build_model.py RUN --name psc-phc --modality "phase contrast, mammalian cells" \
        --licence "CTC terms: cite Ulman et al. 2017, Maska et al. 2023" --trained-on "CTC PhC-C2DL-PSC seq 02"
    # a model file without its run folder (e.g. the hela-small model trained before run folders existed):
    python recipes/model-zoo/build_model.py --checkpoint hela-small.pt --data IMAGES.tif:MASKS.tif --name hela-small ...
    # re-measure a shipped model's figures, strip and card after a change to rendering (weights and
    # shape bank unchanged):
    python recipes/model-zoo/build_model.py --checkpoint tgan_aug/pretrained/hela-small.pt --data IMAGES.tif:MASKS.tif \
        --name hela-small ... --overwrite --keep-profile

What it does is `tgan_aug.pretrained.build.build_model` (read it for the steps); it writes into
tgan_aug/pretrained/ (or --into DIR): NAME.pt, NAME.md, NAME-strip.png, NAME-bank.npz, registry.json.
About 1-3 min on one CPU thread (rendering + evaluating the held-back frames, calibrating the masks).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", nargs="?", help="run folder of 'tgan-aug train -o RUN' (run.json + model.pt)")
    p.add_argument("--checkpoint", help="model file instead of RUN (needs --data)")
    p.add_argument("--data", help="training data spec (default: the one in RUN/run.json)")
    p.add_argument("--holdout", type=float, default=None, help="held-back fraction (default: the run's / the model's)")
    p.add_argument("--name", required=True, help="model name, e.g. psc-phc")
    p.add_argument("--modality", required=True, help="e.g. 'fluorescence, nuclei'")
    p.add_argument("--licence", required=True, help="licence / terms of use of the training data")
    p.add_argument("--trained-on", required=True, help="what the training data is, for the card")
    p.add_argument("--command", default=None, help="training command for the card (default: from run.json)")
    p.add_argument("--into", default=str(REPO / "tgan_aug" / "pretrained"), help="folder of the registry")
    p.add_argument("--device", default="cpu")
    p.add_argument("--overwrite", action="store_true", help="replace an existing registry entry")
    p.add_argument("--keep-profile", action="store_true",
                   help="keep the shipped NAME-bank.npz (shapes, motion) and re-measure figures, strip and card "
                        "only, e.g. after a change to rendering (needs --overwrite)")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.path.insert(0, str(REPO))
    from tgan_aug.errors import UserError
    from tgan_aug.pretrained.build import build_model, source_from_files, source_from_run

    try:
        if (args.run is None) == (args.checkpoint is None):
            raise UserError("give RUN or --checkpoint MODEL.pt (with --data), not both")
        if args.run is not None:
            src = source_from_run(args.run, data=args.data)
        else:
            if args.data is None:
                raise UserError("--checkpoint needs --data (the training data spec)")
            reg = Path(args.into) / "registry.json"
            old = json.loads(reg.read_text()).get(args.name, {}) if reg.is_file() else {}
            src = source_from_files(args.checkpoint, args.data, seconds=old.get("time"), quality=old.get("quality", ""))
        if args.holdout is not None:
            src.holdout = args.holdout
        if args.command is not None:
            src.command = args.command
        entry = build_model(src, name=args.name, modality=args.modality, licence=args.licence,
                            trained_on=args.trained_on, into=args.into, device=args.device, overwrite=args.overwrite,
                            keep_profile=args.keep_profile)
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None
    from tgan_aug.pretrained.card import readme_row

    figs = entry["figures"]
    print(f"{args.name}: {entry['size_mb']} MB, sha256 {entry['sha256'][:16]}..., bank {entry['bank_kb']} kB")
    for key in ("SSIM (strict)", "FID-DeepSea", "frame-parity"):
        print(f"  {key}: tGAN {figs[key]['tgan']}, painter {figs[key]['painter']}")
    print("README 'Shipped models' row:\n" + readme_row(args.name, entry))


if __name__ == "__main__":
    main()
