"""``create_model`` and the module every neurozoo model is: normalisation + the architecture's net.

Models take images in [0, 1] (N, C, H, W) and normalise inside, so attacks, corruptions and the
ONNX runtime all work on plain [0, 1] pixels. ``model.config`` is the checkpoint config (see
``neurozoo.checkpoint``) that rebuilds the same module tree.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from neurozoo import registry
from neurozoo.build_checks import build_checked
from neurozoo.errors import ConfigError

FORMAT_VERSION = 1


class Normalize(nn.Module):
    """(x - mean) / std per channel, with mean and std stored as buffers (they travel with weights)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class NeurozooModel(nn.Module):
    """``normalize`` then ``net``; ``forward(x, return_embedding=True)`` also returns the embedding."""

    def __init__(self, net: nn.Module, config: dict[str, Any]):
        super().__init__()
        self.config = config
        self.normalize = Normalize(config["mean"], config["std"])
        self.net = net
        self._preprocess = None

    def forward(self, x: torch.Tensor, return_embedding: bool = False):
        z = self.net.embed(self.normalize(x))
        logits = self.net.classify(z)
        return (logits, z) if return_embedding else logits

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.embed(self.normalize(x))

    @property
    def reads_masks(self) -> bool:
        """Whether the net's forward reads the per-object masks of its images (an oracle upper
        bound declares ``reads_masks = True`` and takes them through ``given_masks(masks)``)."""
        return bool(getattr(self.net, "reads_masks", False))

    def batch_masks(self, batch: Sequence, dataset: str) -> contextlib.AbstractContextManager:
        """A context in which the net sees the object masks of ``batch`` (images, targets, masks),
        for a net that reads them; a no-op for any other net."""
        if not self.reads_masks:
            return contextlib.nullcontext()
        if len(batch) < 3:
            raise ConfigError(
                f"this model reads the per-object masks of its images and dataset {dataset!r} has none: "
                "use a multi-object set with masks (e.g. multimnist_o25)"
            )
        return self.net.given_masks(batch[2].to(self.normalize.mean.device))

    @property
    def class_names(self) -> list[str]:
        return list(self.config["class_names"])

    @property
    def preprocess(self):
        """torchvision transform: PIL image or uint8 tensor -> float tensor in [0, 1] at the input size."""
        if self._preprocess is None:
            from torchvision.transforms import v2

            channels, height, width = self.config["input_size"]
            # to float first: grayscale and resize on uint8 round down (white would become 254/255)
            steps = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
            if channels == 1:
                steps.append(v2.Grayscale(num_output_channels=1))
            elif channels == 3:
                steps.append(v2.RGB())
            steps.append(v2.Resize((height, width), antialias=True))
            self._preprocess = v2.Compose(steps)
        return self._preprocess


def build_config(
    arch: str,
    *,
    num_classes: int,
    input_size: Sequence[int],
    mean: Sequence[float],
    std: Sequence[float],
    class_names: Sequence[str],
    arch_kwargs: dict[str, Any] | None = None,
    method: str = "baseline",
    method_kwargs: dict[str, Any] | None = None,
    dataset: str | None = None,
    task: str = "multiclass",
) -> dict[str, Any]:
    from neurozoo import __version__

    return {
        "format_version": FORMAT_VERSION,
        "arch": arch,
        "arch_kwargs": dict(arch_kwargs or {}),
        "method": method,
        "method_kwargs": dict(method_kwargs or {}),
        "num_classes": int(num_classes),
        "input_size": [int(v) for v in input_size],
        "mean": [float(v) for v in mean],
        "std": [float(v) for v in std],
        "class_names": [str(c) for c in class_names],
        "dtype": "float32",
        "task": task,
        "dataset": dataset,
        "neurozoo_version": __version__,
    }


def create_model(
    arch: str,
    num_classes: int | None = None,
    *,
    method: str | None = None,
    dataset: str | None = None,
    input_size: Sequence[int] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    class_names: Sequence[str] | None = None,
    method_kwargs: dict[str, Any] | None = None,
    **arch_kwargs: Any,
) -> NeurozooModel:
    """Build architecture ``arch`` (randomly initialised), adapted by ``method`` if given.

    ``dataset`` fills num_classes, input size, mean/std and class names from the dataset record;
    explicit arguments win. Without a dataset, normalisation is the identity.
    """
    spec = registry.get_architecture(arch)
    ds = registry.get_dataset(dataset) if dataset else None
    if num_classes is None:
        if ds is None:
            raise ValueError(f"create_model({arch!r}) needs num_classes= or dataset=")
        num_classes = ds.num_classes
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    size = tuple(input_size or (ds.input_size if ds else spec.input_size))
    channels = size[0]
    config = build_config(
        arch,
        num_classes=num_classes,
        input_size=size,
        mean=mean or (ds.mean if ds else (0.0,) * channels),
        std=std or (ds.std if ds else (1.0,) * channels),
        class_names=class_names or (ds.class_names if ds and ds.num_classes == num_classes else
                                    [str(i) for i in range(num_classes)]),
        arch_kwargs=arch_kwargs,
        method=method or "baseline",
        method_kwargs=method_kwargs,
        dataset=dataset,
        task=ds.task if ds else "multiclass",
    )
    return build_checked(config)  # options typed, and a dry run on one image of the input size


def model_from_config(config: dict[str, Any]) -> NeurozooModel:
    """Build the (untrained) module tree a validated config describes."""
    spec = registry.get_architecture(config["arch"])
    try:
        net = spec.builder(num_classes=config["num_classes"], in_chans=config["input_size"][0], **config["arch_kwargs"])
    except TypeError as exc:  # an option the builder does not take, or of the wrong kind
        raise ConfigError(
            f"architecture {config['arch']!r} cannot be built with options {config['arch_kwargs']}: {exc}"
        ) from None
    method = registry.get_method(config["method"])
    if method.adapt_model is not None:
        net = method.adapt_model(net, **config["method_kwargs"])
    elif config["method_kwargs"]:
        raise ValueError(
            f"method {config['method']!r} changes no model structure but method_kwargs "
            f"{sorted(config['method_kwargs'])} were given"
        )
    return NeurozooModel(net, config)
