"""The FFCL twin network: two MLPs of identical shape and independent random initialisation.

Both twins see the same input. The net follows the neurozoo protocol:

- ``embed(x)`` returns the last hidden layer of twin A and of twin B, concatenated (N, 2 * width);
- ``classify(z)`` applies each twin's output layer to its half of ``z`` and returns
  log-probabilities: ``log(mean(softmax_A, softmax_B))`` (``predict="mean"``, the default), or
  one twin's log-softmax (``predict="a"`` / ``"b"``). Log-probabilities are valid logits
  (``softmax`` of them gives the probabilities back), so argmax, cross-entropy, calibration and
  attack metrics apply unchanged.

Locality: the ``ffcl`` method sets ``local = True`` (its ``adapt_model``). Then, in training mode
only, every layer's input is detached, so no gradient crosses a layer boundary whatever loss is
backpropagated. In eval mode the graph is whole, so input gradients (adversarial attacks,
saliency) are exact rather than masked. Without the flag (e.g. ``baseline`` on ``ffcl_mlp``) the
twins are an ordinary backprop-trained two-member ensemble.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

PREDICTIONS = ("mean", "a", "b")


class Twin(nn.Module):
    """One twin: hidden blocks (Linear -> ReLU) and a linear output layer."""

    def __init__(self, widths: Sequence[int], num_classes: int):
        super().__init__()
        self.hidden = nn.ModuleList(
            nn.Sequential(nn.Linear(fan_in, fan_out), nn.ReLU()) for fan_in, fan_out in zip(widths, widths[1:])
        )
        self.out = nn.Linear(widths[-1], num_classes)


class TwinMLP(nn.Module):
    """Twins A and B (Flatten -> hidden Linear+ReLU blocks -> Linear output), see the module docstring."""

    def __init__(self, num_classes: int, in_chans: int = 1, image_size: int = 28,
                 hidden: Sequence[int] = (64, 64), predict: str = "mean"):
        super().__init__()
        hidden = tuple(int(w) for w in hidden)
        if not hidden or min(hidden) < 1:
            raise ValueError(f"ffcl_mlp needs at least one hidden layer of positive width, got hidden={hidden!r}")
        if predict not in PREDICTIONS:
            raise ValueError(f"ffcl_mlp: predict must be one of {PREDICTIONS}, got {predict!r}")
        self.predict = predict
        self.local = False
        widths = (in_chans * image_size * image_size, *hidden)
        # two independent constructions = two independent random initialisations
        self.twins = nn.ModuleList([Twin(widths, num_classes), Twin(widths, num_classes)])

    def layer_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """``(A_l, B_l)`` for every layer, hidden blocks first, output layers last."""
        a, b = self.twins
        return [*zip(a.hidden, b.hidden), (a.out, b.out)]

    def _layer_input(self, h: torch.Tensor) -> torch.Tensor:
        return h.detach() if self.local and self.training else h

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        lasts = []
        for twin in self.twins:
            h = x
            for block in twin.hidden:
                h = block(self._layer_input(h))
            lasts.append(h)
        return torch.cat(lasts, dim=1)

    def classify(self, z: torch.Tensor) -> torch.Tensor:
        # both output layers always run: training reads both (through hooks), whatever `predict` is
        log_probs = [F.log_softmax(twin.out(self._layer_input(part)), dim=1)
                     for twin, part in zip(self.twins, z.chunk(2, dim=1))]
        if self.predict == "a":
            return log_probs[0]
        if self.predict == "b":
            return log_probs[1]
        return torch.logsumexp(torch.stack(log_probs), dim=0) - math.log(2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.embed(x))


def ffcl_mlp(num_classes: int, in_chans: int = 1, **kwargs) -> TwinMLP:
    return TwinMLP(num_classes, in_chans, **kwargs)
