#!/usr/bin/env bash
# Issue 23, the published pair on full CIFAR-10: baseline-vgg16_std-cifar10 (the authors' standard VGG-16)
# and hah-hah_vgg16-cifar10, one recipe for both (the authors': Adam 1e-3, batch 128, crop + flip, no
# weight decay, lr x0.1 at 60 % and 80 % of the epochs; fp32), EPOCHS epochs each (20 here; the authors
# train 100), seed 0, 10 % of the training images held out for validation, the last epoch published.
# Stages, in order:
#   train   each arm into RUNS/<checkpoint name>
#   half    RUNS/<name>/published: the weights as float16 when that moves the clean top-1 on the whole
#           test split by at most 0.1 pp (`neurozoo half`), else float32, with run.json and metrics.jsonl
#   eval    the shared suite on the full test set into published/eval_<piece>.json (plots/ of them all): clean top-1,
#           Gaussian noise sigma 0.05-0.3 (mean of 3 draws) and the corruption suite, APGD-CE and APGD-T at
#           Linf 2/255 and L2 0.25 on the first 1,000 test images, each alone and as AutoAttack's pair
#           (apgd: an image is robust only if it survives both), per-layer sparsity, disparity and SNR
#   export  ONNX beside the published weights, fp32 and int8 (int8 is written only if it passes the
#           export's accuracy gate; whether the hard top-k cut survives int8 is what the gate measures),
#           and the int8 graph's top-1 into published/eval_int8.json
#
#   RUNS=~/neurozoo-runs/hah-full DATA=../shared/data bash scripts/zoo/hah_vgg16_cifar10.sh [train|half|eval|export|all]
#
# Resumable: rerun after a stop; a finished step is skipped (redone when its input is newer). Tiny check:
#   EPOCHS=1 LIMIT=512 EVAL_LIMIT=256 ATTACK_SAMPLES=16 HELD_OUT=256 RUNS=/tmp/hah-full-check bash scripts/zoo/hah_vgg16_cifar10.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUNS=${RUNS:-$HOME/neurozoo-runs/hah-full}
DATA=${DATA:-../shared/data}
PY=${PY:-python}
DEVICE=${DEVICE:-cpu}
SEED=${SEED:-0}
EPOCHS=${EPOCHS:-20}
LIMIT=${LIMIT:-}                    # empty: all 50,000 training images (45,000 trained on, 5,000 validation)
VAL_FRACTION=${VAL_FRACTION:-0.1}  # training images held out and scored after each epoch (the test set is
                                   # never looked at during training; the last epoch is published)
EVAL_LIMIT=${EVAL_LIMIT:-}          # empty: the full test set
HELD_OUT=${HELD_OUT:-}              # test images of the export's int8 accuracy check (empty: its default)
ATTACK_SAMPLES=${ATTACK_SAMPLES:-1000}
ARMS=${ARMS:-"vgg16_std hah"}
STAGE=${1:-all}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mkdir -p "$RUNS"

MILESTONES=$(printf '%s\n' $((EPOCHS * 3 / 5)) $((EPOCHS * 4 / 5)) | awk '$1 > 0' | paste -sd, -)
RECIPE=(--epochs "$EPOCHS" --lr 1e-3 --set optimizer=adam --set weight_decay=0.0 --set label_smoothing=0.0
        --set schedule=step --set "milestones=[$MILESTONES]" --batch-size 128 --precision fp32 --seed "$SEED"
        --val-fraction "$VAL_FRACTION" --select last --eval-limit 0 --device "$DEVICE" ${LIMIT:+--limit "$LIMIT"})

run_of() {  # the run folder of an arm, named as the checkpoint it becomes
  case $1 in
    hah) echo "$RUNS/hah-hah_vgg16-cifar10" ;;
    vgg16_std) echo "$RUNS/baseline-vgg16_std-cifar10" ;;
    *) echo "unknown arm $1 (vgg16_std, hah)" >&2; exit 2 ;;
  esac
}

arm_args() {
  case $1 in
    hah) echo "hah --arch hah_vgg16" ;;
    vgg16_std) echo "baseline --arch vgg16_std" ;;
  esac
}

train() {  # train OUT ARGS...: start, or resume an unfinished run, or skip a finished one
  local out=$1; shift
  train_once "$out" $PY -m neurozoo.cli train "$@" --dataset cifar10 --data-dir "$DATA"
}

if [[ $STAGE == train || $STAGE == all ]]; then
  for arm in $ARMS; do
    # shellcheck disable=SC2046  # arm_args is two words on purpose
    train "$(run_of "$arm")" $(arm_args "$arm") "${RECIPE[@]}"
  done
fi

published() {  # ARM: the checkpoint to evaluate and publish
  echo "$(run_of "$1")/published"
}

if [[ $STAGE == half || $STAGE == all ]]; then
  for arm in $ARMS; do
    run=$(run_of "$arm")
    half_gated "$run" "$run/published" $PY -m neurozoo.cli half "$run" --dtype float16 --out "$run/published" \
      --data-dir "$DATA"
  done
fi

if [[ $STAGE == eval || $STAGE == all ]]; then
  for arm in $ARMS; do
    run=$(published "$arm")
    evaluate=($PY -m neurozoo.cli eval "$run" --dataset cifar10 --data-dir "$DATA" --device "$DEVICE"
              ${EVAL_LIMIT:+--limit "$EVAL_LIMIT"})
    # in pieces (HaH's took ~2.5 h in all on two threads; a stop loses one piece only): the clean and noise
    # figures first (the zoo table's), the attacks, the corruption suite (the longest) last
    eval_piece "$run" layers "${evaluate[@]}" --metrics top1,hah_sparsity,hah_disparity,hah_snr
    eval_piece "$run" noise "${evaluate[@]}" --metrics corruption --set corruption.draws=3 \
      --set 'corruption.corruptions=[]'
    for attack in apgd_ce apgd_t apgd; do
      eval_piece "$run" "$attack" "${evaluate[@]}" --metrics "$attack" \
        --set "$attack.linf_eps=[0.00784313725490196]" --set "$attack.l2_eps=[0.25]" \
        --set "$attack.max_samples=$ATTACK_SAMPLES"
    done
    eval_piece "$run" corruptions "${evaluate[@]}" --metrics corruption --set corruption.draws=3 \
      --set 'corruption.noise_sigmas=[]'
    $PY "$(dirname "${BASH_SOURCE[0]}")/plot_pieces.py" "$run"  # every piece's curves in plots/
  done
fi

if [[ $STAGE == export || $STAGE == all ]]; then
  for arm in $ARMS; do
    run=$(published "$arm")
    export_gated "$run" $PY -m neurozoo.cli export "$run" --int8 --out "$run" --data-dir "$DATA" \
      ${HELD_OUT:+--held-out "$HELD_OUT"}
    int8_evaluated "$run" $PY -m neurozoo.cli eval "$run/model.int8.onnx" --dataset cifar10 --data-dir "$DATA" \
      --device cpu ${EVAL_LIMIT:+--limit "$EVAL_LIMIT"} --metrics top1
  done
fi
