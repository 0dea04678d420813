"""``neurozoo export`` (torch side) and ``neurozoo predict`` (edge runtime, no torch).

    neurozoo export NAME_OR_RUN_OR_FOLDER [--int8 [--max-int8-drop PP]] [--opset N] [--out DIR] [--data-dir DIR]
    neurozoo predict MODEL.onnx IMAGE... [--top-k K] [--no-resize]

Both import their heavy modules inside the handler, so building the parser stays cheap and
``neurozoo predict`` never imports torch.
"""

from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="export a checkpoint to ONNX (fp32, optionally int8), validated against torch",
        description="Write model.onnx (and with --int8 model.int8.onnx) in --out or the current directory.",
    )
    p.add_argument("model", metavar="NAME_OR_RUN_OR_FOLDER",
                   help="registered name, checkpoint or run folder, or hf-hub:ORG/NAME")
    p.add_argument("--int8", action="store_true",
                   help="also write model.int8.onnx (static QDQ, per-channel weights, else per-tensor), calibrated "
                        "on train images, if its held-out accuracy passes --max-int8-drop")
    p.add_argument("--max-int8-drop", type=float, default=1.0, metavar="PP",
                   help="largest int8 accuracy drop below fp32 on the held-out images, in percentage points "
                        "(default 1.0); above it model.int8.onnx is not written")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's)")
    p.add_argument("--out", help="output folder (default: the current directory)")
    p.add_argument("--data-dir", help="dataset folder for calibration and held-out images (default: $NEUROZOO_DATA)")
    p.add_argument("--calibration-size", type=int, default=256, help="train images for int8 calibration")
    p.add_argument("--held-out", type=int, default=None,
                   help="test images for the int8 accuracy gate (default: the whole test split)")
    p.set_defaults(func=run_export)

    p = subparsers.add_parser(
        "predict", help="classify image files with an exported ONNX model (no torch needed)",
        description="Print the top-k labels of each image, using the labels and input size stored in the model.",
    )
    p.add_argument("onnx_model", metavar="MODEL.onnx")
    p.add_argument("images", metavar="IMAGE", nargs="+",
                   help="image files; one that cannot be read is reported and the others are still predicted")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--no-resize", dest="allow_resize", action="store_false",
                   help="refuse images whose size differs from the model's input size")
    p.set_defaults(func=run_predict)


def run_export(args) -> int:
    from neurozoo.export import export_onnx
    from neurozoo.outputs import writable_folder

    writable_folder(args.out or ".", "the export folder", "make it writable or give another with --out DIR")
    report = export_onnx(
        args.model, args.out, int8=args.int8, opset=args.opset, data_dir=args.data_dir,
        calibration_size=args.calibration_size, held_out_size=args.held_out, max_int8_drop_pp=args.max_int8_drop,
    )
    print(report.summary())
    return 0


def run_predict(args) -> int:
    """Every image is tried: a bad one is reported on stderr, and the exit status is 2 if any was."""
    import sys

    from neurozoo.errors import ConfigError
    from neurozoo.runtime import OnnxClassifier

    if args.top_k < 1:
        raise ConfigError(f"--top-k must be >= 1, got {args.top_k}")
    classifier = OnnxClassifier(args.onnx_model, allow_resize=args.allow_resize)
    failed = 0
    for path in args.images:
        try:
            prediction = classifier.predict_file(path, top_k=args.top_k)
        # unreadable files: missing, a folder, no permission (OSError); not an image, truncated or
        # damaged data (Pillow raises OSError, SyntaxError or EOFError); an image the model refuses (ValueError)
        except (OSError, SyntaxError, EOFError, ValueError) as exc:
            failed += 1
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            print(f"neurozoo predict: error: {path}: {reason}", file=sys.stderr)
            continue
        print(path)
        for label, probability in zip(prediction.labels, prediction.probabilities):
            print(f"  {probability:7.4f}  {label}")
    if failed:
        print(f"neurozoo predict: {failed} of {len(args.images)} images could not be predicted", file=sys.stderr)
        return 2
    return 0
