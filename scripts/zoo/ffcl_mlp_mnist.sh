#!/usr/bin/env bash
# Issue 19: FFCL at the paper's budget (784-64-64-10 twins, Adam 1e-4, 30 epochs of full MNIST, batch 128,
# fp32, no augmentation), its backprop twin (the same 784-64-64-10 MLP trained end to end with the same
# optimiser, epochs and data) and neurozoo's anti-collapse variant, three seeds each, then the full
# test-set evaluation of every run. Resumable: rerun the script after a stop; finished runs are skipped.
#
#   RUNS=~/neurozoo-runs/ffcl DATA=../shared/data bash scripts/zoo/ffcl_mlp_mnist.sh [study|train|eval|all]
#
# "study" picks the variant's weights on a validation split of the training set (never the test set).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUNS=${RUNS:-$HOME/neurozoo-runs/ffcl}
DATA=${DATA:-../shared/data}
PY=${PY:-python}
SEEDS=${SEEDS:-"0 1 2"}
ARMS=${ARMS:-"ffcl backprop ffcl_spread"}  # several invocations with different SEEDS/ARMS may run at once
STAGE=${1:-all}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$RUNS"

# The backprop twin: baseline CE on the plain `mlp` with FFCL's widths, optimiser, schedule, data and precision.
BACKPROP=(baseline --arch mlp --arch-set "hidden=[64,64]" --lr 1e-4 --set optimizer=adam --set schedule=constant
          --set weight_decay=0.0 --set label_smoothing=0.0 --precision fp32 --no-augment)
# neurozoo's variant: VICReg variance + covariance terms on every hidden code, weights = the best val_top1
# of the study below (10 epochs, seed 0: 0.340 plain, 0.736 at 0.1/0.004, 0.769 at 1/0.04, 0.780 at 10/0.4).
SPREAD=(--set variance_weight=10.0 --set covariance_weight=0.4)

train() {  # train OUT ARGS...: start, or resume an unfinished run, or skip a finished one
  local out=$RUNS/$1; shift
  train_once "$out" $PY -m neurozoo.cli train "$@" --dataset mnist --data-dir "$DATA"
}

if [[ $STAGE == study || $STAGE == all ]]; then
  # 10 epochs, seed 0, 10 % of the training images held out; compare val_top1 in metrics.jsonl
  for weights in "0.0 0.0" "0.1 0.004" "1.0 0.04" "10.0 0.4"; do
    set -- $weights
    train "study/var$1-cov$2" ffcl --arch ffcl_mlp --epochs 10 --val-fraction 0.1 --eval-limit 0 \
      --set variance_weight=$1 --set covariance_weight=$2
  done
fi

if [[ $STAGE == train || $STAGE == all ]]; then
  for seed in $SEEDS; do
    for arm in $ARMS; do
      case $arm in
        ffcl) train "ffcl/seed$seed" ffcl --arch ffcl_mlp --seed "$seed" ;;
        backprop) train "backprop/seed$seed" "${BACKPROP[@]}" --seed "$seed" ;;
        ffcl_spread) train "ffcl_spread/seed$seed" ffcl --arch ffcl_mlp --seed "$seed" "${SPREAD[@]}" ;;
      esac
    done
  done
fi

if [[ $STAGE == eval || $STAGE == all ]]; then
  for arm in $ARMS; do
    for seed in $SEEDS; do
      run=$RUNS/$arm/seed$seed
      [ -f "$run/eval.json" ] || $PY -m neurozoo.cli eval "$run" --dataset mnist --data-dir "$DATA" \
        --metrics top1,nmi,ece --json "$run/eval.json"
    done
  done
fi
