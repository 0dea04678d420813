"""``neurozoo train METHOD --arch A --dataset D [...]``: the command-line face of ``neurozoo.train``.

Under torchrun: ``torchrun --nproc_per_node N -m neurozoo.cli train ...`` (same arguments).
"""

from __future__ import annotations

import ast
import os
import sys

from neurozoo.errors import ConfigError
from neurozoo.training.interrupts import TrainingInterrupted

_WORDS = {"true": True, "false": False, "none": None, "null": None}


def parse_assignment(text: str, flag: str = "--set") -> tuple[str, object]:
    """``key=value`` with the value read as a Python literal (number, bool, None, tuple...) or a string.

    Whether the value suits the option is checked later, against the option's type and range."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise ConfigError(f"{flag} expects KEY=VALUE (e.g. label_smoothing=0.1), got {text!r}")
    raw = raw.strip()
    if raw.lower() in _WORDS:
        return key, _WORDS[raw.lower()]
    try:
        return key, ast.literal_eval(raw)
    # what the parser raises for text that is no literal: malformed, too deep, too many digits
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return key, raw


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a method on a dataset into a resumable run folder",
        description="Train ARCH with METHOD on DATASET. Unset options take the defaults, or with --resume "
        "the values the run started with. The run folder holds the published checkpoint (neurozoo.load "
        "reads it), run.json, metrics.jsonl and the resumable state.",
    )
    p.add_argument("method", help="training method (`neurozoo list --kind methods`)")
    p.add_argument("--arch", required=True, help="architecture (`neurozoo list --kind architectures`)")
    p.add_argument("--dataset", required=True, help="dataset (`neurozoo list --kind datasets`)")
    p.add_argument("--epochs", type=int, help="the method's epochs option")
    p.add_argument("--lr", type=float, help="the method's lr option")
    p.add_argument("--set", dest="options", action="append", default=[],
                   metavar="KEY=VALUE", help="any recipe option of the method (repeatable)")
    p.add_argument("--arch-set", dest="arch_options", action="append", default=[],
                   metavar="KEY=VALUE", help="an option of the architecture's builder, e.g. hidden=[64,64] (repeatable)")
    p.add_argument("--batch-size", type=int, help="per process (default 128)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--precision", help="bf16 (autocast, the default) or fp32")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_const", const=False,
                   help="train in the NCHW memory layout instead of channels_last")
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--data-dir", help="dataset root (default $NEUROZOO_DATA)")
    p.add_argument("--limit", type=int, help="train on the first N training images")
    p.add_argument("--eval-limit", type=int, help="test on the first N test images (0: no test evaluation)")
    p.add_argument("--no-augment", dest="augment", action="store_const", const=False,
                   help="train on the images as they are (no random crop/flip)")
    p.add_argument("--cutout", type=int, metavar="N",
                   help="also blank one random NxN square of each training image, filled with the dataset mean "
                   "(DeVries & Taylor 2017; default 0: off)")
    p.add_argument("--val-fraction", type=float,
                   help="hold out this fraction of the training images as a seeded validation split")
    p.add_argument("--select", choices=("last", "best"),
                   help="published weights: the last epoch's (default) or the best validation epoch's")
    p.add_argument("--num-workers", type=int, default=0, help="data loader workers per process (default 0)")
    p.add_argument("--out", help="run folder (default runs/METHOD-ARCH-DATASET-TIME)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in folder RUN (with more --epochs: extend "
                   "it, where its method and constant learning rate allow)")
    p.set_defaults(func=run)


def parse_assignments(items: list[str], flag: str) -> dict[str, object]:
    """``["a=1", "b=[2, 3]"]`` -> ``{"a": 1, "b": [2, 3]}``; a key given twice is an error."""
    values: dict[str, object] = {}
    for item in items:
        key, value = parse_assignment(item, flag)
        if key in values:
            raise ConfigError(f"{flag} {key}= is given twice; give it once")
        values[key] = value
    return values


def run(args) -> int:
    from neurozoo.training.run import train

    options = parse_assignments(args.options, "--set")
    arch_kwargs = parse_assignments(args.arch_options, "--arch-set")
    try:
        path = train(
            args.method, args.arch, args.dataset,
            out=args.out, resume=args.resume, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            device=args.device, precision=args.precision, channels_last=args.channels_last, seed=args.seed,
            data_dir=args.data_dir, limit=args.limit, eval_limit=args.eval_limit, num_workers=args.num_workers,
            val_fraction=args.val_fraction, select=args.select, augment=args.augment,
            cutout=args.cutout,
            options=options, arch_kwargs=arch_kwargs or None,
        )
    except TrainingInterrupted as exc:
        print(f"neurozoo train: {exc}", file=sys.stderr)
        return 128 + exc.signum
    if os.environ.get("RANK", "0") == "0":
        print(f"run folder: {path}")
    return 0
