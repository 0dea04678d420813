"""Accuracy: top-1 for single-label sets, exact-set for multi-label sets."""

from __future__ import annotations

import torch


def correct(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Bool (N,): the prediction is right under the task's rule: the arg-max class is the target
    (class-index targets), or the exact set of labels is predicted (multi-hot targets)."""
    if targets.dim() == 2:
        return exact_set_correct(logits, targets)
    return logits.argmax(dim=1) == targets


def exact_set_correct(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Bool (N,): the k highest logits are exactly the k labels present (k varies per sample)."""
    present = targets > 0.5
    counts = present.sum(dim=1)
    # rank of each class by logit, 0 = highest; a sample is right when every present label ranks < k
    ranks = logits.argsort(dim=1, descending=True).argsort(dim=1)
    return ((ranks < counts[:, None]) == present).all(dim=1)


def fraction(flags: torch.Tensor) -> float:
    """Share of True values, in double precision (1/3 stays 1/3)."""
    return flags.sum().item() / len(flags)


def top1(ctx) -> dict[str, float]:
    return {"top1": fraction(ctx.outputs().correct)}


def exact_set(ctx) -> dict[str, float]:
    return {"exact_set": fraction(ctx.outputs().correct)}
