"""The optimiser and learning-rate schedule of a :class:`~neurozoo.training.method.Phase`.

Optimisers come from timm's factory: "sgd" is SGD with Nesterov momentum, and biases and
normalisation parameters get no weight decay. Schedules step once per optimiser step, so a
resume mid-epoch continues the curve exactly.
"""

from __future__ import annotations

from torch import nn
from torch.optim import Optimizer, lr_scheduler

from neurozoo.training.method import Phase


def build_optimizer(phase: Phase, modules: nn.Module) -> Optimizer:
    from timm.optim import create_optimizer_v2

    kwargs = {"momentum": phase.momentum} if phase.optimizer == "sgd" else {}
    return create_optimizer_v2(modules, opt=phase.optimizer, lr=phase.lr, weight_decay=phase.weight_decay, **kwargs)


def build_scheduler(phase: Phase, optimizer: Optimizer, steps_per_epoch: int) -> lr_scheduler.LRScheduler:
    total_steps = max(1, phase.epochs * steps_per_epoch)
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
