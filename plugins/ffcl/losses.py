"""FFCL's per-layer losses and the forward hooks that read each layer's output.

Hidden layer l:  loss_l = 1 - cos(h_l^A, h_l^B), averaged over the batch (cosine embedding loss
with target +1: the twins are pushed to agree; there are no negative pairs).
Output layer:    loss_L = BCE(softmax(logits^A), onehot(y)) + BCE(softmax(logits^B), onehot(y)),
each BCE averaged over batch and classes (``torch.nn.functional.binary_cross_entropy``).

neurozoo's variant (not in the paper): ``spread_loss`` adds, per hidden layer and twin, the
variance and covariance terms of VICReg (Bardes, Ponce & LeCun, ICLR 2022) on that layer's own
output. The paper's positives-only agreement is satisfied by a constant code; these terms keep
every unit's spread over the batch up and the units decorrelated. They read only the layer's
output, whose input is detached, so the update stays local.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


@contextmanager
def recorded_outputs(pairs: Sequence[tuple[nn.Module, nn.Module]]) -> Iterator[list[list[torch.Tensor | None]]]:
    """Record the output of every module of ``pairs`` during the forward passes run inside the block.

    Hooks (rather than a second forward method) let the method call the model itself, so a
    DDP-wrapped model still synchronises the gradients.
    """
    outputs: list[list[torch.Tensor | None]] = [[None, None] for _ in pairs]
    handles = []
    for index, pair in enumerate(pairs):
        for side, module in enumerate(pair):
            def keep(_module, _inputs, output, index=index, side=side):
                outputs[index][side] = output
            handles.append(module.register_forward_hook(keep))
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


def agreement_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """1 - cos(a, b) per sample, averaged: the hidden-layer loss."""
    return F.cosine_embedding_loss(a, b, torch.ones(a.shape[0], device=a.device, dtype=a.dtype))


def spread_loss(h: torch.Tensor, variance_weight: float, covariance_weight: float) -> torch.Tensor:
    """VICReg's variance hinge (each unit's batch std pushed up to 1) and covariance penalty
    (squared off-diagonal covariances / width) on one layer's code ``h`` (N, D)."""
    h = h.float()
    std = torch.sqrt(h.var(dim=0) + 1e-4)
    variance = F.relu(1 - std).mean()
    centered = h - h.mean(dim=0)
    covariance = centered.T @ centered / (h.shape[0] - 1)
    off_diagonal = covariance - torch.diag(torch.diagonal(covariance))
    return variance_weight * variance + covariance_weight * off_diagonal.pow(2).sum() / h.shape[1]


def output_loss(logits_a: torch.Tensor, logits_b: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """BCE on each twin's softmax against the one-hot target, summed over the twins."""
    # binary_cross_entropy refuses autocast (it is unsafe in half precision): compute it in fp32
    with torch.autocast(device_type=logits_a.device.type, enabled=False):
        onehot = F.one_hot(targets, logits_a.shape[1]).float()
        return sum(F.binary_cross_entropy(torch.softmax(logits.float(), dim=1), onehot)
                   for logits in (logits_a, logits_b))


def layer_losses(outputs: Sequence[Sequence[torch.Tensor]], targets: torch.Tensor, variance_weight: float = 0.0,
                 covariance_weight: float = 0.0) -> list[torch.Tensor]:
    """One loss per layer from the recorded ``(A_l, B_l)`` outputs (output layer last); with a
    non-zero weight, each hidden layer's loss gains ``spread_loss`` of both twins' codes."""
    *hidden, (logits_a, logits_b) = outputs
    losses = []
    for a, b in hidden:
        loss = agreement_loss(a, b)
        if variance_weight or covariance_weight:
            loss = loss + spread_loss(a, variance_weight, covariance_weight) + spread_loss(
                b, variance_weight, covariance_weight)
        losses.append(loss)
    return losses + [output_loss(logits_a, logits_b, targets)]
