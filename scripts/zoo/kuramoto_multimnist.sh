#!/usr/bin/env bash
# Issue 20: the KomplexNet family on two-digit MNIST (the authors' data: multimnist_o25), every arm at
# one recipe and budget, then the evaluations the paper reports, phase maps and the ONNX exports.
#
#   realnet            parameter-matched real-valued net          -> kuramoto-realnet-multimnist_o25
#   komplexnet_random  complex net, phases kept at their random draw (evaluation JSON only)
#   komplexnet         Kuramoto dynamics, T = 15                   -> kuramoto-komplexnet-multimnist_o25
#   komplexnet_fb      the same with top-down feedback             -> kuramoto-komplexnet_fb-multimnist_o25
#   komplexnet_oracle  phases from the ground-truth masks: the upper bound (evaluation JSON only)
#
# Recipe (the authors'): batch 256, Adam 1e-2 with clipping at 2 (the kuramoto method's defaults),
# fp32, seed 0, the 80/20 train/validation split with the best validation epoch published.
# Each arm trains into RUNS/ARCH, resumed when the folder exists (stop any time, rerun to go on; a
# finished run returns at once). Evaluations, each redone only when the weights are newer:
#   RUNS/ARCH/eval.json             multimnist_o25 test set: exact-set, per-label F1, Gaussian noise of
#                                   variance 0.1 (clamped to [0, 1]), synchrony loss and order parameter
#                                   per step (complex nets)
#   RUNS/ARCH/eval_DATASET.json     out of distribution: more overlap (multimnist_o50), three digits
#                                   (multimnist3), digits over CIFAR-10 backgrounds (multimnist_cifar)
#   RUNS/ARCH/phase_maps.png        komplexnet, komplexnet_fb: phase maps of the first test images
#   RUNS/ARCH/model.onnx, model.int8.onnx   realnet, komplexnet, komplexnet_fb (int8 only past its gate)
#   RUNS/ARCH/eval_int8.json        the int8 graph's exact-set and per-label F1 on the test set
# Once every arm is trained and evaluated, `publish` writes RUNS/publish/NAME for the three published
# names, the folder that becomes model_cards/NAME: weights, config, run.json, metrics.jsonl, evaluation
# JSON, and the other arms' evaluation JSON with their run.json in arms/ARCH (beside the KomplexNets,
# realnet is not among them: it stands beside them as their record's baseline).
#
#   bash scripts/zoo/kuramoto_multimnist.sh [train|eval|export|all|publish]     (default all)
#
# Environment: RUNS (default ~/neurozoo-runs/kuramoto-zoo), DATA (default ../shared/data), ARMS (default
# all five, one after another; never run one arm in two processes), EPOCHS (default 10; the authors
# train 30; a finished run of fewer epochs is resumed with EPOCHS and goes on: at the recipe's constant
# learning rate that ends exactly as a run started with EPOCHS, so 10 epochs can become 30 later),
# DEVICE (cpu or cuda, default cpu), LIMIT (first N training images), EVAL_LIMIT (first N test
# images of every evaluation), HELD_OUT (test images of the int8 gate), NZ (default .venv/bin/neurozoo),
# PY (default .venv/bin/python), OMP_NUM_THREADS (default 1). Run from the repository root.
# Cost, one thread, CPU seconds per step of 256: komplexnet 11.3 on a 2-core Zen 3 host (~41 minutes per
# epoch there), 8.35 on a 2-core Intel Xeon (AMX) host; komplexnet_fb 10.62 on the Xeon.
# A quick end-to-end check: EPOCHS=1 LIMIT=1024 EVAL_LIMIT=64 HELD_OUT=64 RUNS=/tmp/kuramoto-zoo-check bash scripts/zoo/...
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUNS=${RUNS:-$HOME/neurozoo-runs/kuramoto-zoo}
DATA=${DATA:-../shared/data}
ALL_ARMS="realnet komplexnet_random komplexnet komplexnet_fb komplexnet_oracle"
PUBLISHED="realnet komplexnet komplexnet_fb"
BASELINE_ARM=realnet  # the KomplexNets' record baseline: beside their cards through the record, not arms/
ARMS=${ARMS:-$ALL_ARMS}  # of the train, eval and export stages
EPOCHS=${EPOCHS:-10}
DEVICE=${DEVICE:-cpu}
read -r -a NZ <<< "${NZ:-.venv/bin/neurozoo}"
PY=${PY:-.venv/bin/python}
STAGE=${1:-all}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$RUNS"

DATASET=multimnist_o25
OOD_DATASETS="multimnist_o50 multimnist3 multimnist_cifar"
NOISE_SIGMA=0.31622776601683794  # variance 0.1
TRAIN=(--dataset "$DATASET" --data-dir "$DATA" --epochs "$EPOCHS" --batch-size 256 --seed 0 --val-fraction 0.2
       --select best --precision fp32 --set timesteps=15 --device "$DEVICE")
if [ -n "${LIMIT:-}" ]; then TRAIN+=(--limit "$LIMIT"); fi
EVAL=(--data-dir "$DATA" --device "$DEVICE")
if [ -n "${EVAL_LIMIT:-}" ]; then EVAL+=(--limit "$EVAL_LIMIT"); TRAIN+=(--eval-limit "$EVAL_LIMIT"); fi
EXPORT=(--int8 --data-dir "$DATA")
if [ -n "${HELD_OUT:-}" ]; then EXPORT+=(--held-out "$HELD_OUT"); fi

check_arm() {
  if [[ " $ALL_ARMS " != *" $1 "* ]]; then
    echo "unknown arm $1 (expected one of: $ALL_ARMS)" >&2
    return 2
  fi
}

train() {  # ARCH: a finished run of fewer epochs than EPOCHS is extended to EPOCHS
  local run=$RUNS/$1
  if [ -f "$run/.done" ] && [ "$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["recipe"]["epochs"])' \
      "$run/run.json")" -lt "$EPOCHS" ]; then
    rm "$run/.done"
  fi
  train_once "$run" "${NZ[@]}" train kuramoto --arch "$1" "${TRAIN[@]}"
}

stale() {  # FILE RUN: FILE is missing or older than RUN's weights
  [ ! "$1" -nt "$2/model.safetensors" ]
}

evaluate() {  # ARCH
  local run=$RUNS/$1 metrics=exact_set,per_label_f1
  local sync=""
  if [[ $1 == komplexnet* ]]; then sync=,synchrony; fi
  if stale "$run/eval.json" "$run"; then
    "${NZ[@]}" eval "$run" --dataset "$DATASET" "${EVAL[@]}" --metrics "$metrics,corruption$sync" \
      --set "corruption.noise_sigmas=[$NOISE_SIGMA]" --set 'corruption.corruptions=[]' --json "$run/eval.json"
  fi
  for dataset in $OOD_DATASETS; do
    if stale "$run/eval_$dataset.json" "$run"; then
      "${NZ[@]}" eval "$run" --dataset "$dataset" "${EVAL[@]}" --metrics "$metrics$sync" --json "$run/eval_$dataset.json"
    fi
  done
  if [[ $1 == komplexnet || $1 == komplexnet_fb ]] && stale "$run/phase_maps.png" "$run"; then
    "$PY" scripts/kuramoto_phase_maps.py "$run" --data-dir "$DATA" --count 4 --out "$run/phase_maps.png"
  fi
}

export_onnx() {  # ARCH: the published arms only (the oracle reads masks, which an ONNX graph has no input for)
  local run=$RUNS/$1
  if [[ " $PUBLISHED " != *" $1 "* ]]; then return 0; fi
  export_gated "$run" "${NZ[@]}" export "$run" "${EXPORT[@]}" --out "$run"
  int8_evaluated "$run" "${NZ[@]}" eval "$run/model.int8.onnx" --dataset "$DATASET" "${EVAL[@]}" \
    --metrics exact_set,per_label_f1
}

check_evaluated() {  # every arm trained and evaluated (its last evaluation newer than its weights)
  local arm
  for arm in $ALL_ARMS; do
    if [ ! -f "$RUNS/$arm/.done" ] || stale "$RUNS/$arm/eval_multimnist_cifar.json" "$RUNS/$arm"; then
      echo "$RUNS/$arm is not trained and evaluated yet: run this script's all stage for it first" >&2
      return 2
    fi
  done
}

publish() {  # ARCH: RUNS/publish/kuramoto-ARCH-DATASET, rewritten from the runs
  local run=$RUNS/$1 out=$RUNS/publish/kuramoto-$1-$DATASET other
  publish_folder "$run" "$out"
  for other in $ALL_ARMS; do
    if [ "$other" = "$1" ] || { [ "$other" = $BASELINE_ARM ] && [ "$1" != $BASELINE_ARM ]; }; then continue; fi
    mkdir -p "$out/arms/$other"
    cp "$RUNS/$other/run.json" "$RUNS/$other/eval.json" "$RUNS/$other"/eval_multimnist*.json "$out/arms/$other/"
  done
  echo "wrote $out"
}

case $STAGE in
  train|eval|export|all|publish) ;;
  *) echo "unknown stage $STAGE (expected train, eval, export, all or publish)" >&2; exit 2 ;;
esac
for arm in $ARMS; do check_arm "$arm"; done  # an unknown arm fails before any work
if [[ $STAGE == train || $STAGE == all ]]; then for arm in $ARMS; do train "$arm"; done; fi
if [[ $STAGE == eval || $STAGE == all ]]; then for arm in $ARMS; do evaluate "$arm"; done; fi
if [[ $STAGE == export || $STAGE == all ]]; then for arm in $ARMS; do export_onnx "$arm"; done; fi
if [[ $STAGE == publish ]]; then check_evaluated; for arm in $PUBLISHED; do publish "$arm"; done; fi
