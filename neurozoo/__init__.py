"""neurozoo: a model zoo of neuro-inspired training methods.

    import neurozoo
    model = neurozoo.load("nmhebb-resnet18-cifar10")
    neurozoo.list_models("*cifar10*", pretrained=True)
"""

__version__ = "0.1.0"

import importlib

from neurozoo.errors import (
    CheckpointError,
    ConfigError,
    DuplicateNameError,
    IntegrityError,
    NeurozooError,
    OfflineError,
    UnknownNameError,
)
from neurozoo.records import Architecture, Checkpoint, Claim, Dataset, License, Method, Metric, Recipe

# Public names defined in modules that import torch or pluggy -> that module. They are imported on
# first access (PEP 562), so `import neurozoo.runtime` on an edge device without torch works.
# Add new public names that need torch here, not as eager imports.
_LAZY = {
    "save": "neurozoo.checkpoint",
    "hookimpl": "neurozoo.hookspecs",
    "NeurozooModel": "neurozoo.model",
    "create_model": "neurozoo.model",
    "evaluate": "neurozoo.evaluation",
    "export_onnx": "neurozoo.export",
    "load": "neurozoo.zoo",
    "push": "neurozoo.publish",
    "write_card": "neurozoo.cards",
    "train": "neurozoo.training",
    **dict.fromkeys(
        (
            "get_architecture", "get_checkpoint", "get_dataset", "get_method", "get_metric",
            "list_architectures", "list_datasets", "list_methods", "list_metrics", "list_models",
        ),
        "neurozoo.registry",
    ),
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'neurozoo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Architecture",
    "Checkpoint",
    "CheckpointError",
    "Claim",
    "ConfigError",
    "Dataset",
    "DuplicateNameError",
    "IntegrityError",
    "License",
    "Method",
    "Metric",
    "NeurozooError",
    "NeurozooModel",
    "OfflineError",
    "Recipe",
    "UnknownNameError",
    "create_model",
    "evaluate",
    "export_onnx",
    "get_architecture",
    "get_checkpoint",
    "get_dataset",
    "get_method",
    "get_metric",
    "hookimpl",
    "list_architectures",
    "list_datasets",
    "list_methods",
    "list_metrics",
    "list_models",
    "load",
    "push",
    "save",
    "train",
    "write_card",
]
