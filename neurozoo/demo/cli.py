"""``neurozoo demo NAME_OR_ONNX --out DIR [--fp32] [--ort-dir DIR] [--data-dir DIR]``."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    from neurozoo.demo import ort

    p = subparsers.add_parser(
        "demo", help="write a static web page that classifies images in the browser (onnxruntime-web)",
        description=(
            "Write index.html, its JS modules and the model's ONNX file to --out. The page reads labels, "
            "input size and task from the ONNX metadata and runs the model client-side."
        ),
    )
    p.add_argument("model", metavar="NAME_OR_ONNX",
                   help="an exported .onnx file, or a registered name / run or checkpoint folder (exported if needed)")
    p.add_argument("--out", required=True, help="folder to write the site to")
    p.add_argument("--fp32", action="store_true", help="use model.onnx instead of the default model.int8.onnx")
    p.add_argument("--ort-dir", help=(
        f"onnxruntime-web {ort.VERSION}'s dist/ folder (e.g. node_modules/onnxruntime-web/dist): copied into "
        "the site, which then works offline; default: load it from the jsDelivr CDN with integrity hashes"))
    p.add_argument("--data-dir", help="dataset folder for int8 calibration when a checkpoint must be exported")
    p.set_defaults(func=run_demo)


def run_demo(args) -> int:
    from neurozoo.demo.site import build_site

    print(build_site(args.model, args.out, fp32=args.fp32, ort_dir=args.ort_dir, data_dir=args.data_dir).summary())
    return 0
