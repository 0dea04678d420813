"""``neurozoo eval NAME_OR_RUN_OR_FOLDER --dataset D --metrics m1,m2 [--json F] [--plots DIR]``."""

from __future__ import annotations

import json
import shlex

from neurozoo import registry
from neurozoo.errors import ConfigError
from neurozoo.options import check_options, signature_options


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="evaluate a checkpoint, run folder or ONNX file on a dataset",
        description="Evaluate with the shared metrics (`neurozoo list --kind metrics`).",
    )
    p.add_argument("model", metavar="NAME_OR_RUN_OR_FOLDER",
                   help="registered name, checkpoint or run folder, hf-hub:ORG/NAME, or a .onnx file")
    p.add_argument("--dataset", help="dataset name (default: the one the checkpoint was trained on)")
    p.add_argument("--metrics", help="comma-separated metric names (default: top1, or exact_set for multi-label)")
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, help="evaluate the first N samples only")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--data-dir", help="dataset folder (default: $NEUROZOO_DATA)")
    p.add_argument("--device", help="torch device (default: cpu)")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (faster on CPUs with bf16; not exact)")
    p.add_argument("--set", dest="options", action="append", default=[], metavar="METRIC.KEY=VALUE",
                   help="a metric option, VALUE in JSON, e.g. --set 'pgd_linf.eps=[0.00784]' (repeatable)")
    p.add_argument("--json", dest="json_path", metavar="FILE", help="write every figure and the provenance here")
    p.add_argument("--plots", dest="plots_dir", metavar="DIR", help="write PNG curves (noise sigma, attack epsilon)")
    p.set_defaults(func=run)


def parse_options(items: list[str]) -> dict[str, dict]:
    """``["pgd_linf.eps=[0.1]", ...]`` -> ``{"pgd_linf": {"eps": [0.1]}}``; non-JSON values stay strings.

    Each value is checked against the type of the option's default in the metric's ``compute``
    (a scalar for a list option is a one-element list: ``pgd_linf.eps=0.03``); options the metric
    does not take are left for ``evaluate`` to report with the ones it does."""
    options: dict[str, dict] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        metric, dot, option = key.partition(".")
        if not (sep and dot and metric and option):
            raise ConfigError(f"--set {item!r}: write METRIC.KEY=VALUE, e.g. --set pgd_linf.steps=20")
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON (or nested too deep for the parser): a string
            value = raw
        options.setdefault(metric, {})[option] = value
    for metric, given in options.items():
        defaults, declared = signature_options(registry.get_metric(metric).compute, skip=1)
        options[metric] = check_options(given, defaults, declared, f"metric {metric!r}")
    return options


def command_line(args) -> str:
    """The command that reproduces this evaluation, every effective setting spelled out."""
    parts = ["neurozoo", "eval", args.model]
    for flag, value in (("--dataset", args.dataset), ("--metrics", args.metrics), ("--split", args.split),
                        ("--limit", args.limit), ("--batch-size", args.batch_size),
                        ("--data-dir", args.data_dir), ("--device", args.device)):
        if value is not None:
            parts += [flag, str(value)]
    if args.bf16:
        parts.append("--bf16")
    for item in args.options:
        parts += ["--set", item]
    return shlex.join(parts)


def run(args) -> int:
    from rich.console import Console

    from neurozoo.evaluation.report import readings, results_table, write_json, write_plots
    from neurozoo.evaluation.runner import evaluate
    from neurozoo.outputs import writable_file, writable_folder

    console = Console()
    options = parse_options(args.options)
    # where the results go is checked before the evaluation, which can take hours
    if args.json_path:
        writable_file(args.json_path, "--json file")
    if args.plots_dir:
        writable_folder(args.plots_dir, "--plots folder")
    result = evaluate(
        args.model, args.dataset, args.metrics, limit=args.limit, batch_size=args.batch_size,
        data_dir=args.data_dir, split=args.split, device=args.device, bf16=args.bf16,
        options=options, progress=True, command=command_line(args),
    )
    console.print(results_table(result))
    for metric, sentence in readings(result):
        console.print(f"{metric}: {sentence}", highlight=False)
    if args.json_path:
        console.print(f"results: {write_json(result, args.json_path)}")
    if args.plots_dir:
        for path in write_plots(result, args.plots_dir):
            console.print(f"plot: {path}")
    return 0
