#!/usr/bin/env bash
# The short CIFAR-10 experiment of plugins/hah/README.md: HaH-VGG16 (method hah, its recipe) and
# VGG-16 (plain cross-entropy with the same Adam recipe: lr 1e-3, no weight decay, no label
# smoothing, constant lr over this single epoch) with the same small budget; then clean accuracy,
# Gaussian-noise (sigma 0.1, mean of 3 draws) accuracy and early-layer activation statistics on the
# same test images.
#
#   bash scripts/hah_short_experiment.sh [OUT_DIR] [TRAIN_IMAGES] [TEST_IMAGES] [BATCH]
#
# Re-running resumes an unfinished run (a finished one returns at once) and skips the evaluations
# whose results exist.
set -euo pipefail
OUT=${1:-runs/hah_short}
TRAIN=${2:-20000}
TEST=${3:-2000}
BATCH=${4:-64}
DATA=${NEUROZOO_DATA:-../shared/data}
NZ=${NEUROZOO:-.venv/bin/neurozoo}
mkdir -p "$OUT"

for arch in hah_vgg16 vgg16; do
  run="$OUT/$arch"
  if [ "$arch" = hah_vgg16 ]; then
    recipe=(hah)
  else
    recipe=(baseline --lr 1e-3 --set optimizer=adam --set weight_decay=0 --set label_smoothing=0
            --set schedule=constant)
  fi
  if [ -d "$run" ]; then  # a finished run returns at once; an interrupted one goes on
    "$NZ" train "${recipe[0]}" --arch "$arch" --dataset cifar10 --resume "$run" --data-dir "$DATA"
  else
    "$NZ" train "${recipe[@]}" --arch "$arch" --dataset cifar10 --epochs 1 --limit "$TRAIN" --eval-limit 0 \
      --batch-size "$BATCH" --data-dir "$DATA" --out "$run"
  fi
  if [ ! -f "$OUT/$arch.json" ]; then
    "$NZ" eval "$run" --dataset cifar10 --limit "$TEST" --data-dir "$DATA" \
      --metrics top1,corruption,hah_sparsity,hah_disparity,hah_snr \
      --set 'corruption.noise_sigmas=[0.1]' --set 'corruption.corruptions=[]' --set corruption.draws=3 \
      --set hah_sparsity.layers=6 --set hah_disparity.layers=6 --set hah_snr.layers=6 \
      --json "$OUT/$arch.json"
  fi
done
