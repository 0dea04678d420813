"""FFCL's per-layer losses and the forward hooks that read each layer's output.

Hidden layer l:  loss_l = 1 - cos(h_l^A, h_l^B), averaged over the batch (cosine embedding loss
with target +1: the twins are pushed to agree; there are no negative pairs).
Output layer:    loss_L = BCE(softmax(logits^A), onehot(y)) + BCE(softmax(logits^B), onehot(y)),
each BCE averaged over batch and classes (``torch.nn.functional.binary_cross_entropy``).
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


def output_loss(logits_a: torch.Tensor, logits_b: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """BCE on each twin's softmax against the one-hot target, summed over the twins."""
    # binary_cross_entropy refuses autocast (it is unsafe in half precision): compute it in fp32
    with torch.autocast(device_type=logits_a.device.type, enabled=False):
        onehot = F.one_hot(targets, logits_a.shape[1]).float()
        return sum(F.binary_cross_entropy(torch.softmax(logits.float(), dim=1), onehot)
                   for logits in (logits_a, logits_b))


def layer_losses(outputs: Sequence[Sequence[torch.Tensor]], targets: torch.Tensor) -> list[torch.Tensor]:
    """One loss per layer from the recorded ``(A_l, B_l)`` outputs (output layer last)."""
    *hidden, (logits_a, logits_b) = outputs
    return [agreement_loss(a, b) for a, b in hidden] + [output_loss(logits_a, logits_b, targets)]
