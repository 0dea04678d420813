#!/usr/bin/env bash
# The short CIFAR-10 experiment of plugins/nmhebb/README.md: resnet18 trained by nmhebb and by the
# baseline with the same budget (the first TRAIN_IMAGES training images, EPOCHS epochs of batch BATCH;
# nmhebb spends them as EPOCHS - 1 epochs of phase 1 + 1 epoch of phase 2), both with their default
# recipes, then top-1 and NMI on the first TEST_IMAGES test images with the shared evaluation.
#
#   bash scripts/nmhebb_short_experiment.sh [OUT_DIR] [TRAIN_IMAGES] [TEST_IMAGES] [BATCH] [EPOCHS]
#
# The two trainings run in parallel, one thread each. Re-running resumes an interrupted training
# (a finished one returns at once) and skips evaluations whose JSON exists.
set -euo pipefail
OUT=${1:-runs/nmhebb_exp}
TRAIN=${2:-10000}
TEST=${3:-10000}
BATCH=${4:-128}
EPOCHS=${5:-3}
DATA=${NEUROZOO_DATA:-../shared/data}
NZ=${NEUROZOO:-.venv/bin/neurozoo}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT"

train() {  # METHOD RUN_DIR [recipe arguments...]
  local method=$1 run=$2
  shift 2
  if [ -d "$run" ]; then
    "$NZ" train "$method" --arch resnet18 --dataset cifar10 --resume "$run" --data-dir "$DATA"
  else
    "$NZ" train "$method" --arch resnet18 --dataset cifar10 --batch-size "$BATCH" --limit "$TRAIN" \
      --eval-limit 0 --data-dir "$DATA" --out "$run" "$@"
  fi
}

started=$(date +%s)
train baseline "$OUT/baseline" --epochs "$EPOCHS" > "$OUT/baseline.log" 2>&1 &
train nmhebb "$OUT/nmhebb" --epochs $((EPOCHS - 1)) --set phase2_epochs=1 > "$OUT/nmhebb.log" 2>&1 &
wait
trained=$(date +%s)
for run in baseline nmhebb; do
  [ -f "$OUT/$run.eval.json" ] || "$NZ" eval "$OUT/$run" --metrics top1,nmi --limit "$TEST" --data-dir "$DATA" \
    --json "$OUT/$run.eval.json" > "$OUT/$run.eval.log" 2>&1 &
done
wait
echo "training $((trained - started)) s, total $(($(date +%s) - started)) s"
for run in baseline nmhebb; do
  python3 -c "import json, sys; m = json.load(open(sys.argv[1]))['metrics']; \
print(sys.argv[2], 'top1', m['top1']['top1'], 'nmi', round(m['nmi']['nmi'], 4))" "$OUT/$run.eval.json" "$run"
done
