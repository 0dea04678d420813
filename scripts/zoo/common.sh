# Shared by the zoo scripts (sourced, not run).

# export_gated RUN COMMAND...: run COMMAND, a `neurozoo export RUN --int8 ... --out RUN` command line, unless
# RUN's model.onnx is newer than its weights (exported already). The int8 gate may refuse model.int8.onnx
# (a one-line error, exit 2) after writing model.onnx: that is reported and the script goes on; no
# model.onnx at all fails.
export_gated() {
  local run=$1
  shift
  if [ "$run/model.onnx" -nt "$run/model.safetensors" ]; then return 0; fi
  "$@" || { [ "$run/model.onnx" -nt "$run/model.safetensors" ] &&
            echo "$run: fp32 ONNX only, int8 refused by the export's accuracy gate (above)"; }
}

# half_gated RUN OUT COMMAND...: make OUT the checkpoint to evaluate and publish: COMMAND, a `neurozoo half
# RUN --out OUT ...` command line, writes RUN's weights as float16 there when that changes the clean top-1 by
# at most 0.1 pp; when the gate refuses (reported, one line) OUT gets RUN's float32 files instead. RUN's
# run.json and metrics.jsonl go beside them (the card's recipe and curves). Skipped when OUT's config.json is
# newer than RUN's weights.
half_gated() {
  local run=$1 out=$2
  shift 2
  if [ "$out/config.json" -nt "$run/model.safetensors" ]; then return 0; fi
  rm -rf "$out"
  if ! "$@"; then
    echo "$run: float32 weights kept (above: the float16 copy's accuracy gate, or an error)"
    mkdir -p "$out"
    cp "$run/model.safetensors" "$run/config.json" "$out/"
  fi
  cp "$run/run.json" "$run/metrics.jsonl" "$out/"
}

# train_once OUT COMMAND...: COMMAND, a `neurozoo train ...` command line without --out/--resume, trains
# into OUT: started with --out OUT, or continued with --resume OUT when OUT holds a stopped run (the engine
# refuses a resume whose settings differ from the run's). OUT/.done marks a finished run, which is then
# skipped without loading anything. A failed or stopped training leaves no mark and returns its status.
train_once() {
  local out=$1
  shift
  if [ -f "$out/.done" ]; then return 0; fi
  if [ -f "$out/run.json" ]; then "$@" --resume "$out" || return; else "$@" --out "$out" || return; fi
  touch "$out/.done"
}

# eval_piece RUN PIECE COMMAND...: COMMAND, a `neurozoo eval RUN ...` command line without --json, writes
# RUN/eval_PIECE.json unless that file is newer than RUN's weights. A long evaluation split into pieces
# (one file each; cards and records read every eval*.json of a folder) loses at most the piece under way
# when it is stopped, instead of everything before it.
eval_piece() {
  local run=$1 piece=$2
  shift 2
  if [ "$run/eval_$piece.json" -nt "$run/model.safetensors" ]; then return 0; fi
  "$@" --json "$run/eval_$piece.json"
}

# int8_evaluated RUN COMMAND...: COMMAND, a `neurozoo eval RUN/model.int8.onnx ...` command line without
# --json, writes the int8 graph's figures to RUN/eval_int8.json (the card's int8 section, the record's
# int8_metrics) when the export wrote model.int8.onnx (its gate may refuse it) after the last such figures.
int8_evaluated() {
  local run=$1
  shift
  if [ -f "$run/model.int8.onnx" ] && [ ! "$run/eval_int8.json" -nt "$run/model.int8.onnx" ]; then
    "$@" --json "$run/eval_int8.json"
  fi
}

# publish_folder RUN OUT: OUT (emptied first) gets what a model_cards/NAME folder holds of RUN: its weights,
# config.json, run.json, metrics.jsonl and every evaluation JSON (eval*.json), with plots/ when there is one;
# no training state and no ONNX file (kept out of the repository; `neurozoo export NAME` remakes them).
publish_folder() {
  local run=$1 out=$2
  rm -rf "$out"
  mkdir -p "$out"
  cp "$run"/{model.safetensors,config.json,run.json,metrics.jsonl} "$run"/eval*.json "$out/"
  if [ -d "$run/plots" ]; then cp -r "$run/plots" "$out/"; fi
}
