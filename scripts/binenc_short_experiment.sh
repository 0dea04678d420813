#!/usr/bin/env bash
# The short CIFAR-10 experiment of plugins/binenc/README.md: ResNet-18 with the paper's SiLU backbone,
# BinEnc (width 4, v3 penalty started at gamma0 = 0.3 so that it acts within the short budget) and NoPen
# (the plain network, plain cross-entropy) with the same recipe and budget; then accuracy, binarity,
# sign-pattern fraction and Mahalanobis misclassification AUROC on the same test images.
#
#   bash scripts/binenc_short_experiment.sh [OUT_DIR] [TRAIN_IMAGES] [EPOCHS] [TEST_IMAGES]
#
# Re-running resumes an unfinished run and skips the evaluations whose results exist.
set -euo pipefail
OUT=${1:-runs/binenc_short}
TRAIN=${2:-10000}
EPOCHS=${3:-3}
TEST=${4:-2000}
DATA=${NEUROZOO_DATA:-../shared/data}
NZ=${NEUROZOO:-.venv/bin/neurozoo}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # a shared CPU: OpenMP threads spinning against each other cost 10x
mkdir -p "$OUT"

for variant in binenc nopen; do
  run="$OUT/$variant"
  options=(--set variant="$variant" --set backbone_act=silu)
  # gamma_rate 1.084: the paper's per-epoch rate as the experiment ran it (the default now compresses
  # the schedule to the run's epochs)
  if [ "$variant" = binenc ]; then options+=(--set gamma0=0.3 --set gamma_rate=1.084); fi
  if [ -f "$run/state/training.pt" ]; then
    "$NZ" train binenc --arch resnet18 --dataset cifar10 --resume "$run" --data-dir "$DATA"
  else
    "$NZ" train binenc --arch resnet18 --dataset cifar10 "${options[@]}" --epochs "$EPOCHS" --limit "$TRAIN" \
      --eval-limit 0 --data-dir "$DATA" --out "$run"
  fi
  if [ ! -f "$OUT/$variant.json" ]; then
    "$NZ" eval "$run" --dataset cifar10 --limit "$TEST" --data-dir "$DATA" \
      --metrics top1,binarity,sign_pattern_fraction,mahalanobis_auroc \
      --set mahalanobis_auroc.train_limit="$TRAIN" --json "$OUT/$variant.json"
  fi
done
