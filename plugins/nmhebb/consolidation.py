"""The optional elastic-weight-consolidation term of NM-Hebb phase 1 (off by default: lambda_ewc = 0).

    EWC = sum_i F_i (theta_i - theta*_i)^2

The paper gates an EWC-style consolidation with the neuromodulator but, training one task, does
not say where the anchor theta* and the Fisher F come from. Reading [reading]: consolidation
protects what the network learned so far, so at the first step of every phase-1 epoch after the
first, theta* becomes the current weights and F the diagonal empirical Fisher estimated on that
step's batch (the squared gradient of its mean cross-entropy). The estimate uses the unwrapped
model, so it does not interfere with a distributed wrapper's gradient reduction.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class ElasticAnchor:
    """theta* and F for the trainable parameters of a model; ``penalty`` is the EWC sum."""

    def __init__(self):
        self.anchor: list[torch.Tensor] | None = None
        self.fisher: list[torch.Tensor] | None = None
        self.epoch: int | None = None

    @staticmethod
    def _parameters(model: nn.Module) -> list[nn.Parameter]:
        return [p for p in model.parameters() if p.requires_grad]

    def refresh(self, model: nn.Module, loss_fn: Callable[[], torch.Tensor], epoch: int) -> None:
        """Anchor at the current weights; F = (d loss_fn() / d theta)^2."""
        params = self._parameters(model)
        grads = torch.autograd.grad(loss_fn(), params, allow_unused=True)
        self.fisher = [torch.zeros_like(p) if g is None else g.detach().pow(2) for p, g in zip(params, grads)]
        self.anchor = [p.detach().clone() for p in params]
        self.epoch = epoch

    def penalty(self, model: nn.Module) -> torch.Tensor:
        if self.anchor is None:
            raise RuntimeError("ElasticAnchor.penalty called before refresh")
        params = self._parameters(model)
        return sum(
            (f.to(p.device) * (p.float() - a.to(p.device).float()).pow(2)).sum()
            for p, a, f in zip(params, self.anchor, self.fisher)
        )

    def state_dict(self) -> dict:
        return {"anchor": self.anchor, "fisher": self.fisher, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.anchor, self.fisher, self.epoch = state["anchor"], state["fisher"], state["epoch"]
