"""What a metric's ``compute(ctx, **options)`` receives: :class:`EvalContext`.

The context owns the one evaluation pass: ``ctx.outputs()`` runs the model once over the split
(``torch.inference_mode``, batched, optional bf16 autocast, channels_last) and caches the logits,
targets and penultimate embeddings it collected, so every metric that only needs those arrays
shares a single pass. Metrics that need the model itself (corruptions, attacks, hooks on layers)
use ``ctx.model``, ``ctx.batches()`` and ``ctx.predict()``.

A net whose forward reads the per-object masks of its images (an oracle upper bound, such as the
kuramoto plugin's ``komplexnet_oracle``) says so with ``reads_masks = True`` and takes them through
its ``given_masks(masks)`` context manager: the context passes the masks of the batch
:meth:`EvalContext.batches` yielded last to every :meth:`EvalContext.predict` on that batch (clean
or perturbed, same images in the same order). Such a net needs a dataset with masks.

A metric declares what it needs with :func:`requires`; ``neurozoo.evaluate`` checks those
requirements against the model and dataset before any work is done.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neurozoo.evaluation.accuracy import correct
from neurozoo.training import precision

# ``limit`` argument meaning "the limit this evaluation was started with"
SAME_LIMIT: Any = object()


@dataclass(frozen=True)
class Requires:
    """What a metric needs beyond the collected outputs; checked before any work is done.

    gradients: it differentiates through the model (attacks), so it needs a torch model.
    module: it reaches into the torch module (forward hooks on layers), so it needs a torch model.
    embeddings: it reads ``Outputs.embeddings`` (an ONNX model has none).
    min_classes: the fewest classes the dataset may have (APGD-T's DLR loss needs 4).
    splits: dataset splits it reads besides the evaluated one (e.g. ``("train",)``).
    """

    gradients: bool = False
    module: bool = False
    embeddings: bool = False
    min_classes: int = 1
    splits: tuple[str, ...] = ()


def requires(**needs: Any) -> Callable:
    """Decorator for a ``compute`` function: ``@requires(gradients=True)`` (see :class:`Requires`)."""
    declared = Requires(**needs)

    def mark(compute: Callable) -> Callable:
        compute.requires = declared
        return compute

    return mark


def requirements_of(compute: Callable) -> Requires:
    return getattr(compute, "requires", Requires())


@dataclass
class Outputs:
    """What one pass over a split collected, on the CPU, in dataset order.

    logits: (N, C) float32. targets: (N,) int64 class indices, or (N, C) float multi-hot for
    multilabel sets. embeddings: (N, D) float32 penultimate features (``model(x,
    return_embedding=True)``), or None for models that expose none (ONNX).
    """

    logits: torch.Tensor
    targets: torch.Tensor
    embeddings: torch.Tensor | None

    @property
    def multilabel(self) -> bool:
        return self.targets.dim() == 2

    @cached_property
    def probabilities(self) -> torch.Tensor:
        """Softmax over classes (multiclass) or per-label sigmoid (multilabel)."""
        return torch.sigmoid(self.logits) if self.multilabel else self.logits.softmax(dim=1)

    @cached_property
    def correct(self) -> torch.Tensor:
        """Bool (N,): top-1 right (multiclass) or the exact label set predicted (multilabel)."""
        return correct(self.logits, self.targets)

    @cached_property
    def loss(self) -> torch.Tensor:
        """Per-sample training loss: cross-entropy, or summed binary cross-entropy for multilabel."""
        if self.multilabel:
            return F.binary_cross_entropy_with_logits(self.logits, self.targets.float(), reduction="none").sum(1)
        return F.cross_entropy(self.logits, self.targets, reduction="none")


@dataclass(frozen=True)
class Curve:
    """One line of a plot: ``plot`` names the figure file, ``label`` the line within it."""

    plot: str
    label: str
    x_label: str
    y_label: str
    x: tuple[float, ...]
    y: tuple[float, ...]


class EvalContext:
    """Everything a metric may use. Attributes:

    model: the model under evaluation, in eval mode: ``model(x)`` maps a float batch in [0, 1]
        (N, C, H, W) on ``device`` to logits; a torch model also takes ``return_embedding=True``.
        Normalisation is inside the model.
    is_torch: True for a torch ``nn.Module`` (gradients and hooks available), False for ONNX.
    dataset: the :class:`neurozoo.Dataset` record (``num_classes``, ``task``, ``class_names``...).
    split, limit, batch_size, device: what the evaluation was asked for.
    """

    def __init__(
        self,
        model: Any,
        dataset: Any,
        *,
        split: str = "test",
        limit: int | None = None,
        batch_size: int = 256,
        device: str | torch.device = "cpu",
        data_dir: str | None = None,
        dataset_options: dict[str, Any] | None = None,
        bf16: bool = False,
        channels_last: bool = True,
        progress: Any = None,
    ):
        self.model = model
        self.is_torch = isinstance(model, nn.Module)
        self.dataset = dataset
        self.split = split
        self.limit = limit
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.data_dir = data_dir
        self.dataset_options = dict(dataset_options or {})
        self.bf16 = bf16
        self.channels_last = channels_last and self.is_torch
        self.progress = progress
        self.curves: list[Curve] = []
        self._splits: dict[str, Any] = {}
        self._outputs: dict[tuple[str, int | None], Outputs] = {}
        self.reads_masks = self.is_torch and bool(getattr(model, "reads_masks", False))
        self._batch: Sequence | None = None  # the last batch batches() yielded, for a model that reads masks

    @property
    def num_classes(self) -> int:
        return self.dataset.num_classes

    def data(self, split: str | None = None, *, limit: int | None = SAME_LIMIT):
        """The torch Dataset of ``split`` (default: the evaluated one), first ``limit`` samples."""
        split = split or self.split
        limit = self.limit if limit is SAME_LIMIT else limit
        if split not in self._splits:
            self._splits[split] = self.dataset.load(split, root=self.data_dir, **self.dataset_options)
        data = self._splits[split]
        if limit is not None and limit < len(data):
            data = torch.utils.data.Subset(data, range(limit))
        return data

    def batches(
        self, split: str | None = None, *, limit: int | None = SAME_LIMIT, description: str | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(images, targets)`` on ``device`` in dataset order; images float in [0, 1].

        Per-object masks of multi-object sets are not yielded: a model that reads them gets them in
        :meth:`predict` (module doc).
        """
        loader = torch.utils.data.DataLoader(self.data(split, limit=limit), batch_size=self.batch_size)
        task = None
        if self.progress is not None:
            task = self.progress.add_task(description or f"{split or self.split}", total=len(loader))
        for batch in loader:
            images, targets = batch[0], batch[1]
            self._batch = batch
            images = images.to(self.device, non_blocking=True)
            if self.channels_last and images.dim() == 4:
                images = images.contiguous(memory_format=torch.channels_last)
            yield images, targets.to(self.device, non_blocking=True)
            if task is not None:
                self.progress.advance(task)

    def autocast(self):
        """bf16 autocast when asked for, else a no-op (fp32 is exact and the default). bf16 follows
        the model's precision policy, as in training: what its method or architecture declares
        float32 stays float32 (``neurozoo.training.precision``)."""
        if self.bf16 and self.is_torch:
            return precision.autocast(self.model, precision.resolve(self.model, "bf16"), self.device)
        return contextlib.nullcontext()

    def predict(self, images: torch.Tensor, *, return_embedding: bool = False):
        """Logits (float32) for a batch without gradients; with ``return_embedding`` also the embedding."""
        masks = self.model.batch_masks(self._batch, self.dataset.name) if self.reads_masks else contextlib.nullcontext()
        with torch.inference_mode(), self.autocast(), masks:
            if return_embedding:
                logits, embedding = self.model(images, return_embedding=True)
                return logits.float(), embedding.float()
            return self.model(images).float()

    def outputs(self, split: str | None = None, *, limit: int | None = SAME_LIMIT) -> Outputs:
        """The collected outputs of ``split`` (one pass, cached for every metric that asks)."""
        split = split or self.split
        limit = self.limit if limit is SAME_LIMIT else limit
        key = (split, limit)
        if key not in self._outputs:
            self._outputs[key] = self._collect(split, limit)
        return self._outputs[key]

    def _collect(self, split: str, limit: int | None) -> Outputs:
        logits, targets, embeddings = [], [], []
        for images, batch_targets in self.batches(split, limit=limit, description=f"forward pass ({split})"):
            if self.is_torch:
                batch_logits, embedding = self.predict(images, return_embedding=True)
                embeddings.append(embedding.cpu())
            else:
                batch_logits = self.predict(images)
            logits.append(batch_logits.cpu())
            targets.append(batch_targets.cpu())
        if not logits:
            raise ValueError(f"dataset {self.dataset.name!r} split {split!r} has no samples to evaluate")
        return Outputs(
            logits=torch.cat(logits),
            targets=torch.cat(targets),
            embeddings=torch.cat(embeddings) if embeddings else None,
        )

    def add_curve(
        self, plot: str, label: str, x: Sequence[float], y: Sequence[float], *, x_label: str, y_label: str
    ) -> None:
        """Record a curve for the report; curves sharing ``plot`` are drawn in one PNG."""
        self.curves.append(Curve(plot, label, x_label, y_label, tuple(map(float, x)), tuple(map(float, y))))
