"""The penalty on the penultimate code z and its per-epoch schedules.

    v3: penalty = gamma_e * mean(z^2),   gamma_0 = 0.01, gamma_{e+1} = 1.084 * gamma_e   (200 epochs)
    v4: penalty = gamma_e * mean(z^2),   gamma_0 = 0.01, gamma_{e+1} = min(1.05 * gamma_e, 1e6)   (800)
    v1: penalty = 10 * exp(mean(z^2))    (a constant weight: gamma_e = 10 for every epoch)

mean(z^2) is over batch and code dimensions, as the authors' ``mse_loss(z, 0)``. The authors grow
gamma while it is below the cap (so it may end just above it); here the cap is a hard ``min``.

Budget scaling: a run of E epochs can follow a schedule compressed to its length, with the rate
``rate ** (epochs / E)`` (``epochs``: the length of the paper's runs), so that gamma ends where the
paper's run ends: v3 at 50 epochs multiplies by 1.084 ** 4 = 1.381 per epoch, at 20 by 2.240.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PenaltySchedule:
    name: str
    gamma0: float
    rate: float  # gamma_{e+1} = rate * gamma_e, per epoch
    cap: float  # gamma never exceeds it
    form: Callable[[torch.Tensor], torch.Tensor]  # applied to mean(z^2)
    epochs: int | None  # the length of the paper's runs with this schedule (None: gamma is constant)

    def budget_rate(self, epochs: int) -> float:
        """The per-epoch rate that takes gamma as far in ``epochs`` as the paper's runs go."""
        return self.rate if self.epochs is None else self.rate ** (self.epochs / epochs)

    def next_gamma(self, gamma: float, rate: float | None = None) -> float:
        return min(gamma * (self.rate if rate is None else rate), self.cap)

    def penalty(self, z: torch.Tensor, gamma: float) -> torch.Tensor:
        return gamma * self.form(z.float().pow(2).mean())


SCHEDULES = {
    "v3": PenaltySchedule("v3", gamma0=0.01, rate=1.084, cap=math.inf, form=lambda m: m, epochs=200),
    "v4": PenaltySchedule("v4", gamma0=0.01, rate=1.05, cap=1e6, form=lambda m: m, epochs=800),
    "v1": PenaltySchedule("v1", gamma0=10.0, rate=1.0, cap=math.inf, form=torch.exp, epochs=None),
}


def get_schedule(name: str) -> PenaltySchedule:
    if name not in SCHEDULES:
        raise ValueError(f"binenc: penalty must be one of {sorted(SCHEDULES)}, got {name!r}")
    return SCHEDULES[name]
