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
