#!/usr/bin/env bash
# Issue 22: resnet18 on CIFAR-10 at one budget, three arms, then the shared evaluation and the ONNX export.
#
#   A  baseline-resnet18-cifar10   plain cross-entropy (the baseline plugin's recipe)
#   B  nmhebb-resnet18-cifar10     NM-Hebb with its defaults: phase 1 (Hebbian) + phase 2 (pairs) = EPOCHS
#   C  control                     NM-Hebb's schedule with both NM-Hebb weights at 0 (lambda_hebb, lambda_pair)
#
# Same architecture, seed (so the same initial weights, data order, augmentation and validation split),
# batch 128, epochs, learning-rate schedule and weight selection in every arm. Each arm trains into
# RUNS/<arm folder>, resumed when the folder exists (stop the script any time, rerun it to go on; a
# finished run returns at once). Its checkpoint to publish is RUNS/<arm folder>/published: the weights as
# float16 when that moves the clean top-1 on the whole test split by at most 0.1 pp (`neurozoo half`), else
# float32, with the run's run.json and metrics.jsonl. That checkpoint is evaluated on the test set into
# published/eval.json (+ plots/), exported beside its weights (model.onnx, model.int8.onnx) and the int8
# graph's top-1 written to published/eval_int8.json. A step is redone only when its input is newer than it.
# C is not published: its evaluation (with its run.json and metrics.jsonl) is copied beside B's checkpoint
# into B's published/controls/C-control/, where B's card shows it as a column (neurozoo.cards).
#
#   bash scripts/zoo/nmhebb_resnet18_cifar10.sh [train|half|eval|export|all]     (default all)
#
# Environment: RUNS (default ~/neurozoo-runs/nmhebb-zoo), DATA (default ../shared/data), ARMS (default
# "A B C"; e.g. ARMS="B C" while A trains elsewhere: never run one arm in two processes), EPOCHS (15),
# PRECISION (fp32 or bf16, default fp32; every arm of one comparison must use the same): bf16 is the
# engine's policy, bf16 autocast with resnet18's stem conv in float32, ~2.5x faster than fp32 on CPUs with
# bf16 units (AVX-512 bf16 / AMX); on CPUs without them (the Zen 3 hosts seen here) it is ~10x slower,
# SELECT (best or last, default best: the published weights are those of the best validation epoch; with
# best, NM-Hebb's can come from before phase 2 if an earlier epoch validates better, which its
# metrics.jsonl shows), LIMIT (train on the first N training images; default all), EVAL_LIMIT (first N
# test images of the evaluation; default all), HELD_OUT (test images of the export's int8 accuracy gate;
# default the export's: all),
# RECIPE_OPTIONS (`neurozoo train` options added to every arm, after the ones above so a repeated option
# wins, e.g. "--lr 0.2": the recipe chosen by scripts/zoo/baseline_recipe_search.sh; default none; train
# into a new RUNS with it, as a stopped run resumes only with the settings it started with),
# DEVICE (cpu or cuda, default cpu: training and evaluation; on a CUDA GPU also EPOCHS for the paper's budget),
# NZ (the neurozoo command, default .venv/bin/neurozoo: run from the repository root), OMP_NUM_THREADS (default 1).
# A quick end-to-end check: EPOCHS=1 LIMIT=512 EVAL_LIMIT=64 HELD_OUT=64 RUNS=/tmp/nmhebb-zoo-check bash scripts/zoo/...
# model.int8.onnx is written only if it loses at most 1 pp of top-1 against fp32 on the held-out images; a
# refusal is reported and the script goes on (model.onnx is there); no model.onnx at all stops it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUNS=${RUNS:-$HOME/neurozoo-runs/nmhebb-zoo}
DATA=${DATA:-../shared/data}
ARMS=${ARMS:-"A B C"}
EPOCHS=${EPOCHS:-15}
PRECISION=${PRECISION:-fp32}
SELECT=${SELECT:-best}
LIMIT=${LIMIT:-}
DEVICE=${DEVICE:-cpu}
EVAL_LIMIT=${EVAL_LIMIT:-}
read -r -a NZ <<< "${NZ:-.venv/bin/neurozoo}"
STAGE=${1:-all}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$RUNS"

COMMON=(--arch resnet18 --dataset cifar10 --epochs "$EPOCHS" --batch-size 128 --seed 0 --val-fraction 0.1
        --select "$SELECT" --precision "$PRECISION" --eval-limit 0 --data-dir "$DATA" --device "$DEVICE")
if [ -n "$LIMIT" ]; then COMMON+=(--limit "$LIMIT"); fi
if [ -n "${RECIPE_OPTIONS:-}" ]; then read -r -a extra <<< "$RECIPE_OPTIONS"; COMMON+=("${extra[@]}"); fi
EVAL_OPTS=(--dataset cifar10 --data-dir "$DATA" --device "$DEVICE")
EXPORT_OPTS=(--int8 --data-dir "$DATA")
if [ -n "$EVAL_LIMIT" ]; then EVAL_OPTS+=(--limit "$EVAL_LIMIT"); fi
if [ -n "${HELD_OUT:-}" ]; then EXPORT_OPTS+=(--held-out "$HELD_OUT"); fi
# top-1, NMI, ECE, misclassification AUROC, Gaussian noise + the corruption suite, APGD-CE at Linf 2/255
# only, on the first 1,000 test images
METRICS=top1,nmi,ece,misclassification_auroc,corruption,apgd_ce
ATTACK=(--set 'apgd_ce.linf_eps=[0.00784313725490196]' --set 'apgd_ce.l2_eps=[]' --set apgd_ce.max_samples=1000)

folder() {
  case $1 in
    A) echo A-baseline ;;
    B) echo B-nmhebb ;;
    C) echo C-control ;;
    *) echo "unknown arm $1 (expected A, B or C)" >&2; return 2 ;;
  esac
}

recipe() {
  case $1 in
    A) echo baseline ;;
    B) echo nmhebb ;;
    C) echo nmhebb --set lambda_hebb=0.0 --set lambda_pair=0.0 ;;
  esac
}

train() {  # ARM
  local run
  run=$RUNS/$(folder "$1")
  read -r -a method <<< "$(recipe "$1")"
  train_once "$run" "${NZ[@]}" train "${method[@]}" "${COMMON[@]}"
}

published() {  # ARM: the folder of the arm's checkpoint to evaluate and publish
  echo "$RUNS/$(folder "$1")/published"
}

halve() {  # ARM
  local run
  run=$RUNS/$(folder "$1")
  half_gated "$run" "$run/published" "${NZ[@]}" half "$run" --dtype float16 --out "$run/published" --data-dir "$DATA"
}

evaluate() {  # ARM
  local run
  run=$(published "$1")
  if [ ! "$run/eval.json" -nt "$run/model.safetensors" ]; then
    "${NZ[@]}" eval "$run" "${EVAL_OPTS[@]}" --metrics "$METRICS" "${ATTACK[@]}" \
      --json "$run/eval.json" --plots "$run/plots"
  fi
}

control_beside_b() {  # C's evaluation beside B's checkpoint, once both are evaluated
  local b c
  b=$(published B)
  c=$(published C)
  if [ -f "$c/eval.json" ] && [ -f "$b/eval.json" ]; then
    mkdir -p "$b/controls/C-control"
    cp "$c/eval.json" "$c/run.json" "$c/metrics.jsonl" "$b/controls/C-control/"
  fi
}

export_onnx() {  # ARM
  local run
  run=$(published "$1")
  export_gated "$run" "${NZ[@]}" export "$run" "${EXPORT_OPTS[@]}" --out "$run"
  int8_evaluated "$run" "${NZ[@]}" eval "$run/model.int8.onnx" "${EVAL_OPTS[@]}" --metrics top1
}

for arm in $ARMS; do folder "$arm" > /dev/null; done  # an unknown arm fails before any work
if [[ $STAGE == train || $STAGE == all ]]; then for arm in $ARMS; do train "$arm"; done; fi
if [[ $STAGE == half || $STAGE == all ]]; then for arm in $ARMS; do halve "$arm"; done; fi
if [[ $STAGE == eval || $STAGE == all ]]; then for arm in $ARMS; do evaluate "$arm"; done; control_beside_b; fi
if [[ $STAGE == export || $STAGE == all ]]; then for arm in $ARMS; do export_onnx "$arm"; done; fi
