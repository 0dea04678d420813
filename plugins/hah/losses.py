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

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch

from .layers import HaHBlock, keep_count

# [code] authors' cifar.yaml: one alpha per HaH conv of HaH-VGG16
DEFAULT_ALPHAS = (0.0045, 0.0025, 0.0013, 0.001, 0.0008, 0.0005)


class _HaHObjective(torch.autograd.Function):
    """The HaH objective of ``y`` (N, C, H, W) with K promoted channels, and its gradient in one pass.

    Per position, d/dy_c = 1/K for the K promoted channels and -lam/(C - K) for the others, both
    times ReLU'(y_c); the backward writes that directly in ``y``'s layout. Channels are selected
    on the channels-last view, so with channels_last activations (the engine's CPU default) the
    selected indices are contiguous and the backward's scatter is cheap. Autograd's own graph
    (ReLU, topk, two sums) took 98 ms instead of 64 for forward + backward on the first HaH
    layer's bf16 output (128 x 64 x 32 x 32, 2 CPU threads), mostly in the ReLU backward of the
    summed, re-laid-out gradients; the channel topk itself is 46 ms of either.
    """

    @staticmethod
    def forward(ctx, y, k: int, lam: float):
        channels = y.shape[1]
        # the top K of ReLU(y) are ReLU of the top K of y; a channel that is not positive adds
        # nothing to either term and gets no gradient, whichever of tied zeros topk picks
        values, indices = y.movedim(1, -1).topk(k, dim=-1, sorted=False)
        # sums of bf16 accumulate in float32 inside the kernel; the result is kept in at least float32
        accumulate = torch.promote_types(y.dtype, torch.float32)
        top = values.clamp_min(0).sum(dim=-1).to(accumulate)
        per_position = top / k
        if channels > k:
            rest = y.clamp_min(0).sum(dim=1).to(accumulate) - top
            per_position = per_position - lam * rest / (channels - k)
        ctx.save_for_backward(y, values, indices)
        ctx.k, ctx.lam = k, lam
        return per_position.mean()

    @staticmethod
    def backward(ctx, grad):
        y, values, indices = ctx.saved_tensors
        n, channels, h, w = y.shape
        k, lam = ctx.k, ctx.lam
        scale = grad / (n * h * w)
        rest = -lam / (channels - k) * scale if channels > k else torch.zeros_like(scale)
        # ReLU'(y) times a constant: threshold_backward of the expanded constant is one pass,
        # written in y's layout (the fastest masked fill on CPU; no host sync on CUDA)
        grad_y = torch.ops.aten.threshold_backward(rest.to(y.dtype).expand_as(y), y, 0)
        top = torch.ops.aten.threshold_backward((scale / k).to(y.dtype).expand_as(values), values, 0)
        grad_y.movedim(1, -1).scatter_(-1, indices, top)
        return grad_y, None, None


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
    return _HaHObjective.apply(y, keep_count(y.shape[1], ratio), float(lam))


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
