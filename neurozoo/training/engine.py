"""One process's share of training: the model, the method's extra modules, the optimiser of the
current phase, and the training step.

The step is the same for every method: move the batch (channels_last), run the method's
``training_step`` under the precision policy (bf16 autocast with the float32 regions the method
and architecture declare, see ``neurozoo.training.precision``), one ``backward()``, average the
gradients of modules DDP does not see, clip, step the optimiser and the schedule.
``neurozoo.train`` drives it epoch by epoch; the benchmarks time it directly.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neurozoo import registry
from neurozoo.evaluation.accuracy import exact_set_correct
from neurozoo.model import create_model
from neurozoo.training import precision as precision_policy
from neurozoo.training.devices import to_device
from neurozoo.training.distributed import DistInfo, average_gradients, sum_across, wrap_model
from neurozoo.training.method import Phase, StepContext
from neurozoo.training.optim import build_optimizer, build_scheduler, schedule_span


def build_engine(method: str, arch: str, dataset: str, *, trainer=None, arch_kwargs=None, **engine_options) -> Engine:
    """The engine for ``arch`` (built with ``arch_kwargs``) trained by ``method`` (default recipe
    unless ``trainer`` is given) on images shaped like ``dataset``'s; ``engine_options`` as in
    :class:`Engine`."""
    if trainer is None:
        trainer = registry.get_method(method).trainer()
    model = create_model(arch, dataset=dataset, method=method, method_kwargs=trainer.method_kwargs(),
                         **(arch_kwargs or {}))
    return Engine(trainer, model, **engine_options)


class Engine:
    def __init__(self, trainer, model: nn.Module, *, device: torch.device, precision: str = "bf16",
                 channels_last: bool = True, info: DistInfo = DistInfo()):
        self.trainer = trainer
        self.device = device
        self.precision = precision
        self.policy = precision_policy.resolve(model, precision, trainer)  # what autocast may touch
        self.channels_last = channels_last
        self.info = info
        memory_format = torch.channels_last if channels_last else torch.preserve_format
        self.net = model.to(device, memory_format=memory_format)
        extra = trainer.extra_modules()
        self.extra = extra.to(device) if extra is not None else None
        self.model = wrap_model(self.net, info, device, getattr(trainer, "find_unused_parameters", False))
        self.phases: list[Phase] = trainer.phases()
        self.num_classes = model.config["num_classes"]
        self.step_count = 0  # optimiser steps over the whole run
        self.epoch = 0
        self.phase_index = 0
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler = None
        self.saved_phase: dict[str, Any] | None = None  # from load_state_dict, for the next start_phase only

    @property
    def phase(self) -> Phase:
        return self.phases[self.phase_index]

    @property
    def trainable(self) -> nn.ModuleList:
        """Everything the optimiser updates: the model and the method's extra modules."""
        return nn.ModuleList([self.net] if self.extra is None else [self.net, self.extra])

    def first_epoch(self, phase_index: int) -> int:
        return sum(p.epochs for p in self.phases[:phase_index])

    def start_phase(self, phase_index: int, steps_per_epoch: int) -> None:
        """A fresh optimiser and schedule for phase ``phase_index``, unless it continues the phase
        that just ran (``Phase.continue_from_previous``): then both are kept, momentum and all, and
        the schedule, built over every phase of the chain, goes on.

        The first phase started after :meth:`load_state_dict` restores the optimiser and schedule
        saved in that state if they belong to its chain (saved inside it, or inside a phase it
        continues). Only that first one: a later phase of the chain goes on with the live optimiser,
        not with the state the run was resumed from."""
        span = schedule_span(self.phases, phase_index)
        keep = self.optimizer is not None and span[0] <= self.phase_index < phase_index
        self.phase_index = phase_index
        if not keep:
            head = self.phases[span[0]]
            self.optimizer = build_optimizer(head, self.trainable)
            self.scheduler = build_scheduler(head, self.optimizer, steps_per_epoch,
                                             epochs=sum(self.phases[i].epochs for i in span))
        saved, self.saved_phase = self.saved_phase, None
        if saved is not None and saved["index"] in span and saved["optimizer"] is not None:
            self.optimizer.load_state_dict(saved["optimizer"])
            self.scheduler.load_state_dict(saved["scheduler"])

    def context(self) -> StepContext:
        return StepContext(
            model=self.model,
            net=self.net,
            phase=self.phase,
            phase_index=self.phase_index,
            epoch=self.epoch,
            epoch_in_phase=self.epoch - self.first_epoch(self.phase_index),
            step=self.step_count,
            device=self.device,
            num_classes=self.num_classes,
        )

    def train_mode(self) -> None:
        self.trainable.train()

    def autocast(self):
        """The precision context of this engine's forward passes (training and evaluation)."""
        return precision_policy.autocast(self.net, self.policy, self.device)

    def gradients(self, batch) -> dict[str, torch.Tensor]:
        """The method's forward on ``batch`` and one backward: the gradients a step applies (before
        clipping) are left in ``.grad``; returns the method's outputs (the loss still attached)."""
        batch = to_device(batch, self.device, self.channels_last)
        self.trainable.zero_grad(set_to_none=True)
        with self.autocast():
            out = self.trainer.training_step(self.context(), batch)
        out["loss"].backward()
        if self.extra is not None:
            average_gradients(list(self.extra.parameters()), self.info)
        return out

    def step(self, batch) -> dict[str, torch.Tensor]:
        """One optimiser step on ``batch``; returns the method's scalars (detached)."""
        out = self.gradients(batch)
        if self.phase.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.trainable.parameters(), self.phase.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.step_count += 1
        return {k: v.detach() if isinstance(v, torch.Tensor) else torch.tensor(float(v)) for k, v in out.items()}

    @torch.inference_mode()
    def evaluate(self, loader, task: str, prefix: str = "test") -> dict[str, float]:
        """Loss and top-1 (multiclass) or exact-set accuracy (multi-label, the shared evaluation's
        rule) over all processes' shards, named ``{prefix}_loss`` etc.

        Runs on the unwrapped model in eval mode, under a forked random stream so that
        evaluating (or evaluating less, ``eval_limit``) never changes the training that follows.
        """
        self.net.eval()
        totals = torch.zeros(3, dtype=torch.float64, device=self.device)  # loss sum, correct, count
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            for batch in loader:
                images, targets = to_device(tuple(batch[:2]), self.device, self.channels_last)
                with self.autocast(), self.net.batch_masks(batch, self.net.config.get("dataset")):  # an oracle reads masks
                    logits = self.net(images)
                logits = logits.float()
                if task == "multiclass":
                    totals[0] += F.cross_entropy(logits, targets, reduction="sum")
                    totals[1] += (logits.argmax(1) == targets).sum()
                else:
                    losses = F.binary_cross_entropy_with_logits(logits, targets.float(), reduction="none")
                    totals[0] += losses.mean(1).sum()
                    totals[1] += exact_set_correct(logits, targets).sum()
                totals[2] += len(targets)
        loss_sum, correct, count = sum_across(totals, self.info).tolist()
        accuracy = "top1" if task == "multiclass" else "exact_set"
        return {f"{prefix}_loss": loss_sum / count, f"{prefix}_{accuracy}": correct / count}

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.net.state_dict(),
            "extra_modules": self.extra.state_dict() if self.extra is not None else None,
            "method": self.trainer.state_dict(),
            "step": self.step_count,
            "phase": {
                "index": self.phase_index,
                "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Weights, method state and step counter; the optimiser and schedule are restored by the
        next :meth:`start_phase`."""
        self.net.load_state_dict(state["model"])
        if self.extra is not None:
            self.extra.load_state_dict(state["extra_modules"])
        self.trainer.load_state_dict(state["method"])
        self.step_count = state["step"]
        self.saved_phase = state["phase"]
