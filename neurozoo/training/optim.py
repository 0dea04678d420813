"""The optimiser and learning-rate schedule of a :class:`~neurozoo.training.method.Phase`.

Optimisers come from timm's factory: "sgd" is SGD with Nesterov momentum, and biases and
normalisation parameters get no weight decay unless the phase sets ``weight_decay_all``. Schedules
step once per optimiser step, so a resume mid-epoch continues the curve exactly.

A phase with ``continue_from_previous=True`` shares the optimiser and schedule of the phase
before it: the phases of such a chain are one stretch of optimisation (momentum kept, one
schedule over all their epochs), as if they were one phase whose loss changes on the way.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn
from torch.optim import Optimizer, lr_scheduler

from neurozoo.training.method import Phase


# what a continuing phase shares with the phase it continues (its loss and grad_clip may differ)
_SHARED_FIELDS = ("optimizer", "lr", "weight_decay", "weight_decay_all", "momentum", "schedule", "milestones", "gamma")


def schedule_span(phases: Sequence[Phase], index: int) -> range:
    """The indices of the phases that share one optimiser and schedule with phase ``index``."""
    if phases[0].continue_from_previous:
        raise ValueError(f"phase {phases[0].name!r} is the first phase: it has no previous phase to continue")
    first = index
    while phases[first].continue_from_previous:
        first -= 1
    last = index
    while last + 1 < len(phases) and phases[last + 1].continue_from_previous:
        last += 1
    head = phases[first]
    for phase in phases[first + 1:last + 1]:
        differing = [f for f in _SHARED_FIELDS if getattr(phase, f) != getattr(head, f)]
        if differing:
            raise ValueError(
                f"phase {phase.name!r} continues {head.name!r}'s optimiser and schedule but sets other "
                f"{', '.join(differing)}: give it {head.name!r}'s values or a fresh optimiser "
                "(continue_from_previous=False)"
            )
    return range(first, last + 1)


def build_optimizer(phase: Phase, modules: nn.Module) -> Optimizer:
    from timm.optim import create_optimizer_v2

    kwargs = {"momentum": phase.momentum} if phase.optimizer == "sgd" else {}
    return create_optimizer_v2(modules, opt=phase.optimizer, lr=phase.lr, weight_decay=phase.weight_decay,
                               filter_bias_and_bn=not phase.weight_decay_all, **kwargs)


def build_scheduler(phase: Phase, optimizer: Optimizer, steps_per_epoch: int,
                    epochs: int | None = None) -> lr_scheduler.LRScheduler:
    """``phase``'s schedule over ``epochs`` (default: the phase's own; a chain passes its total),
    after a linear warm-up of ``phase.warmup_epochs`` from lr / (warm-up steps + 1)."""
    total_steps = max(1, (phase.epochs if epochs is None else epochs) * steps_per_epoch)
    warmup_steps = min(round(phase.warmup_epochs * steps_per_epoch), total_steps - 1)
    if warmup_steps <= 0:
        return _schedule(phase, optimizer, steps_per_epoch, total_steps)
    warmup = lr_scheduler.LinearLR(optimizer, start_factor=1 / (warmup_steps + 1), total_iters=warmup_steps)
    after = _schedule(phase, optimizer, steps_per_epoch, total_steps - warmup_steps)
    return lr_scheduler.SequentialLR(optimizer, [warmup, after], milestones=[warmup_steps])


def _schedule(phase: Phase, optimizer: Optimizer, steps_per_epoch: int, total_steps: int) -> lr_scheduler.LRScheduler:
    if phase.schedule == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if phase.schedule == "onecycle":
        # momentum (Adam: beta1) dips by 0.05 while the lr peaks, as in the one-cycle recipe
        return lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=phase.lr,
            total_steps=total_steps,
            max_momentum=phase.momentum,
            base_momentum=phase.momentum - 0.05,
        )
    if phase.schedule == "step":
        milestones = [epoch * steps_per_epoch for epoch in phase.milestones]
        return lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=phase.gamma)
    return lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
