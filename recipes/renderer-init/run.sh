#!/usr/bin/env bash
# Why the styled generator trained slowly: five 300-step low-res runs on PhC-C2DL-PSC (half size,
# 35 training frames), one thread each, then a 50-frame rollout of each (rollout_eval.py).
# Usage: bash recipes/renderer-init/run.sh [WORK_DIR]   (needs the realism recipes' prepared data:
#        python recipes/realism/table1.py --scale smoke makes it; ~5 min a run alone on one core)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-$HERE/work}
DATA=$HERE/../realism/work/data/psc-s0.5/train
export OMP_NUM_THREADS=1
declare -A VARIANTS=(
  [stylegan2-init]="--set model.style_init=1.0 --set model.noise_init=0.1"   # what 0.1 did
  [style-identity-only]="--set model.noise_init=0.1"
  [noise-zero-only]="--set model.style_init=1.0"
  [default]=""                                                             # style_init=0, noise_init=0
  [default-burnin4]="--set rollout_burnin=4"
)
for name in "${!VARIANTS[@]}"; do
  if [ ! -f "$WORK/$name/00000-lowres-small/checkpoint.pt" ]; then
    # shellcheck disable=SC2086
    tgan-aug train lowres --data "$DATA" --preset small -o "$WORK/$name" --seed 0 --max-steps 300 --device cpu \
      --quiet --set data_scale=1.0 --set deepsea_invert=true --set sample_every=100 --set log_every=50 ${VARIANTS[$name]}
  fi
  echo -n "$name "
  python "$HERE/rollout_eval.py" "$WORK/$name/00000-lowres-small/checkpoint.pt" psc
done
