"""The ``kuramoto`` training method: multi-label BCE over timesteps + the mask-based synchrony loss.

Recipe (authors' ``opts.py`` / ``main.py``): Adam, lr 1e-2, constant rate, gradient clipping at
norm 2, 30 epochs; batch size 256 is the engine's ``--batch-size``. The loss of a batch
``(images, multi_hot, masks)`` is

    mean_t BCE(logits_t, multi_hot) + synchrony_coef * L_synch(phases_T, masks)

with logits_t the readout after Kuramoto step t and L_synch on the last step's phases (as the
authors compute it). Archs without phases (``realnet``, the real baseline) train on the BCE
alone, so the baseline sees the same data, loss and budget.

``timesteps``, ``epsilon``, ``eta`` and ``feedback_eta`` are model options: stored in the
checkpoint config and set on the net by :func:`adapt_model`, so a checkpoint reloads with the
dynamics it was trained with.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from neurozoo.errors import ConfigError
from neurozoo.training.method import StepContext, TrainingMethod

from .losses import synchrony_loss, timestep_bce
from .models import KomplexNet


def adapt_model(net: nn.Module, **dynamics: Any) -> nn.Module:
    """Apply the recipe's dynamics settings to a KomplexNet; nets without phases are returned as they are."""
    if isinstance(net, KomplexNet):
        net.configure_dynamics(**dynamics)
    return net


class KuramotoMethod(TrainingMethod):
    name: ClassVar[str] = "kuramoto"
    options: ClassVar[dict[str, Any]] = {
        "epochs": 30,
        "lr": 1e-2,
        "optimizer": "adam",
        "weight_decay": 0.0,
        "schedule": "constant",
        "grad_clip": 2.0,
        "synchrony_coef": 1.0,  # weight of L_synch (authors' --loss_coef)
        "timesteps": 15,  # Kuramoto steps T
        "epsilon": 0.202,  # global desynchronisation strength
        "eta": 0.006,  # Kuramoto step size
        "feedback_eta": 0.006,  # step size of each top-down term (komplexnet_fb)
    }
    model_options: ClassVar[tuple[str, ...]] = ("timesteps", "epsilon", "eta", "feedback_eta")
    extendable: ClassVar[bool] = True  # nothing but the run's length comes from its epochs
    baseline_archs: ClassVar[tuple[str, ...]] = ("realnet",)  # the paper's parameter-matched real-valued net
    option_docs: ClassVar[dict[str, str]] = {
        **TrainingMethod.option_docs,
        "synchrony_coef": "weight of the mask-based synchrony loss (authors' --loss_coef); 0: BCE only",
        "timesteps": "Kuramoto steps T",
        "epsilon": "global desynchronisation strength",
        "eta": "Kuramoto step size",
        "feedback_eta": "step size of each top-down term (komplexnet_fb)",
    }

    def __init__(self, **recipe: Any):
        super().__init__(**recipe)
        if self.recipe["synchrony_coef"] < 0:
            raise ValueError(f"synchrony_coef must be >= 0, got {self.recipe['synchrony_coef']!r}")

    def training_step(self, ctx: StepContext, batch) -> dict[str, torch.Tensor]:
        images, targets = batch[0], batch[1]
        if targets.dim() != 2:
            raise ConfigError(
                "the kuramoto method trains multi-label sets (multi-hot targets), got class indices: "
                "use a multi-object digit set such as --dataset multimnist_o25"
            )
        net = ctx.net.net
        if not isinstance(net, KomplexNet):
            return {"loss": F.binary_cross_entropy_with_logits(ctx.model(images).float(), targets.float())}
        masks = batch[2] if len(batch) > 2 else None
        with net.recording() as traces, net.given_masks(masks):  # the masks set the oracle's phases
            ctx.model(images)
        trace = traces[0]
        bce = timestep_bce([logits.float() for logits in trace.logits], targets)
        coef = self.recipe["synchrony_coef"]
        if coef == 0:
            return {"loss": bce, "bce": bce.detach()}
        if masks is None:
            raise ConfigError(
                "the synchrony loss needs per-object masks, and this dataset yields none: use a multi-object "
                "digit set (multimnist*) or set synchrony_coef=0"
            )
        synch = synchrony_loss(trace.phases[-1], trace.amplitude.float(), masks)
        return {"loss": bce + coef * synch, "bce": bce.detach(), "synchrony": synch.detach()}
