"""The plugin manager: core hook modules plus every entry point of the ``neurozoo`` group.

Built-in methods (``neurozoo_plugins.*``) are found through the same entry-point group that
third-party packages use. ``NEUROZOO_PLUGINS=baseline,nmhebb`` restricts which entry points
load. A plugin that fails to import (or whose hook raises) is reported by name in
:func:`list_plugins` and a warning; the others still load.

Loading is lazy: ``import neurozoo`` imports no plugin; the first registry lookup does.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import threading
import warnings
from dataclasses import dataclass

import pluggy

from neurozoo import hookspecs

ENTRY_POINT_GROUP = "neurozoo"
ENV_PLUGINS = "NEUROZOO_PLUGINS"
# Hook implementations that belong to the core itself (datasets, shared metrics). They always load.
CORE_PLUGINS = ("neurozoo.data.catalog", "neurozoo.evaluation.catalog")

pm = pluggy.PluginManager("neurozoo")
pm.add_hookspecs(hookspecs)

_lock = threading.Lock()
_loaded = False
_distributions: dict[str, str] = {}
_errors: dict[str, str] = {}


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str
    hooks: tuple[str, ...]
    error: str | None = None


def _allowed_names() -> set[str] | None:
    raw = os.environ.get(ENV_PLUGINS)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _load_entry_points() -> None:
    allowed = _allowed_names()
    found = set()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.add(ep.name)
        if (allowed is not None and ep.name not in allowed) or pm.has_plugin(ep.name):
            continue
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "unknown distribution"
        try:
            plugin = ep.load()
        except Exception as exc:  # any import-time failure of a third-party module
            record_error(ep.name, f"failed to import {ep.value!r} from {dist}: {type(exc).__name__}: {exc}")
            continue
        pm.register(plugin, name=ep.name)
        _distributions[ep.name] = dist
    if allowed is not None and allowed - found:
        warnings.warn(
            f"{ENV_PLUGINS} names plugins that are not installed: {sorted(allowed - found)}; "
            f"installed: {sorted(found)}",
            stacklevel=3,
        )


def ensure_loaded() -> pluggy.PluginManager:
    """Load core hook modules and entry-point plugins once; return the plugin manager."""
    global _loaded
    if _loaded:
        return pm
    with _lock:
        if not _loaded:
            for module_name in CORE_PLUGINS:
                if not pm.has_plugin(module_name):
                    pm.register(importlib.import_module(module_name), name=module_name)
                    _distributions[module_name] = "neurozoo (core)"
            _load_entry_points()
            _loaded = True
    return pm


def record_error(plugin_name: str, message: str) -> None:
    """Remember that a plugin failed (shown by ``neurozoo plugins``) and warn once."""
    if _errors.get(plugin_name) != message:
        _errors[plugin_name] = message
        warnings.warn(f"neurozoo plugin {plugin_name!r} skipped: {message}", stacklevel=3)


def register(plugin: object, name: str | None = None) -> str:
    """Register a plugin object or module at run time (tests, notebooks); returns its name."""
    ensure_loaded()
    registered = pm.register(plugin, name=name)
    if registered is None:
        raise ValueError(f"plugin {name!r} is already registered; unregister it first")
    _distributions.setdefault(registered, "registered at run time")
    return registered


def unregister(name: str) -> None:
    """Remove a plugin registered with :func:`register` (or any plugin, by name)."""
    if pm.get_plugin(name) is None:
        raise ValueError(f"no plugin named {name!r} is registered; registered: {sorted(plugin_names())}")
    pm.unregister(name=name)
    _distributions.pop(name, None)
    _errors.pop(name, None)


def plugin_names() -> list[str]:
    return [name for name, _ in ensure_loaded().list_name_plugin()]


def list_plugins() -> list[PluginInfo]:
    """Every plugin that loaded, with its distribution and hooks, then every plugin that failed."""
    manager = ensure_loaded()
    infos = []
    for name, plugin in manager.list_name_plugin():
        hooks = tuple(sorted(h.name for h in manager.get_hookcallers(plugin) or ()))
        infos.append(PluginInfo(name, _distributions.get(name, "unknown"), hooks, _errors.get(name)))
    for name, message in _errors.items():
        if manager.get_plugin(name) is None:
            infos.append(PluginInfo(name, _distributions.get(name, "unknown"), (), message))
    return infos
