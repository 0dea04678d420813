"""The registry: every architecture, method, dataset, checkpoint and metric the plugins register.

Tables are built from the hooks on first use and rebuilt whenever the set of registered plugins
changes, so registering or unregistering a plugin takes effect at once. A name registered twice is
a :class:`DuplicateNameError` naming both plugins; an unknown name is an
:class:`UnknownNameError` listing the closest registered names.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import shlex
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from neurozoo import plugins
from neurozoo.errors import DuplicateNameError, UnknownNameError
from neurozoo.records import Architecture, Checkpoint, Dataset, Method, Metric

# hook name -> (record type, human name of the kind)
_KINDS = {
    "register_architectures": (Architecture, "architecture"),
    "register_methods": (Method, "method"),
    "register_datasets": (Dataset, "dataset"),
    "register_checkpoints": (Checkpoint, "checkpoint"),
    "register_metrics": (Metric, "metric"),
}


@dataclass
class _Tables:
    key: tuple
    entries: dict[str, dict[str, object]] = field(default_factory=lambda: {k: {} for k in _KINDS})
    owners: dict[tuple[str, str], str] = field(default_factory=dict)


_lock = threading.Lock()
_tables: _Tables | None = None


def _plugin_set_key(pm) -> tuple:
    return tuple(sorted((name, id(plugin)) for name, plugin in pm.list_name_plugin()))


def _collect(pm, key: tuple) -> _Tables:
    tables = _Tables(key)
    for hook_name, (record_type, kind) in _KINDS.items():
        table = tables.entries[hook_name]
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            plugin_name = impl.plugin_name

            def register(record, _plugin=plugin_name, _type=record_type, _kind=kind, _table=table):
                if not isinstance(record, _type):
                    raise TypeError(
                        f"plugin {_plugin!r} passed {type(record).__name__} to the {_kind} register "
                        f"callback; it takes neurozoo.{_type.__name__}"
                    )
                try:
                    record.validate()
                except ValueError as exc:
                    raise ValueError(f"plugin {_plugin!r}: {exc}") from None
                owner = tables.owners.get((_kind, record.name))
                if owner is not None:
                    raise DuplicateNameError(
                        f"{_kind} {record.name!r} is registered by both plugin {owner!r} and plugin "
                        f"{_plugin!r}; rename one of them or drop one plugin (NEUROZOO_PLUGINS)"
                    )
                tables.owners[(_kind, record.name)] = _plugin
                _table[record.name] = record

            try:
                impl.function(register)
            except DuplicateNameError:
                raise
            except Exception as exc:  # a broken third-party hook must not break the others
                plugins.record_error(plugin_name, f"{hook_name} raised {type(exc).__name__}: {exc}")
    return tables


def _current() -> _Tables:
    global _tables
    pm = plugins.ensure_loaded()
    key = _plugin_set_key(pm)
    tables = _tables
    if tables is not None and tables.key == key:
        return tables
    with _lock:
        if _tables is None or _tables.key != key:
            _tables = _collect(pm, key)
        return _tables


def _lookup(hook_name: str, name: str):
    table = _current().entries[hook_name]
    try:
        return table[name]
    except KeyError:
        kind = _KINDS[hook_name][1]
        close = difflib.get_close_matches(name, list(table), n=5, cutoff=0.5)
        if close:
            hint = f"did you mean {', '.join(repr(c) for c in close)}?"
        elif hook_name == "register_checkpoints":
            hint = "`neurozoo list` shows the registered names"
        else:
            hint = f"registered: {', '.join(sorted(table)) or 'none'}"
        raise UnknownNameError(f"unknown {kind} {name!r}; {hint}") from None


def owner(kind: str, name: str) -> str:
    """The plugin that registered ``name`` (``kind`` is 'architecture', 'method', ...)."""
    return _current().owners[(kind, name)]


def get_architecture(name: str) -> Architecture:
    return _lookup("register_architectures", name)


def get_method(name: str) -> Method:
    return _lookup("register_methods", name)


def is_baseline(method: str, method_kwargs: Mapping[str, Any] | None = None, arch: str | None = None) -> bool:
    """Whether a checkpoint of ``method`` built with ``method_kwargs`` (its config's) on ``arch`` is a
    baseline: the baseline method's, a method's own baseline variant (``TrainingMethod.baseline_options``)
    or baseline network (``TrainingMethod.baseline_archs``)."""
    if method == "baseline":
        return True
    trainer = get_method(method).trainer
    if arch is not None and arch in getattr(trainer, "baseline_archs", ()):
        return True
    options = getattr(trainer, "baseline_options", {})
    given = method_kwargs or {}
    return bool(options) and all(given.get(key) == value for key, value in options.items())


def get_dataset(name: str) -> Dataset:
    return _lookup("register_datasets", name)


def get_checkpoint(name: str) -> Checkpoint:
    return _lookup("register_checkpoints", name)


def get_metric(name: str) -> Metric:
    return _lookup("register_metrics", name)


def find_metric(name: str) -> Metric | None:
    """The registered metric of that name; None for one no loaded plugin registers (an evaluation result
    read from JSON may name one), where ``get_metric`` raises."""
    try:
        return get_metric(name)
    except UnknownNameError:
        return None


Patterns = str | Sequence[str]


def natural_key(name: str) -> list:
    """Sort key that orders digits by value, as timm does: resnet18 < resnet50 < resnet101."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name.lower())]


def _as_patterns(patterns: Patterns) -> tuple[str, ...]:
    return (patterns,) if isinstance(patterns, str) else tuple(patterns)


def _names(hook_name: str, patterns: Patterns, exclude: Patterns = ()) -> list[str]:
    """Names matching any fnmatch pattern of ``patterns`` and none of ``exclude``, in natural order."""
    include, skip = _as_patterns(patterns), _as_patterns(exclude)
    names = (
        n for n in _current().entries[hook_name]
        if any(fnmatch.fnmatchcase(n, p) for p in include) and not any(fnmatch.fnmatchcase(n, p) for p in skip)
    )
    return sorted(names, key=natural_key)


def list_models(
    patterns: Patterns = "*",
    exclude: Patterns = (),
    *,
    include_planned: bool = False,
    pretrained: bool = False,
) -> list[str]:
    """Names of published checkpoints matching any of ``patterns`` and none of ``exclude`` (fnmatch).

    ``include_planned=True`` adds the planned names (registered, weights not published yet:
    ``get_checkpoint(name).pretrained`` is False). ``pretrained=True`` keeps published names only,
    whatever ``include_planned`` says (timm's spelling of the default).
    """
    table = _current().entries["register_checkpoints"]
    keep_planned = include_planned and not pretrained
    return [n for n in _names("register_checkpoints", patterns, exclude) if table[n].pretrained or keep_planned]


def list_architectures(patterns: Patterns = "*", exclude: Patterns = ()) -> list[str]:
    return _names("register_architectures", patterns, exclude)


def list_methods(patterns: Patterns = "*", exclude: Patterns = ()) -> list[str]:
    return _names("register_methods", patterns, exclude)


def list_datasets(patterns: Patterns = "*", exclude: Patterns = ()) -> list[str]:
    return _names("register_datasets", patterns, exclude)


def list_metrics(patterns: Patterns = "*", exclude: Patterns = ()) -> list[str]:
    return _names("register_metrics", patterns, exclude)


def train_command(record: Checkpoint) -> str:
    """The command that trains ``record``: its recipe's, or the method's defaults for a planned name,
    with ``--data-dir`` set to the folder datasets are read from here, so it runs as printed."""
    from neurozoo.data.files import data_root

    data_dir = shlex.quote(str(data_root()))
    if record.recipe is not None:
        return record.recipe.command.replace("--data-dir DATA", f"--data-dir {data_dir}")
    return f"neurozoo train {record.method} --arch {record.arch} --dataset {record.dataset} --data-dir {data_dir}"
