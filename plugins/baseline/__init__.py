"""Plain cross-entropy training: the reference every method's checkpoint is compared with."""

from neurozoo import Method, hookimpl

from .architectures import ARCHITECTURES
from .checkpoints import CHECKPOINTS
from .method import Baseline


@hookimpl
def register_architectures(register):
    for architecture in ARCHITECTURES:
        register(architecture)


@hookimpl
def register_methods(register):
    register(
        Method(
            "baseline",
            trainer=Baseline,
            description="plain cross-entropy training (the reference for every method)",
        )
    )


@hookimpl
def register_checkpoints(register):
    for checkpoint in CHECKPOINTS:
        register(checkpoint)
