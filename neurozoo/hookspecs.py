"""The plugin contract.

Every hook receives a ``register`` callback and calls it once per thing it contributes, passing
one of the records from :mod:`neurozoo.registry` (``Architecture``, ``Method``, ``Dataset``,
``Checkpoint``, ``Metric``). Built-in methods are ordinary plugins that use these same hooks.

A plugin module looks like::

    from neurozoo import hookimpl, Architecture

    @hookimpl
    def register_architectures(register):
        register(Architecture("tiny_mlp", build_tiny_mlp, input_size=(1, 28, 28)))
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("neurozoo")
hookimpl = pluggy.HookimplMarker("neurozoo")


@hookspec
def register_architectures(register):
    """Register model architectures: ``register(Architecture(...))``."""


@hookspec
def register_methods(register):
    """Register training methods: ``register(Method(...))``."""


@hookspec
def register_datasets(register):
    """Register datasets: ``register(Dataset(...))``."""


@hookspec
def register_checkpoints(register):
    """Register named checkpoint records: ``register(Checkpoint(...))``."""


@hookspec
def register_metrics(register):
    """Register evaluation metrics: ``register(Metric(...))``."""
