"""The Hebbian/anti-Hebbian (HaH) cost and the capture of each HaH layer's local conv output.

Per HaH layer l, on its weight-normalised conv output y (N, C, H, W)::

    at each (n, h, w): a = sort_desc(ReLU(y[n, :, h, w])),  K = ceil(ratio * C)
    HaH_l  = mean_{n,h,w} ( mean(a[:K]) - lambda * mean(a[K:]) )
    loss_l = -alpha_l * HaH_l

The top-K channels are pushed up (Hebbian), the rest pushed down (anti-Hebbian). The cost is
taken on the block's *local* output copy (see ``layers.HaHBlock``), so each layer's HaH gradient
reaches only that layer's weights while cross-entropy still flows end to end: one ``backward()``
of ``CE + sum_l loss_l`` gives exactly the authors' routing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from .layers import HaHBlock

# [code] authors' cifar.yaml: one alpha per HaH conv of HaH-VGG16
DEFAULT_ALPHAS = (0.0045, 0.0025, 0.0013, 0.001, 0.0008, 0.0005)


def hah_objective(y: torch.Tensor, ratio: float = 0.1, lam: float = 1.0) -> torch.Tensor:
    """``mean_{n,h,w}(mean of the top-K channels - lam * mean of the others)`` of ReLU(y).

    The top-K sum comes from ``topk`` and the rest from the total, which equals the sorted
    formulation (and its gradient) without sorting all C channels. With a single channel
    (K = C) there is no rest and the anti-Hebbian term is 0.
    """
    if y.dim() != 4:
        raise ValueError(f"hah_objective expects a conv output (N, C, H, W), got shape {tuple(y.shape)}")
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"HaH ratio must be in (0, 1], got {ratio!r}")
    a = F.relu(y)
    channels = a.shape[1]
    k = max(1, math.ceil(round(ratio * channels, 9)))
    top = a.topk(k, dim=1, sorted=False).values.sum(dim=1)
    per_position = top / k
    if channels > k:
        per_position = per_position - lam * (a.sum(dim=1) - top) / (channels - k)
    return per_position.mean()


@contextmanager
def capture_local_outputs(blocks: Sequence[HaHBlock]) -> Iterator[list[list[torch.Tensor]]]:
    """Within the block, every forward of ``blocks[i]`` appends its local conv output to
    ``captured[i]`` (a block called twice in one forward contributes twice)."""
    captured: list[list[torch.Tensor]] = []
    for block in blocks:
        block.local_outputs = []
        captured.append(block.local_outputs)
    try:
        yield captured
    finally:
        for block in blocks:
            block.local_outputs = None


def hah_loss(captured: Sequence[Sequence[torch.Tensor]], alphas: Sequence[float], ratio: float = 0.1,
             lam: float = 1.0) -> torch.Tensor:
    """``sum_l -alpha_l * HaH_l`` over the captured local outputs (``captured[l]``: layer l's).

    Layers whose alpha is 0 are skipped (no cost, no compute); with every alpha 0 the loss is 0.
    """
    if len(alphas) < len(captured):
        raise ValueError(
            f"{len(captured)} HaH layers but only {len(alphas)} alphas: pass one alpha per HaH layer "
            f"(method option alphas=...)"
        )
    terms = [
        -alpha * hah_objective(y, ratio, lam)
        for alpha, outputs in zip(alphas, captured) if alpha != 0
        for y in outputs
    ]
    if not terms:
        device = next((y.device for outputs in captured for y in outputs), None)
        return torch.zeros((), device=device)
    return torch.stack(terms).sum()
