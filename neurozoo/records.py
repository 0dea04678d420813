"""Declarative records that plugins register (torchvision-weights style metadata).

Records are frozen dataclasses checked when they are registered (``validate()``), so a plugin
with a malformed record fails at registration with a message naming the plugin and the field.

Names: method, architecture and dataset names are ``[a-z][a-z0-9_]*`` (no hyphen: the hyphen
separates the parts of a checkpoint name ``<method>-<arch>-<dataset>[.<tag>]``).
"""

from __future__ import annotations

import math
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
    terms: str = ""  # the data's terms of use in words, with where they are stated (cards cite them)

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


STORAGE_DTYPES = ("float32", "float16", "bfloat16")


@dataclass(frozen=True)
class Recipe:
    """How a checkpoint was trained, so that anyone can train it again and compare budgets.

    ``command`` is the exact ``neurozoo train`` command, with ``DATA`` for the dataset folder
    (``--data-dir DATA``) and ``RUN`` for the run folder. ``epochs`` and ``images_seen`` are the
    budget the run trained for: epochs x the training images of one epoch (with ``--select best``
    the published weights are those of the best validation epoch, which the card names).
    """

    command: str
    epochs: int
    images_seen: int
    batch_size: int
    precision: str  # the training precision policy, e.g. "bf16 autocast on CPU, fp32 weights and optimiser"
    hardware: str  # what trained it, e.g. "CPU: 2 cores of an AMD EPYC (Zen 4), shared"

    def validate(self, name: str) -> None:
        if not self.command.startswith(("neurozoo train ", "neurozoo.train(")):
            raise ValueError(f"checkpoint {name!r}: recipe.command must be the `neurozoo train ...` command")
        for field_name in ("epochs", "images_seen", "batch_size"):
            value = getattr(self, field_name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"checkpoint {name!r}: recipe.{field_name} must be a positive int, got {value!r}")
        if not self.precision or not self.hardware:
            raise ValueError(f"checkpoint {name!r}: recipe.precision and recipe.hardware must be stated")


@dataclass(frozen=True)
class License:
    """The terms of a checkpoint, stated, never assumed: the weights' licence and the training data's terms."""

    weights: str  # licence id of the weights as the Hub spells it (e.g. "mit", "apache-2.0")
    data: str = ""  # the training data's terms in words; empty: those of the dataset's record (Dataset.terms)

    def validate(self, name: str) -> None:
        if not self.weights:
            raise ValueError(f"checkpoint {name!r}: license needs the weights' licence (e.g. weights=\"mit\")")


@dataclass(frozen=True)
class Claim:
    """What a checkpoint's paper claims for one figure: the method's gain over the paper's own
    baseline (method minus baseline, in the figure's units: 0.02 is 2 pp of top-1), from ``low`` to
    ``high`` over the settings the paper reports (equal for one setting). A claim of direction only
    (the paper says "higher" and no figure of it can be read here) leaves the other bound infinite:
    ``Claim("top1", 0.0, math.inf, ...)``. The card sets the checkpoint's gain over its same-budget
    baseline, over its control arms, and over the other arms ``over`` names, beside it."""

    figure: str  # a figure of ``neurozoo eval``, e.g. "top1", "nmi", "noise_sigma_0.1"
    low: float
    high: float
    source: str  # where the paper states it, e.g. "abstract; Table 2 (CIFAR-10 ...)"
    # other architectures, beside the checkpoint in its folder's arms/ARCH, the paper claims the gain over
    # too (kuramoto: ("komplexnet_random",), the complex net with random phases)
    over: tuple[str, ...] = ()

    def validate(self, name: str) -> None:
        if not self.figure or not self.source:
            raise ValueError(f"checkpoint {name!r}: a claim needs its figure and where the paper states it")
        if not self.low <= self.high:
            raise ValueError(f"checkpoint {name!r}: claim on {self.figure!r} has low > high ({self.low} > {self.high})")
        if not (math.isfinite(self.low) or math.isfinite(self.high)):
            raise ValueError(f"checkpoint {name!r}: claim on {self.figure!r} bounds nothing; give low or high a number")
        for arch in self.over:
            try:
                check_name_part("architecture", arch)
            except ValueError as error:
                raise ValueError(f"checkpoint {name!r}: claim on {self.figure!r} over an arm: {error}") from None


@dataclass(frozen=True)
class Checkpoint:
    """A named checkpoint: its files and what they hash to, and what the weights are (torchvision's
    ``Weights.meta``): size, cost, recipe, licence, paper and the measured figures.

    ``files`` maps each file of the published folder that must verify (at least
    ``model.safetensors`` and ``config.json``) to its sha256. A record with no files is
    *planned*: the name is known, the weights are not published yet; planned records carry no
    figures.

    ``metrics`` maps figure names of ``neurozoo eval`` (``top1``, ``noise_sigma_0.1``, ...) to the
    values measured on the whole test split, except the figures listed in ``metric_images`` (figure
    -> number of test images, e.g. attacks run on the first 1,000); a figure of another test set than
    the checkpoint's own dataset is named with that set first (``multimnist_o50/exact_set``). ``int8_metrics`` are the
    figures of the int8 ONNX export (``neurozoo export --int8``) on the whole test split.
    ``headline`` names the robustness figure the zoo table shows; ``baseline`` names the baseline
    record trained at the same budget, whose figures stand beside these; ``claims`` are what the
    paper claims over its own baseline (:class:`Claim`), which the card sets against the gain
    measured over ``baseline``. The records of the
    built-in plugins are checked against their files and evaluation JSON by
    ``tests/test_checkpoint_records.py``.
    """

    method: str
    arch: str
    dataset: str
    tag: str = ""
    repo_id: str | None = None
    revision: str = "main"
    files: Mapping[str, str] = field(default_factory=dict)
    file_sizes: Mapping[str, int] = field(default_factory=dict)  # bytes of each file in ``files``
    dtype: str = "float32"  # how model.safetensors stores the weights; load always returns float32
    params: int | None = None  # parameters of the model (buffers not counted)
    gflops: float | None = None  # per image at the input size (FlopCounterMode: 2 FLOPs per multiply-add)
    recipe: Recipe | None = None
    license: License | None = None
    paper: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    metric_images: Mapping[str, int] = field(default_factory=dict)
    headline: str = ""
    baseline: str = ""
    int8_metrics: Mapping[str, float] = field(default_factory=dict)
    claims: tuple[Claim, ...] = ()
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
        if self.file_sizes and set(self.file_sizes) != set(self.files):
            raise ValueError(f"checkpoint {self.name!r}: file_sizes must give the size of every file in files")
        if self.dtype not in STORAGE_DTYPES:
            raise ValueError(f"checkpoint {self.name!r}: dtype must be one of {STORAGE_DTYPES}, got {self.dtype!r}")
        if not self.files and (self.metrics or self.int8_metrics):
            raise ValueError(f"checkpoint {self.name!r}: a planned record (no files) carries no figures")
        if self.headline and self.headline not in self.metrics:
            raise ValueError(f"checkpoint {self.name!r}: headline {self.headline!r} is not one of its metrics")
        if not set(self.metric_images) <= set(self.metrics):
            raise ValueError(f"checkpoint {self.name!r}: metric_images names figures that are not in metrics")
        if self.baseline == self.name:
            raise ValueError(f"checkpoint {self.name!r}: a record cannot be its own baseline")
        if self.claims and not self.baseline:
            raise ValueError(f"checkpoint {self.name!r}: claims are gains over a baseline: name its same-budget "
                             "baseline record (baseline=...)")
        for claim in self.claims:
            if self.files and claim.figure not in self.metrics:
                raise ValueError(f"checkpoint {self.name!r}: claim on {claim.figure!r}, a figure not in its metrics")
        for part in (self.recipe, self.license, *self.claims):
            if part is not None:
                part.validate(self.name)


@dataclass(frozen=True)
class Metric:
    """An evaluation metric the shared evaluation code can compute (see ``neurozoo.evaluation``)."""

    name: str
    compute: Callable[..., Any]
    description: str = ""
    higher_is_better: bool = True
    tasks: tuple[str, ...] = ("multiclass",)
    # its figures are fractions of the images classified right (clean, corrupted or attacked), so a card
    # judges a difference of two of them against binomial sampling noise
    accuracy: bool = False
    # what its figures mean in words, for the card: the figures of one evaluation -> one sentence (binenc's
    # binarity: whether a code is binary by the rule its plugin documents), so that the card says it
    reading: Callable[[Mapping[str, float | None]], str] | None = None

    def validate(self) -> None:
        check_name_part("metric", self.name)
        if not callable(self.compute):
            raise ValueError(f"metric {self.name!r}: compute must be callable")
        if self.reading is not None and not callable(self.reading):
            raise ValueError(f"metric {self.name!r}: reading must be callable (figures -> a sentence) or None")
