"""The FFCL training method: every layer of the twins learns from its own local loss only.

One step: one forward pass of the model (forward hooks read every layer's A and B outputs), one
loss per layer (``losses.layer_losses``), and ``loss = sum of the layer losses``. Because the twin
net detaches every layer's input in training mode (``TwinMLP.local``, set by ``adapt_model``), the
single ``backward()`` of that sum gives each layer exactly the gradient of its own loss.

Optimiser choice (documented): the engine's single optimiser over all parameters. With Adam and no
weight decay (the paper's recipe) the update of every parameter depends only on that parameter's
own gradient history, so one Adam over the local gradients is the same update as one Adam per
layer. Gradient clipping by global norm would couple the layers' step sizes, so the method offers
no ``grad_clip`` option.

Diagnostics: the first ``probe_samples`` training images the method sees are kept as a fixed slice;
at the end of every epoch the method returns, on that slice, the A/B agreement of every layer and a
linear-probe accuracy of every hidden layer (see ``diagnostics``). The slice is rebuilt from the
first batches after a resume (it holds no state worth a checkpoint).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from neurozoo.training.method import StepContext, TrainingMethod

from .diagnostics import diagnostics
from .losses import layer_losses, recorded_outputs
from .models import TwinMLP


def adapt_model(net: nn.Module) -> TwinMLP:
    """Switch the twin net to local learning (per-layer detached inputs in training mode)."""
    if not isinstance(net, TwinMLP):
        raise ValueError(
            f"method 'ffcl' trains the two twins of an 'ffcl_mlp' layer by layer; got a "
            f"{type(net).__name__}. Use --arch ffcl_mlp (widths with its 'hidden' option)."
        )
    net.local = True
    return net


class FFCL(TrainingMethod):
    """Forward-forward contrastive learning of twin MLPs (Gananath R, arXiv 2405.03432)."""

    name: ClassVar[str] = "ffcl"
    options: ClassVar[dict[str, Any]] = {
        "epochs": 30,
        "lr": 1e-4,
        "optimizer": "adam",
        "weight_decay": 0.0,
        "schedule": "constant",
        "probe_samples": 2000,  # size of the diagnostics slice; 0 turns the diagnostics off
        "variance_weight": 0.0,  # neurozoo's variant (see losses.spread_loss); 0 = the paper
        "covariance_weight": 0.0,
    }
    # The paper trains on the images as they are and states no reduced precision: fp32, no
    # augmentation (the numerics issue's fidelity test decides whether bf16 would be exact).
    engine_defaults: ClassVar[dict[str, Any]] = {"augment": False, "precision": "fp32"}
    option_docs: ClassVar[dict[str, str]] = {
        **TrainingMethod.option_docs,
        "probe_samples": "training images in the per-epoch diagnostics slice (agreement, linear probes); 0: off",
        "variance_weight": "neurozoo variant, not the paper: VICReg variance hinge on each hidden code (0: off)",
        "covariance_weight": "neurozoo variant, not the paper: VICReg covariance penalty on each hidden code (0: off)",
    }

    def __init__(self, **recipe: Any):
        super().__init__(**recipe)
        samples = self.recipe["probe_samples"]
        if not isinstance(samples, int) or samples < 0 or samples == 1:
            raise ValueError(f"probe_samples must be 0 (off) or an int >= 2, got {samples!r}")
        for name in ("variance_weight", "covariance_weight"):
            weight = self.recipe[name]
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                raise ValueError(f"{name} must be a number >= 0, got {weight!r}")
        self._probe_images: list[torch.Tensor] = []
        self._probe_labels: list[torch.Tensor] = []

    @staticmethod
    def twin_net(ctx: StepContext) -> TwinMLP:
        net = ctx.net.net
        if not (isinstance(net, TwinMLP) and net.local):
            raise ValueError("method 'ffcl' needs a model built with method='ffcl' and arch 'ffcl_mlp'")
        return net

    def layer_losses(self, ctx: StepContext, images: torch.Tensor, targets: torch.Tensor) -> list[torch.Tensor]:
        """One loss per layer (hidden layers first, output last) from one forward pass of ``ctx.model``."""
        with recorded_outputs(self.twin_net(ctx).layer_pairs()) as outputs:
            ctx.model(images)
        return layer_losses(outputs, targets, self.recipe["variance_weight"], self.recipe["covariance_weight"])

    def training_step(self, ctx: StepContext, batch) -> dict[str, torch.Tensor]:
        images, targets = batch[0], batch[1]
        self._keep_probe_slice(images, targets)
        losses = self.layer_losses(ctx, images, targets)
        scalars = {f"loss_l{k}": loss.detach() for k, loss in enumerate(losses[:-1], start=1)}
        scalars["loss_out"] = losses[-1].detach()
        return {"loss": torch.stack(losses).sum(), **scalars}

    def _keep_probe_slice(self, images: torch.Tensor, targets: torch.Tensor) -> None:
        missing = self.recipe["probe_samples"] - sum(len(t) for t in self._probe_labels)
        if missing > 0:
            self._probe_images.append(images[:missing].detach().clone())
            self._probe_labels.append(targets[:missing].detach().clone())

    def on_epoch_end(self, ctx: StepContext) -> dict[str, float] | None:
        if not self._probe_labels:
            return None
        return diagnostics(ctx.net, self.twin_net(ctx), torch.cat(self._probe_images), torch.cat(self._probe_labels))
