"""The neuromodulator nu(CE) in (0, 1) that gates NM-Hebb's phase-1 regularisers.

The paper writes nu_phi(CE) = sigmoid(MLP_phi(CE.detach())) and trains phi on the phase-1 loss.
Taken literally that drives the gate to 0: the gated terms are non-negative, so the loss always
falls by closing the gate. NM-Hebb says what the gate is for, "high CE opens it, falling error
relaxes it", so neurozoo gives phi its own objective [reading]:

- ``gate="mlp"`` (default): the paper's two-layer MLP phi, trained to predict the batch's error
  rate (the fraction of misclassified images) from its CE, with a binary cross-entropy against that
  observed rate. The gate is thus the neuromodulator's estimate of "how wrong the network is now",
  never pushed to 0 or 1 by the loss it gates; it enters the phase-1 loss detached, so only this
  objective moves phi. phi is a residual on the fixed map below, nu = sigmoid(a * c + b +
  MLP_phi(c)) with c = CE / ln K, and the MLP's output layer zero-initialised: the gate is a sensible monotone
  function of CE from the first step (a freshly initialised MLP would give ~0.5 for every CE, and
  at the network's learning rate it takes thousands of steps to learn a slope), and phi then bends
  it toward the observed error rates.
- ``gate="fixed"``: the monotone map sigmoid(a * c + b), no learning.

Both read CE divided by ln K (the loss of a uniform guess over K classes), so one set of defaults
serves any number of classes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

GATES = ("mlp", "fixed")


def scaled_ce(ce: torch.Tensor, num_classes: int) -> torch.Tensor:
    """CE / ln K, detached, float32: 1 at chance level, 0 for a perfect fit."""
    if num_classes < 2:
        raise ValueError(f"nmhebb's gate needs at least 2 classes, got num_classes={num_classes}")
    return ce.detach().float() / math.log(num_classes)


def monotone_logit(ce_scaled: torch.Tensor, a: float, b: float) -> torch.Tensor:
    """a * CE / ln K + b: increasing in CE (a > 0)."""
    return a * ce_scaled + b


class Neuromodulator(nn.Module):
    """phi: scaled CE c -> gate logit a * c + b + MLP_phi(c), MLP = Linear(1, hidden) -> tanh -> Linear(hidden, 1).

    Elementwise: a scalar CE gives a scalar logit, a tensor of CEs a tensor of logits.
    """

    def __init__(self, a: float = 4.0, b: float = -2.0, hidden: int = 16):
        super().__init__()
        if not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"nmhebb: gate_hidden must be a positive int, got {hidden!r}")
        self.a, self.b = float(a), float(b)
        self.mlp = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        nn.init.zeros_(self.mlp[2].weight)  # start exactly at the fixed map
        nn.init.zeros_(self.mlp[2].bias)

    def forward(self, ce_scaled: torch.Tensor) -> torch.Tensor:
        # a scalar MLP: float32 costs nothing, and bf16 autocast would quantise the logged gate
        with torch.autocast(ce_scaled.device.type, enabled=False):
            c = ce_scaled.float().reshape(-1, 1)
            return (monotone_logit(c, self.a, self.b) + self.mlp(c)).reshape(ce_scaled.shape)


def error_rate(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The fraction of the batch the network misclassifies: phi's regression target."""
    return (logits.detach().argmax(dim=1) != targets).float().mean()


def neuromodulator_loss(gate_logit: torch.Tensor, observed_error_rate: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the gate against the observed error rate (a soft target in [0, 1])."""
    return F.binary_cross_entropy_with_logits(gate_logit.float(), observed_error_rate.float())


def fixed_gate(ce_scaled: torch.Tensor, a: float, b: float) -> torch.Tensor:
    """sigmoid(a * CE / ln K + b): the gate without learning."""
    return torch.sigmoid(monotone_logit(ce_scaled, a, b))
