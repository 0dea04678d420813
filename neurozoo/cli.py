"""The ``neurozoo`` command.

Each subcommand lives with the code it drives: a module listed in ``SUBCOMMAND_MODULES`` exposes
``add_parser(subparsers)``, which adds its parser and sets ``func=handler`` (``handler(args) -> int``).
Errors that neurozoo raises on purpose, and files the system refuses to write or read (permissions,
a read-only or full disk), print as one line and exit 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import importlib
import sys

from rich.console import Console
from rich.table import Column, Table

from neurozoo import __version__, plugins, registry
from neurozoo.errors import NeurozooError, UnknownNameError

SUBCOMMAND_MODULES: tuple[str, ...] = (
    "neurozoo.cards", "neurozoo.evaluation.cli", "neurozoo.export_cli", "neurozoo.publish", "neurozoo.training.cli",
)

# errors of the machine, not of neurozoo: the user fixes them (permissions, space, another folder)
ENVIRONMENT_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT)

_KINDS = {
    "models": registry.list_models,
    "architectures": registry.list_architectures,
    "methods": registry.list_methods,
    "datasets": registry.list_datasets,
    "metrics": registry.list_metrics,
}


def _cmd_list(args) -> int:
    console = Console()
    if args.kind != "models":
        for name in _KINDS[args.kind](args.pattern):
            console.print(name)
        return 0
    table = Table("pretrained", "top-1", "repo", "plugin")
    table.columns.insert(0, Column("name", no_wrap=True))
    for name in registry.list_models(args.pattern, pretrained=args.pretrained):
        record = registry.get_checkpoint(name)
        top1 = record.metrics.get("top1")
        table.add_row(
            name,
            "yes" if record.pretrained else "planned",
            f"{top1:.4f}" if top1 is not None else "",
            record.repo_id or "",
            registry.owner("checkpoint", name),
        )
    console.print(table)
    return 0


def _cmd_info(args) -> int:
    console = Console()
    name = args.name
    lookups = (
        ("checkpoint", registry.get_checkpoint),
        ("architecture", registry.get_architecture),
        ("method", registry.get_method),
        ("dataset", registry.get_dataset),
        ("metric", registry.get_metric),
    )
    for kind, get in lookups:
        try:
            record = get(name)
        except NeurozooError:
            continue
        table = Table(title=f"{kind} {name}  (plugin {registry.owner(kind, name)})", show_header=False)
        for field, value in vars(record).items():
            text = getattr(value, "__qualname__", None) or repr(value)
            table.add_row(field, text)
        console.print(table)
        return 0
    known = [n for list_names in _KINDS.values() for n in list_names()]
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else "`neurozoo list --kind ...` shows them"
    raise UnknownNameError(f"no checkpoint, architecture, method, dataset or metric is named {name!r}; {hint}")


def _cmd_plugins(args) -> int:
    table = Table("plugin", "distribution", "hooks", "status")
    for info in plugins.list_plugins():
        table.add_row(info.name, info.distribution, ", ".join(info.hooks), info.error or "loaded")
    Console().print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurozoo", description="Neuro-inspired training methods and their checkpoints.")
    parser.add_argument("--version", action="version", version=f"neurozoo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list registered checkpoints (or architectures, methods, ...)")
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. '*cifar10*'")
    p.add_argument("--pretrained", action="store_true", help="only checkpoints whose weights are published")
    p.add_argument("--kind", choices=sorted(_KINDS), default="models")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="show the record behind a name")
    p.add_argument("name")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("plugins", help="which plugins loaded, from which distribution")
    p.set_defaults(func=_cmd_plugins)

    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (NeurozooError, ValueError) as exc:
        print(f"neurozoo {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:
            raise
        print(f"neurozoo {args.command}: error: {exc.filename}: {exc.strerror}; fix its permissions or free "
              "space, or choose another folder", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"neurozoo {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
