#!/usr/bin/env bash
# The small-slice study of plugins/nmhebb/README.md: how phase 2 starts (continue vs warm-up) and whether the
# pair loss moves the embedding (NM-Hebb vs its control, new vs old pair loss), on resnet18 / CIFAR-10 at a
# tiny budget. Not a measurement of NM-Hebb's accuracy: see scripts/zoo/nmhebb_resnet18_cifar10.sh for that.
#
#   bash scripts/nmhebb_small_slice_study.sh [OUT_DIR]        (default ~/neurozoo-runs/nmhebb-study)
#
# Every arm: the first LIMIT (1,280) training images, 20 % of them held out as the validation split, EPOCHS
# (5) epochs of batch 128 in fp32 (NM-Hebb: 4 of phase 1 + 1 of phase 2), seed 0; probe_nmi on the first
# 256 training images every epoch; then top-1 and NMI on the first 1,000 test images. Two trainings run at
# a time, one thread each. Rerunning resumes unfinished runs and skips evaluations that exist.
set -euo pipefail
OUT=${1:-$HOME/neurozoo-runs/nmhebb-study}
LIMIT=${LIMIT:-1280}
EPOCHS=${EPOCHS:-5}
DATA=${DATA:-../shared/data}
NZ=${NZ:-.venv/bin/neurozoo}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT"
COMMON=(--arch resnet18 --dataset cifar10 --epochs "$EPOCHS" --limit "$LIMIT" --val-fraction 0.2 --batch-size 128
        --seed 0 --precision fp32 --eval-limit 0 --data-dir "$DATA" --set probe_samples=256)

train() {  # NAME [--set ...]: NM-Hebb with these options
  local run=$OUT/$1
  shift
  if [ -f "$run/run.json" ]; then
    "$NZ" train nmhebb "${COMMON[@]}" "$@" --resume "$run"
  else
    "$NZ" train nmhebb "${COMMON[@]}" "$@" --out "$run"
  fi > "$run.log" 2>&1
}

train control --set lambda_hebb=0.0 --set lambda_pair=0.0 &
train nmhebb &
wait
train old_pair_loss --set embedding_head=l2 --set pair_weighting=uniform &
train warmup --set phase2_start=warmup &
wait
for run in control nmhebb old_pair_loss warmup; do
  [ -f "$OUT/$run.eval.json" ] || "$NZ" eval "$OUT/$run" --metrics top1,nmi --limit 1000 --data-dir "$DATA" \
    --json "$OUT/$run.eval.json" > "$OUT/$run.eval.log" 2>&1
done
for run in control nmhebb old_pair_loss warmup; do
  python3 - "$OUT" "$run" <<'EOF'
import json, sys
out, run = sys.argv[1:]
log = [json.loads(line) for line in open(f"{out}/{run}/metrics.jsonl")]
metrics = json.load(open(f"{out}/{run}.eval.json"))["metrics"]
print(f"{run:14s} test top1 {metrics['top1']['top1']:.3f} nmi {metrics['nmi']['nmi']:.3f} | per epoch: "
      + "  ".join(f"{r['phase'][0]} val {r['val_top1']:.3f} probe_nmi {r['probe_nmi']:.3f} lr {r['lr']:.4f}"
                  + (f" pair {r['train_pair']:.3f}" if "train_pair" in r else "") for r in log))
EOF
done
