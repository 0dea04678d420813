#!/usr/bin/env bash
# The kuramoto plugin's experiment (plugins/kuramoto/README.md): the authors' batch size (256),
# data (two digits, their overlap measure <= 0.25), 80/20 train/validation split with the best
# validation epoch kept, fp32, Adam 1e-2 with clipping at 2 (the method's recipe), for every arm in
# ARCHS one after another; then, per arm, the shared evaluation on the whole test set: exact-set
# accuracy clean and under Gaussian noise of variance 0.1 (sigma = sqrt(0.1), clipped), per-label
# F1 and, for the complex nets, the synchrony loss per Kuramoto step.
#
#     OMP_NUM_THREADS=1 nohup scripts/kuramoto_experiment.sh >> OUT/progress.log 2>&1 &
#
# Resumable: re-run the same command. A finished run or evaluation is skipped, an interrupted run
# goes on from its last epoch checkpoint. Per-epoch seconds, losses and validation/test exact-set
# are in OUT/ARCH/metrics.jsonl (epoch_time_s), the evaluations in OUT/ARCH.eval.json.
# Environment: OUT (default ~/neurozoo-runs/kuramoto-readme), DATA (dataset root, default
# $NEUROZOO_DATA or ../shared/data), ARCHS (default "realnet komplexnet_random komplexnet"), EPOCHS
# (default 2), BATCH (256), LIMIT (training images, default all), TIMESTEPS (15), EVAL_LIMIT
# (test images of the per-epoch test and of the evaluations, default all).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-$HOME/neurozoo-runs/kuramoto-readme}
DATA=${DATA:-${NEUROZOO_DATA:-../shared/data}}
ARCHS=${ARCHS:-realnet komplexnet_random komplexnet}
EPOCHS=${EPOCHS:-2}
BATCH=${BATCH:-256}
TIMESTEPS=${TIMESTEPS:-15}
DATASET=multimnist_o25
NOISE_SIGMA=0.31622776601683794  # variance 0.1
LIMIT_ARGS=(); [[ -n ${LIMIT:-} ]] && LIMIT_ARGS=(--limit "$LIMIT")
EVAL_ARGS=(); TEST_ARGS=()
[[ -n ${EVAL_LIMIT:-} ]] && EVAL_ARGS=(--limit "$EVAL_LIMIT") && TEST_ARGS=(--eval-limit "$EVAL_LIMIT")
mkdir -p "$OUT"
echo "== start $(date -Is): $(git rev-parse --short HEAD 2>/dev/null || echo 'no git') ARCHS='$ARCHS' EPOCHS=$EPOCHS BATCH=$BATCH"

for arch in $ARCHS; do
    run="$OUT/$arch"
    echo "== train $arch ($(date -Is))"
    if [[ -f "$run/state/training.pt" ]]; then
        # a finished run returns at once; an interrupted one goes on from its last epoch checkpoint
        # (a run killed in its first epoch has no checkpoint: it starts again below, same folder)
        .venv/bin/neurozoo train kuramoto --arch "$arch" --dataset "$DATASET" --data-dir "$DATA" --resume "$run"
    else
        .venv/bin/neurozoo train kuramoto --arch "$arch" --dataset "$DATASET" --data-dir "$DATA" \
            --epochs "$EPOCHS" --batch-size "$BATCH" --val-fraction 0.2 --select best --precision fp32 \
            --set timesteps="$TIMESTEPS" "${LIMIT_ARGS[@]}" "${TEST_ARGS[@]}" --out "$run"
    fi
    metrics=exact_set,per_label_f1,corruption
    [[ $arch == komplexnet* ]] && metrics+=,synchrony
    if [[ ! -f "$OUT/$arch.eval.json" ]]; then
        echo "== eval $arch ($(date -Is))"
        .venv/bin/neurozoo eval "$run" --dataset "$DATASET" --data-dir "$DATA" "${EVAL_ARGS[@]}" \
            --metrics "$metrics" --set corruption.noise_sigmas="[$NOISE_SIGMA]" --set corruption.corruptions="[]" \
            --json "$OUT/$arch.eval.json"
    fi
done
echo "== done ($(date -Is))"
