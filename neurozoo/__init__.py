"""neurozoo: a model zoo of neuro-inspired training methods.

    import neurozoo
    model = neurozoo.load("nmhebb-resnet18-cifar10")
    neurozoo.list_models("*cifar10*", pretrained=True)
"""

__version__ = "0.1.0"

from neurozoo.checkpoint import save
from neurozoo.errors import (
    CheckpointError,
    ConfigError,
    DuplicateNameError,
    IntegrityError,
    NeurozooError,
    OfflineError,
    UnknownNameError,
)
from neurozoo.hookspecs import hookimpl
from neurozoo.model import NeurozooModel, create_model
from neurozoo.records import Architecture, Checkpoint, Dataset, Method, Metric
from neurozoo.registry import (
    get_architecture,
    get_checkpoint,
    get_dataset,
    get_method,
    get_metric,
    list_architectures,
    list_datasets,
    list_methods,
    list_metrics,
    list_models,
)
from neurozoo.zoo import load

__all__ = [
    "Architecture",
    "Checkpoint",
    "CheckpointError",
    "ConfigError",
    "Dataset",
    "DuplicateNameError",
    "IntegrityError",
    "Method",
    "Metric",
    "NeurozooError",
    "NeurozooModel",
    "OfflineError",
    "UnknownNameError",
    "create_model",
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
    "save",
]
