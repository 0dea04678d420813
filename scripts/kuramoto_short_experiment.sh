#!/usr/bin/env bash
# The kuramoto plugin's short real experiment (plugins/kuramoto/README.md): KomplexNet, KomplexNet
# with feedback, the random-phase ablation and the real baseline, trained with the same recipe and
# budget on two digits with overlap <= 0.25, then exact-set accuracy clean and under Gaussian noise
# of variance 0.1 (sigma = sqrt(0.1)), per-label F1 and, for the complex nets, synchrony per step.
#
#     nohup scripts/kuramoto_short_experiment.sh > runs/kuramoto/experiment.log 2>&1 &
#
# Resumable: a finished run or evaluation is skipped, an interrupted run is resumed (re-run the script).
# Environment: DATA (dataset root, default ../shared/data), OUT (default runs/kuramoto),
# LIMIT, EPOCHS, BATCH, TIMESTEPS, EVAL_LIMIT (budget; defaults below).
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/kuramoto}
LIMIT=${LIMIT:-10000}
EPOCHS=${EPOCHS:-3}
BATCH=${BATCH:-32}
TIMESTEPS=${TIMESTEPS:-15}
EVAL_LIMIT=${EVAL_LIMIT:-1000}
DATASET=multimnist_o25
NOISE_SIGMA=0.31622776601683794  # variance 0.1
mkdir -p "$OUT"

for arch in realnet komplexnet_random komplexnet komplexnet_fb; do
    run="$OUT/$arch"
    echo "== train $arch ($(date +%T))"
    if [[ -d "$run" ]]; then
        # a finished run returns at once; an interrupted one (even with a checkpoint) goes on
        .venv/bin/neurozoo train kuramoto --arch "$arch" --dataset "$DATASET" --data-dir "$DATA" --resume "$run"
    else
        .venv/bin/neurozoo train kuramoto --arch "$arch" --dataset "$DATASET" --data-dir "$DATA" \
            --epochs "$EPOCHS" --limit "$LIMIT" --batch-size "$BATCH" --eval-limit 0 \
            --set timesteps="$TIMESTEPS" --out "$run"
    fi
    metrics=exact_set,per_label_f1,corruption
    [[ $arch == komplexnet* ]] && metrics+=,synchrony
    if [[ ! -f "$OUT/$arch.eval.json" ]]; then
        echo "== eval $arch ($(date +%T))"
        .venv/bin/neurozoo eval "$run" --dataset "$DATASET" --data-dir "$DATA" --limit "$EVAL_LIMIT" \
            --metrics "$metrics" --set corruption.noise_sigmas="[$NOISE_SIGMA]" --set corruption.corruptions="[]" \
            --json "$OUT/$arch.eval.json"
    fi
done
echo "== done ($(date +%T))"
