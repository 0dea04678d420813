"""Declarative records that plugins register (torchvision-weights style metadata).

Records are frozen dataclasses checked when they are registered (``validate()``), so a plugin
with a malformed record fails at registration with a message naming the plugin and the field.

Names: method, architecture and dataset names are ``[a-z][a-z0-9_]*`` (no hyphen: the hyphen
separates the parts of a checkpoint name ``<method>-<arch>-<dataset>[.<tag>]``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

NAME_PART = re.compile(r"^[a-z][a-z0-9_]*$")
TAG = re.compile(r"^[a-z0-9][a-z0-9_]*$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
TASKS = ("multiclass", "multilabel")


def check_name_part(kind: str, name: str) -> None:
    if not isinstance(name, str) or not NAME_PART.match(name):
        raise ValueError(
            f"{kind} name {name!r} is not valid: use lowercase letters, digits and '_' "
            "(starting with a letter, no '-' or '.')"
        )


def _check_size(kind: str, name: str, input_size: tuple[int, ...]) -> None:
    if len(input_size) != 3 or not all(isinstance(v, int) and v > 0 for v in input_size):
        raise ValueError(f"{kind} {name!r}: input_size must be (channels, height, width), got {input_size!r}")


@dataclass(frozen=True)
class Architecture:
    """A model family a plugin can build.

    ``builder(num_classes=..., in_chans=..., **kwargs)`` returns an ``nn.Module`` with
    ``embed(x) -> (N, D)`` (the penultimate embedding) and ``classify(z) -> logits``;
    its forward is ``classify(embed(x))``. Inputs arrive already normalised.
    """

    name: str
    builder: Callable[..., Any]
    input_size: tuple[int, int, int] = (3, 32, 32)
    description: str = ""

    def validate(self) -> None:
        check_name_part("architecture", self.name)
        if not callable(self.builder):
            raise ValueError(f"architecture {self.name!r}: builder must be callable")
        _check_size("architecture", self.name, self.input_size)


@dataclass(frozen=True)
class Method:
    """A training method.

    ``trainer(**recipe)`` returns the object the training engine drives (see
    ``neurozoo.training``). ``adapt_model(net, **model_options)`` applies the method's structural
    changes to a freshly built architecture; ``create_model(arch, method=...)`` and ``load`` call
    it, so a checkpoint rebuilds exactly the trained module tree.
    """

    name: str
    trainer: Callable[..., Any]
    adapt_model: Callable[..., Any] | None = None
    description: str = ""
    paper: str = ""
    metrics: tuple[str, ...] = ()

    def validate(self) -> None:
        check_name_part("method", self.name)
        if not callable(self.trainer):
            raise ValueError(f"method {self.name!r}: trainer must be callable")
        if self.adapt_model is not None and not callable(self.adapt_model):
            raise ValueError(f"method {self.name!r}: adapt_model must be callable or None")


@dataclass(frozen=True)
class Dataset:
    """A dataset: its loader and the metadata that flows into checkpoint configs.

    ``load(split, root=None, download=False, **options)`` returns a ``torch.utils.data.Dataset``
    (see ``neurozoo.data``). Images are produced as float tensors in [0, 1]; ``mean``/``std`` are
    applied inside the model, never by the loader.
    """

    name: str
    load: Callable[..., Any]
    num_classes: int
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_size: tuple[int, int, int]
    task: str = "multiclass"
    splits: tuple[str, ...] = ("train", "test")
    description: str = ""

    def validate(self) -> None:
        check_name_part("dataset", self.name)
        if not callable(self.load):
            raise ValueError(f"dataset {self.name!r}: load must be callable")
        _check_size("dataset", self.name, self.input_size)
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"dataset {self.name!r}: {len(self.class_names)} class names for {self.num_classes} classes"
            )
        channels = self.input_size[0]
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(f"dataset {self.name!r}: mean and std need one value per channel ({channels})")
        if self.task not in TASKS:
            raise ValueError(f"dataset {self.name!r}: task must be one of {TASKS}, got {self.task!r}")


@dataclass(frozen=True)
class Checkpoint:
    """A named checkpoint: where its files live and what they hash to.

    ``files`` maps each file of the published folder that must verify (at least
    ``model.safetensors`` and ``config.json``) to its sha256. A record with no files is
    *planned*: the name is known, the weights are not published yet.
    """

    method: str
    arch: str
    dataset: str
    tag: str = ""
    repo_id: str | None = None
    revision: str = "main"
    files: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    license: str = "mit"
    description: str = ""

    @property
    def name(self) -> str:
        base = f"{self.method}-{self.arch}-{self.dataset}"
        return f"{base}.{self.tag}" if self.tag else base

    @property
    def pretrained(self) -> bool:
        return bool(self.files)

    def validate(self) -> None:
        check_name_part("method", self.method)
        check_name_part("architecture", self.arch)
        check_name_part("dataset", self.dataset)
        if self.tag and not TAG.match(self.tag):
            raise ValueError(f"checkpoint tag {self.tag!r} is not valid: use [a-z0-9_]")
        for filename, digest in self.files.items():
            if not SHA256.match(str(digest)):
                raise ValueError(f"checkpoint {self.name!r}: sha256 of {filename!r} is not 64 hex digits")
        if self.files and not {"model.safetensors", "config.json"} <= set(self.files):
            raise ValueError(f"checkpoint {self.name!r}: files must list model.safetensors and config.json")
        if self.files and not self.repo_id:
            raise ValueError(f"checkpoint {self.name!r}: a record with files needs a repo_id")


@dataclass(frozen=True)
class Metric:
    """An evaluation metric the shared evaluation code can compute (see ``neurozoo.evaluation``)."""

    name: str
    compute: Callable[..., Any]
    description: str = ""
    higher_is_better: bool = True
    tasks: tuple[str, ...] = ("multiclass",)

    def validate(self) -> None:
        check_name_part("metric", self.name)
        if not callable(self.compute):
            raise ValueError(f"metric {self.name!r}: compute must be callable")
