"""The BinEnc training method: cross-entropy plus an epoch-growing penalty on the code z.

    loss = CE(logits, y) + gamma_e * mean(z^2)       (variant "binenc"; schedules in ``penalty``)
    loss = CE(logits, y)                             (variants "linpen", "nonlinpen", "nopen")

gamma schedule: gamma0 (0.01 for v3/v4) multiplied once per epoch by ``gamma_rate``; by default
the schedule's own rate, compressed in runs shorter than 50 epochs so that gamma ends where a
50-epoch run ends (``PenaltySchedule.budget_rate``; v3: x1.084 at 50 epochs or more, x1.224 at 20),
as the slice study chose on a validation split (README, "Budget scaling").

Weight decay: the engine's AdamW (timm's factory) exempts biases and normalisation parameters from
weight decay; the authors' ``torch.optim.AdamW(network.parameters(), weight_decay=5e-4)`` decays
every parameter. Kept as the engine does it (README, "Documented choices").

Resumable state (``state_dict``): gamma, the running training accuracy of the current epoch and
the convergence epoch. gamma is multiplied in ``on_epoch_end``, so a run resumed from any
checkpoint continues with the gamma it had.

Convergence epoch [code]: the authors record the first epoch whose training accuracy exceeds
0.999. Here the training accuracy is the running accuracy of the epoch's training batches (train
mode, augmented), which costs no extra pass; ``on_epoch_end`` logs ``train_acc`` every epoch and
``convergence_epoch`` (epochs trained, from 1) once it is reached, so both land in the run's
metrics log.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from neurozoo.options import Option
from neurozoo.training.method import Phase, StepContext, TrainingMethod

from .models import BACKBONE_ACTIVATIONS, VARIANTS
from .penalty import STUDIED_EPOCHS, get_schedule


class BinEnc(TrainingMethod):
    """Latent binary encoding (Sbailo & Ghiringhelli, arXiv 2310.08224) and its three controls."""

    name: ClassVar[str] = "binenc"
    options: ClassVar[dict[str, Any]] = {
        "epochs": 200,  # v3 runs; v4 runs are 800 epochs
        "lr": 1e-3,  # the authors grid-search lr per run; their configs do not fix one
        "optimizer": "adamw",
        "weight_decay": 5e-4,
        "schedule": "constant",  # v4 [code]: "step" with milestones 300, 350, ..., 750 and lr_decay 0.5
        "milestones": (),  # epochs where a "step" schedule multiplies lr by lr_decay
        "lr_decay": 0.5,
        "grad_clip": None,
        "variant": "binenc",  # binenc | linpen | nonlinpen | nopen
        "width": None,  # penultimate width d; None: the smallest d with 2**d >= classes
        "backbone_act": "silu",  # silu (the paper's ResNets) | relu (the backbone as registered)
        "penalty": "v3",  # v3 | v4 | v1 (used by variant binenc only)
        "gamma0": None,  # gamma of the first epoch; None: the schedule's (0.01 for v3/v4, 10 for v1)
        "gamma_rate": None,  # per-epoch multiplier of gamma; None: the schedule's (penalty.budget_rate)
        "convergence_threshold": 0.999,
    }
    option_checks: ClassVar[dict[str, Option]] = {**TrainingMethod.option_checks, "gamma_rate": Option(float, gt=0)}
    model_options: ClassVar[tuple[str, ...]] = ("variant", "width", "backbone_act")
    baseline_options: ClassVar[dict[str, Any]] = {"variant": "nopen"}  # the paper's NoPen: the same net, no code layer
    option_docs: ClassVar[dict[str, str]] = {
        **TrainingMethod.option_docs,
        "milestones": 'epochs where a "step" schedule multiplies lr by lr_decay',
        "lr_decay": 'factor of a "step" schedule at each milestone',
        "variant": "binenc (code layer + penalty), linpen (code layer), nonlinpen (SiLU code layer) or nopen",
        "width": "width d of the code layer; None: the smallest d with 2**d >= classes",
        "backbone_act": "silu (the paper's ResNets) or relu (the backbone as registered)",
        "penalty": "penalty schedule of variant binenc: v3, v4 or v1 (see plugins/binenc/penalty.py)",
        "gamma0": "penalty weight of the first epoch; None: the schedule's (0.01 for v3/v4, 10 for v1)",
        "gamma_rate": f"gamma's per-epoch multiplier; None: the schedule's rate ** max(1, {STUDIED_EPOCHS} / epochs)",
        "convergence_threshold": "training accuracy that marks the convergence epoch (logged)",
    }

    def __init__(self, **recipe: Any):
        super().__init__(**recipe)
        r = self.recipe
        if r["variant"] not in VARIANTS:
            raise ValueError(f"binenc: variant must be one of {VARIANTS}, got {r['variant']!r}")
        if r["backbone_act"] not in BACKBONE_ACTIVATIONS:
            raise ValueError(f"binenc: backbone_act must be one of {BACKBONE_ACTIVATIONS}, got {r['backbone_act']!r}")
        self.schedule = get_schedule(r["penalty"])
        self.penalised = r["variant"] == "binenc"
        gamma0 = self.schedule.gamma0 if r["gamma0"] is None else r["gamma0"]
        if not isinstance(gamma0, (int, float)) or not gamma0 > 0:
            raise ValueError(f"binenc: gamma0 must be a number > 0, got {gamma0!r}")
        self.gamma = float(gamma0)
        rate = r["gamma_rate"]
        self.gamma_rate = self.schedule.budget_rate(max(r["epochs"], 1)) if rate is None else float(rate)
        self.convergence_epoch: int | None = None
        self._correct = 0
        self._seen = 0

    def phases(self) -> list[Phase]:
        (phase,) = super().phases()
        return [dataclasses.replace(phase, milestones=tuple(self.recipe["milestones"]), gamma=self.recipe["lr_decay"])]

    def training_step(self, ctx: StepContext, batch) -> dict[str, torch.Tensor]:
        images, targets = batch[0], batch[1]
        logits, z = ctx.model(images, return_embedding=True)
        ce = F.cross_entropy(logits, targets)
        self._correct = self._correct + (logits.argmax(1) == targets).sum()  # a tensor: no device sync per step
        self._seen += len(targets)
        if not self.penalised:
            return {"loss": ce}
        penalty = self.schedule.penalty(z, self.gamma)
        return {"loss": ce + penalty, "ce": ce.detach(), "penalty": penalty.detach()}

    def on_epoch_end(self, ctx: StepContext) -> dict[str, float]:
        scalars: dict[str, float] = {}
        if self.penalised:
            scalars["gamma"] = self.gamma  # the value this epoch trained with
            self.gamma = self.schedule.next_gamma(self.gamma, self.gamma_rate)
        if self._seen:
            scalars["train_acc"] = int(self._correct) / self._seen
            if self.convergence_epoch is None and scalars["train_acc"] > self.recipe["convergence_threshold"]:
                self.convergence_epoch = ctx.epoch + 1
        if self.convergence_epoch is not None:
            scalars["convergence_epoch"] = float(self.convergence_epoch)
        self._correct = self._seen = 0
        return scalars

    def state_dict(self) -> dict[str, Any]:
        return {"gamma": self.gamma, "convergence_epoch": self.convergence_epoch,
                "correct": int(self._correct), "seen": self._seen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gamma = float(state["gamma"])
        self.convergence_epoch = state["convergence_epoch"]
        self._correct = int(state["correct"])
        self._seen = int(state["seen"])
