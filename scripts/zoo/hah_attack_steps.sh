#!/usr/bin/env bash
# Issue 23, how strong is the published pair's attack: AutoAttack's APGD pair (APGD-CE + APGD-T, one restart;
# an image is robust only if it survives both) at Linf 2/255 and L2 0.25 on the first IMAGES test images, at
# the evaluation's 10 steps and at AutoAttack's standard 100, for both arms of scripts/zoo/hah_vgg16_cifar10.sh
# (their published/ folders). A gap between 10 and 100 steps is robustness the 10-step figures overstate.
# One eval JSON per arm and step count in RUNS/attack-steps/ (not eval_piece's published/eval_*.json: these
# figures would clash with the card's 10-step ones), skipped when newer than the weights; then
# OUT (default RUNS/attack-steps/attack_steps.json) gathers them:
#   {"about", "images", "arms": {name: {"steps10": {figure: value}, "steps100": {...}, "seconds": {...}}}}
#
#   RUNS=~/neurozoo-runs/hah-full DATA=../shared/data bash scripts/zoo/hah_attack_steps.sh
# Tiny check: IMAGES=4 STEPS="1 2" RUNS=/tmp/hah-full-check bash scripts/zoo/hah_attack_steps.sh
set -euo pipefail
RUNS=${RUNS:-$HOME/neurozoo-runs/hah-full}
DATA=${DATA:-../shared/data}
PY=${PY:-python}
IMAGES=${IMAGES:-300}   # ~1 h for both arms on two threads (HaH's 100-step pair: 5.7-8.1 s per image measured)
STEPS=${STEPS:-"10 100"}
OUT=${OUT:-$RUNS/attack-steps/attack_steps.json}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
study=$RUNS/attack-steps
mkdir -p "$study"

arms=(baseline-vgg16_std-cifar10 hah-hah_vgg16-cifar10)
for steps in $STEPS; do
  for arm in "${arms[@]}"; do
    run=$RUNS/$arm/published out=$study/$arm-steps$steps.json
    if [ "$out" -nt "$run/model.safetensors" ]; then continue; fi
    $PY -m neurozoo.cli eval "$run" --dataset cifar10 --data-dir "$DATA" --device cpu --limit "$IMAGES" \
      --metrics apgd --set 'apgd.linf_eps=[0.00784313725490196]' --set 'apgd.l2_eps=[0.25]' \
      --set "apgd.max_samples=$IMAGES" --set "apgd.steps=$steps" --json "$out"
  done
done

$PY - "$study" "$OUT" "$IMAGES" "$STEPS" "$OMP_NUM_THREADS" "${arms[@]}" <<'PY'
import json, sys
from pathlib import Path

study, out, images, steps, threads = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(), sys.argv[5]
arms = sys.argv[6:]
gathered = {}
for arm in arms:
    results = {k: json.loads((study / f"{arm}-steps{k}.json").read_text()) for k in steps}
    gathered[arm] = {f"steps{k}": r["metrics"]["apgd"] for k, r in results.items()}
    gathered[arm]["seconds"] = {f"steps{k}": round(r["seconds"]["apgd"]) for k, r in results.items()}
    gathered[arm]["checkpoint_sha256"] = results[steps[0]]["checkpoint_sha256"]
about = (f"scripts/zoo/hah_attack_steps.sh (IMAGES={images}): neurozoo's apgd metric (torchattacks APGD-CE + "
         f"APGD-T, one restart, an image counts as robust only if it survives both) at Linf 2/255 and L2 0.25 "
         f"on the first {images} CIFAR-10 test images, at {' and '.join(steps)} steps ({threads} CPU threads)")
out.write_text(json.dumps({"about": about, "images": images, "arms": gathered}, indent=2) + "\n")
print(f"wrote {out}")
PY
