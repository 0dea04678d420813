"""The ``neurozoo`` command.

Each subcommand lives with the code it drives: a module listed in ``SUBCOMMAND_MODULES`` exposes
``add_parser(subparsers)``, which adds its parser and sets ``func=handler`` (``handler(args) -> int``).
Errors that neurozoo raises on purpose, and files the system refuses to write or read (permissions,
a read-only or full disk), print as one line and exit 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
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
    "neurozoo.demo.cli", "neurozoo.half_size",
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
        for name in _KINDS[args.kind](args.patterns, args.exclude):
            console.print(name)
        return 0
    from neurozoo import hub, record_format

    # `neurozoo info NAME` shows the whole record: here, what tells the names apart
    table = Table(Column("name", no_wrap=True), Column("weights from", no_wrap=True), "params", "clean", "weights",
                  "budget")
    for name in registry.list_models(args.patterns, args.exclude, include_planned=args.include_planned):
        record = registry.get_checkpoint(name)
        clean = record_format.clean_figure(record)
        table.add_row(
            name,
            hub.weights_location(record),  # "planned" for a name whose weights are not published
            record_format.params_text(record.params),
            f"{clean} {record_format.figure_text(record.metrics[clean])}" if clean else "",
            record_format.weights_text(record),
            record_format.budget_text(record.recipe),
        )
    console.print(table)
    return 0


def _record_rows(record) -> list[tuple[str, str]]:
    """(field, text) of a record, the fields of nested records (recipe, license) as ``recipe.command``."""
    rows = []
    for field, value in vars(record).items():
        if dataclasses.is_dataclass(value):
            rows += [(f"{field}.{name}", text) for name, text in _record_rows(value)]
        else:
            rows.append((field, getattr(value, "__qualname__", None) or repr(value)))
    return rows


def _options_table(method) -> Table:
    """The recipe options of a method (`neurozoo train --set KEY=VALUE`), their defaults and docs."""
    trainer = method.trainer
    baseline = [f"--set {k}={v}" for k, v in getattr(trainer, "baseline_options", {}).items()]
    baseline += [f"--arch {arch}" for arch in getattr(trainer, "baseline_archs", ())]
    table = Table("option", "default", "in model", "what", title=f"recipe options of {method.name} (--set KEY=VALUE)",
                  caption=("its own same-budget baseline: " + " ".join(baseline)) if baseline else None)
    docs = getattr(trainer, "option_docs", {})
    model_options = set(getattr(trainer, "model_options", ()))
    for option, default in getattr(trainer, "options", {}).items():
        table.add_row(option, repr(default), "yes" if option in model_options else "", docs.get(option, ""))
    return table


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
        for field, text in _record_rows(record):
            table.add_row(field, text)
        console.print(table)
        if kind == "method":
            console.print(_options_table(record))
        if kind == "checkpoint" and not record.pretrained:
            console.print(f"planned: not published yet; train it with `{registry.train_command(record)}`",
                          highlight=False, soft_wrap=True)
        return 0
    known = [n for list_names in _KINDS.values() for n in list_names()] + registry.list_models(include_planned=True)
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else "`neurozoo list --kind ...` shows them"
    raise UnknownNameError(f"no checkpoint, architecture, method, dataset or metric is named {name!r}; {hint}")


def _cmd_plugins(args) -> int:
    console = Console()
    table = Table("plugin", "distribution", "hooks", "status")
    infos = plugins.list_plugins()
    for info in infos:
        table.add_row(info.name, info.distribution, ", ".join(info.hooks), "failed (below)" if info.error else "loaded")
    console.print(table)
    for info in infos:  # whole lines, not table cells: an error must stay readable (and greppable) at any width
        if info.error:
            console.print(f"{info.name}: {info.error}", highlight=False, soft_wrap=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurozoo", description="Neuro-inspired training methods and their checkpoints.")
    parser.add_argument("--version", action="version", version=f"neurozoo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list published checkpoints (or architectures, methods, ...)")
    p.add_argument("patterns", nargs="*", default=["*"], metavar="PATTERN",
                   help="fnmatch patterns, a name matching any is listed, e.g. '*cifar10*' 'nmhebb-*'")
    p.add_argument("--exclude", action="append", default=[], metavar="PATTERN", help="leave out names matching it")
    p.add_argument("--all", dest="include_planned", action="store_true",
                   help="also the planned checkpoints: registered names whose weights are not published yet")
    p.add_argument("--kind", choices=sorted(_KINDS), default="models")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="show the record behind a name (a method's: its recipe options)")
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
