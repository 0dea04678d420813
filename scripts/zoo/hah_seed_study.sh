#!/usr/bin/env bash
# Issue 23, multi-seed evidence at a small budget: HaH-VGG16 vs the authors' standard VGG-16 (vgg16_std)
# and torchvision's VGG-16-BN (vgg16), 3 seeds each, on the first 10,000 CIFAR-10 training images with
# 10 % held out for validation, the HaH recipe for every arm (Adam 1e-3, batch 128, crop + flip, no
# weight decay, lr x0.1 at 60 % and 80 % of the epochs, fp32). Every run is then evaluated on the full
# test set, clean and under Gaussian noise sigma 0.1 (the mean of 3 draws), and the runs are aggregated
# into mean +- std with the per-seed numbers. Resumable: rerun after a stop; finished steps are skipped.
#
#   RUNS=~/neurozoo-runs/hah-seeds DATA=../shared/data bash scripts/zoo/hah_seed_study.sh [train|eval|report|all]
#
# Tiny end-to-end check: EPOCHS=1 LIMIT=512 EVAL_LIMIT=256 SEEDS=0 RUNS=/tmp/hah-check bash scripts/zoo/hah_seed_study.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/common.sh"
RUNS=${RUNS:-$HOME/neurozoo-runs/hah-seeds}
DATA=${DATA:-../shared/data}
PY=${PY:-python}
DEVICE=${DEVICE:-cpu}
SEEDS=${SEEDS:-"0 1 2"}
ARMS=${ARMS:-"hah vgg16_std vgg16"}  # several invocations with different SEEDS/ARMS may run at once
EPOCHS=${EPOCHS:-10}               # 10: the drops fall exactly at 60 % and 80 % (epochs 6 and 8)
LIMIT=${LIMIT:-10000}              # training slice, validation split included
VAL_FRACTION=${VAL_FRACTION:-0.1}
EVAL_LIMIT=${EVAL_LIMIT:-}         # empty: the full test set
DRAWS=${DRAWS:-3}
OUT=${OUT:-$RUNS/seed_study.json}
STAGE=${1:-all}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$RUNS"

# lr x0.1 after 3/5 and 4/5 of the epochs, rounded down as the authors do (none at epoch 0)
MILESTONES=$(printf '%s\n' $((EPOCHS * 3 / 5)) $((EPOCHS * 4 / 5)) | awk '$1 > 0' | paste -sd, -)
RECIPE=(--epochs "$EPOCHS" --lr 1e-3 --set optimizer=adam --set weight_decay=0.0 --set label_smoothing=0.0
        --set schedule=step --set "milestones=[$MILESTONES]" --batch-size 128 --precision fp32
        --limit "$LIMIT" --val-fraction "$VAL_FRACTION" --eval-limit 0 --device "$DEVICE")

arm_args() {  # the method and architecture of an arm
  case $1 in
    hah) echo "hah --arch hah_vgg16" ;;
    vgg16_std) echo "baseline --arch vgg16_std" ;;
    vgg16) echo "baseline --arch vgg16" ;;
    *) echo "unknown arm $1 (hah, vgg16_std, vgg16)" >&2; exit 2 ;;
  esac
}

train() {  # train OUT ARGS...: start, or resume an unfinished run, or skip a finished one
  local out=$1; shift
  train_once "$out" $PY -m neurozoo.cli train "$@" --dataset cifar10 --data-dir "$DATA"
}

if [[ $STAGE == train || $STAGE == all ]]; then
  for seed in $SEEDS; do
    for arm in $ARMS; do
      # shellcheck disable=SC2046  # arm_args is two words on purpose
      train "$RUNS/$arm/seed$seed" $(arm_args "$arm") "${RECIPE[@]}" --seed "$seed"
    done
  done
fi

if [[ $STAGE == eval || $STAGE == all ]]; then
  for seed in $SEEDS; do
    for arm in $ARMS; do
      run=$RUNS/$arm/seed$seed
      [ -f "$run/eval.json" ] || $PY -m neurozoo.cli eval "$run" --dataset cifar10 --data-dir "$DATA" \
        --device "$DEVICE" ${EVAL_LIMIT:+--limit "$EVAL_LIMIT"} --metrics top1,corruption \
        --set 'corruption.noise_sigmas=[0.1]' --set 'corruption.corruptions=[]' --set "corruption.draws=$DRAWS" \
        --json "$run/eval.json"
    done
  done
fi

if [[ $STAGE == report || $STAGE == all ]]; then
  arms=()
  for arm in $ARMS; do
    runs=$(for seed in $SEEDS; do printf '%s,' "$RUNS/$arm/seed$seed"; done)
    arms+=(--arm "$arm=${runs%,}")
  done
  $PY "$HERE/seed_study.py" aggregate "${arms[@]}" --json "$OUT" --note "issue 23 seed study: $EPOCHS epochs on \
the first $LIMIT CIFAR-10 training images ($VAL_FRACTION held out for validation), HaH recipe for every arm \
(Adam 1e-3, batch 128, crop + flip, lr x0.1 at epochs [$MILESTONES], fp32); evaluated on \
${EVAL_LIMIT:-all 10000} test images, noise sigma 0.1 as the mean of $DRAWS draws"
fi
