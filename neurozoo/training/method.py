"""What a method gives the training engine, and the plain cross-entropy behaviour it starts from.

The engine owns the loop, devices, precision, distribution, checkpointing and logging. A method
owns its phases, its losses, its gradient routing and its own resumable state:

- ``phases()``: one or more :class:`Phase` (epochs, optimiser, schedule) run in order.
- ``training_step(ctx, batch)``: returns ``{"loss": tensor, **scalars}``; the engine calls
  ``loss.backward()`` and steps the optimiser. Methods without end-to-end backpropagation
  return a loss whose gradients are already local (inputs detached per layer), or route
  gradients with ``torch.autograd.grad`` and return the sum of the routed parts; either way
  one ``backward()`` must produce the gradients the method wants.
- ``extra_modules()``: trainable modules that are not part of the exported model (e.g. a
  neuromodulator MLP); the engine moves, optimises, checkpoints and resumes them.
- ``state_dict()`` / ``load_state_dict()``: non-module state that must survive a resume
  (e.g. an epoch-dependent loss weight).
- ``on_epoch_start(ctx)`` / ``on_epoch_end(ctx)``: schedules; ``on_epoch_end`` may return scalars
  to log.

Recipe options are declared in ``options`` with their defaults; unknown options are errors. Each
value is checked against its default's type, and against ``option_checks`` (ranges, choices, the type
of an option whose default is None; see :class:`neurozoo.options.Option`), before any data is read.
Options listed in ``model_options`` change the module tree and are stored in the checkpoint
config as ``method_kwargs`` (the method's ``adapt_model`` rebuilds them at load time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from neurozoo.errors import ConfigError
from neurozoo.options import Option, check_options

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "onecycle", "step", "constant")


@dataclass(frozen=True)
class Phase:
    """A stretch of training with one optimiser and one learning-rate schedule."""

    name: str
    epochs: int
    lr: float
    optimizer: str = "adamw"
    weight_decay: float = 5e-4
    # False: biases and normalisation parameters get no weight decay (timm's filter_bias_and_bn)
    weight_decay_all: bool = False
    momentum: float = 0.9  # sgd only (nesterov)
    schedule: str = "cosine"
    milestones: tuple[int, ...] = ()  # "step": epochs (within the phase) where lr is multiplied by gamma
    gamma: float = 0.1
    grad_clip: float | None = None
    warmup_epochs: float = 0.0  # linear lr warm-up at the start (may be a fraction of an epoch)
    # True: keep the previous phase's optimiser (momentum) and schedule, which then spans both
    # phases (neurozoo.training.optim.schedule_span); the optimiser fields must equal its own
    continue_from_previous: bool = False

    def __post_init__(self):
        if not isinstance(self.epochs, int) or self.epochs < 0:
            raise ValueError(f"phase {self.name!r}: epochs must be a non-negative int, got {self.epochs!r}")
        if not self.lr > 0:
            raise ValueError(f"phase {self.name!r}: lr must be > 0, got {self.lr!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"phase {self.name!r}: optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"phase {self.name!r}: schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not self.warmup_epochs >= 0:
            raise ValueError(f"phase {self.name!r}: warmup_epochs must be >= 0, got {self.warmup_epochs!r}")
        if self.warmup_epochs and (self.schedule == "onecycle" or self.continue_from_previous):
            raise ValueError(f"phase {self.name!r}: warmup_epochs needs a phase that starts its own schedule "
                             "(not continue_from_previous) other than 'onecycle', which warms up by itself")


@dataclass
class StepContext:
    """What a method sees at each step. Call ``model`` for forward passes (it may be DDP-wrapped);
    use ``net`` (the unwrapped ``NeurozooModel``) to reach submodules."""

    model: nn.Module
    net: nn.Module
    phase: Phase
    phase_index: int
    epoch: int  # global epoch, from 0
    epoch_in_phase: int
    step: int  # global optimiser step, from 0
    device: torch.device
    num_classes: int


class TrainingMethod:
    """Plain supervised training with cross-entropy; methods subclass and override what is theirs."""

    name: ClassVar[str] = "baseline"
    options: ClassVar[dict[str, Any]] = {
        "epochs": 30,
        "lr": 1e-3,
        "optimizer": "adamw",
        "weight_decay": 5e-4,
        "weight_decay_all": False,
        "schedule": "onecycle",
        "label_smoothing": 0.0,
        "grad_clip": None,
    }
    # one line per option for `neurozoo info METHOD`; a method adds the docs of the options it adds
    option_docs: ClassVar[dict[str, str]] = {
        "epochs": "epochs of training",
        "lr": "peak learning rate",
        "optimizer": "sgd (Nesterov momentum 0.9), adam or adamw",
        "weight_decay": "weight decay (none on biases and normalisation parameters unless weight_decay_all)",
        "weight_decay_all": "true: weight decay on every parameter, biases and normalisation parameters included",
        "schedule": "learning-rate schedule: cosine, onecycle, step or constant",
        "label_smoothing": "label smoothing of the cross-entropy, in [0, 1)",
        "grad_clip": "clip the gradient norm to this value (None: no clipping)",
    }
    # checks of options whose default alone says too little; they apply to the options a method has
    option_checks: ClassVar[dict[str, Option]] = {
        "epochs": Option(ge=0),  # per phase; a recipe must train at least one epoch in all (see run)
        "lr": Option(gt=0),
        "optimizer": Option(choices=OPTIMIZERS),
        "weight_decay": Option(ge=0),
        "schedule": Option(choices=SCHEDULES),
        "label_smoothing": Option(ge=0, lt=1),
        "grad_clip": Option(float, gt=0),
    }
    model_options: ClassVar[tuple[str, ...]] = ()
    # Model options that make this method its own same-budget baseline: the paper's control network
    # trained by the method's recipe (binenc: {"variant": "nopen"}). A checkpoint whose method_kwargs
    # hold them is a baseline, as the baseline method's are (neurozoo.registry.is_baseline).
    baseline_options: ClassVar[dict[str, Any]] = {}
    # Architectures that are this method's baseline networks, trained by its recipe beside its own nets
    # (kuramoto: ("realnet",), the paper's parameter-matched real-valued net): their checkpoints are
    # baselines too.
    baseline_archs: ClassVar[tuple[str, ...]] = ()
    # Engine settings this method's recipe changes from the engine's defaults (e.g. a paper that
    # trains without augmentation: {"augment": False}); explicit arguments still win.
    engine_defaults: ClassVar[dict[str, Any]] = {}
    # "fp32" when bf16 autocast does not compute this method's gradients faithfully: its steps then
    # run without autocast, in training and evaluation, whatever precision is asked for
    # (neurozoo.training.precision; architectures and modules declare their own).
    precision: ClassVar[str | None] = None
    # True when the recipe's epochs only set how long the last phase runs, nothing else (no milestone,
    # phase split or penalty growth is derived from them): a finished or stopped run at a constant
    # learning rate may then be resumed with more epochs and ends as a run started with them would
    # (neurozoo.training.run). False by default: a subclass that derives anything from the budget
    # would otherwise be extended silently into another recipe.
    extendable: ClassVar[bool] = False
    # Under DDP: set True when some model parameters get no gradient in a step (the engine then
    # wraps the model with ``find_unused_parameters=True``, which costs a graph walk per step).
    find_unused_parameters: ClassVar[bool] = False

    def __init__(self, **recipe: Any):
        unknown = sorted(set(recipe) - set(self.options))
        if unknown:
            raise ConfigError(
                f"method {self.name!r} has no option(s) {unknown}; its options are {sorted(self.options)}"
            )
        given = check_options({k: v for k, v in recipe.items() if v is not None}, self.options,
                              self.option_checks, f"method {self.name!r}")
        self.recipe = {**self.options, **given}

    def method_kwargs(self) -> dict[str, Any]:
        return {k: self.recipe[k] for k in self.model_options}

    def phases(self) -> list[Phase]:
        r = self.recipe
        return [
            Phase(
                "train",
                epochs=r["epochs"],
                lr=r["lr"],
                optimizer=r["optimizer"],
                weight_decay=r["weight_decay"],
                weight_decay_all=r.get("weight_decay_all", False),  # methods may drop the option
                schedule=r["schedule"],
                grad_clip=r.get("grad_clip"),  # methods whose layers learn apart may drop this option
            )
        ]

    def extra_modules(self) -> nn.Module | None:
        return None

    def training_step(self, ctx: StepContext, batch) -> dict[str, torch.Tensor]:
        images, targets = batch[0], batch[1]
        logits = ctx.model(images)
        loss = F.cross_entropy(logits, targets, label_smoothing=self.recipe["label_smoothing"])
        return {"loss": loss}

    def on_epoch_start(self, ctx: StepContext) -> None:
        pass

    def on_epoch_end(self, ctx: StepContext) -> dict[str, float] | None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass
