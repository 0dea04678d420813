"""The penalty on the penultimate code z and its per-epoch schedules.

    v3: penalty = gamma_e * mean(z^2),   gamma_0 = 0.01, gamma_{e+1} = 1.084 * gamma_e
    v4: penalty = gamma_e * mean(z^2),   gamma_0 = 0.01, gamma_{e+1} = min(1.05 * gamma_e, 1e6)
    v1: penalty = 10 * exp(mean(z^2))    (a constant weight: gamma_e = 10 for every epoch)

mean(z^2) is over batch and code dimensions, as the authors' ``mse_loss(z, 0)``. The authors grow
gamma while it is below the cap (so it may end just above it); here the cap is a hard ``min``.
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

    def next_gamma(self, gamma: float) -> float:
        return min(gamma * self.rate, self.cap)

    def penalty(self, z: torch.Tensor, gamma: float) -> torch.Tensor:
        return gamma * self.form(z.float().pow(2).mean())


SCHEDULES = {
    "v3": PenaltySchedule("v3", gamma0=0.01, rate=1.084, cap=math.inf, form=lambda m: m),
    "v4": PenaltySchedule("v4", gamma0=0.01, rate=1.05, cap=1e6, form=lambda m: m),
    "v1": PenaltySchedule("v1", gamma0=10.0, rate=1.0, cap=math.inf, form=torch.exp),
}


def get_schedule(name: str) -> PenaltySchedule:
    if name not in SCHEDULES:
        raise ValueError(f"binenc: penalty must be one of {sorted(SCHEDULES)}, got {name!r}")
    return SCHEDULES[name]
