#!/usr/bin/env bash
# The MNIST experiment of plugins/ffcl/README.md: the FFCL twins (method ffcl, its default recipe: Adam
# lr 1e-4, 30 epochs) and the same twin module tree trained end to end by backprop (method baseline, its
# default recipe, 30 epochs), full MNIST; then top-1, NMI and ECE on the full test set.
#
#   bash scripts/ffcl_mnist_experiment.sh [OUT_DIR]
#
# Re-running resumes an unfinished run and skips the evaluations whose results exist.
set -euo pipefail
OUT=${1:-runs}
DATA=${NEUROZOO_DATA:-../shared/data}
NZ=${NEUROZOO:-.venv/bin/neurozoo}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # a shared CPU: OpenMP threads spinning against each other cost 10x

for method in ffcl baseline; do
  run="$OUT/$method-ffcl_mlp-mnist"
  if [ -f "$run/state/training.pt" ]; then
    "$NZ" train "$method" --arch ffcl_mlp --dataset mnist --resume "$run" --data-dir "$DATA"
  else
    "$NZ" train "$method" --arch ffcl_mlp --dataset mnist --out "$run" --data-dir "$DATA"
  fi
  if [ ! -f "$run/eval.json" ]; then
    "$NZ" eval "$run" --dataset mnist --data-dir "$DATA" --metrics top1,nmi,ece --json "$run/eval.json"
  fi
done
