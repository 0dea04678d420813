"""HaH's activation metrics, computed on any torch CNN so a HaH model and its baseline compare.

The *activation layers* of a net are, in module order, the output of every HaH block and of every
``nn.ReLU`` module (HaH blocks apply their ReLU functionally, so nothing is counted twice); for
HaH-VGG16 and VGG-16 that is one activation per conv, 13 layers. Figures are per layer,
numbered from 1.

- ``hah_sparsity``: ``nonzero_fraction_layer<i>``, the fraction of nonzero activations.
- ``hah_disparity``: ``topk_rest_ratio_layer<i>``: at each (n, h, w), the mean of the top-K channels
  (K = ceil(ratio * C), ratio 0.1 as in the HaH cost) and the mean of the rest; the figure is
  the ratio of their averages over positions (the "strong vs weak" disparity the HaH cost
  promotes; None when the rest is all zero).
- ``hah_snr``: ``snr_db_layer<i>`` = 10 log10(sum ||a(x)||^2 / sum ||a(x + noise) - a(x)||^2),
  Gaussian noise of std ``sigma`` (0.1) on [0, 1] pixels, clamped, seeded as the shared
  ``corruption`` metric seeds it [reading of the paper's per-layer SNR].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from neurozoo.evaluation import requires

from .layers import HaHBlock


def activation_layers(net: nn.Module, layers: int | None = None) -> list[nn.Module]:
    """The activation layers of ``net`` (see the module docstring), the first ``layers`` if given."""
    found = [m for m in net.modules() if isinstance(m, (HaHBlock, nn.ReLU))]
    if not found:
        raise ValueError("the model has no HaH block or nn.ReLU module whose activations could be measured")
    if layers is not None:
        if not isinstance(layers, int) or layers < 1:
            raise ValueError(f"layers must be a positive int (the first N activation layers), got {layers!r}")
        found = found[:layers]
    return found


@contextmanager
def tapped(layers: list[nn.Module], record: Callable[[int, torch.Tensor], None]) -> Iterator[None]:
    """Within the block, ``record(i, output)`` sees every output of ``layers[i]``."""
    handles = [layer.register_forward_hook(lambda _m, _i, out, i=i: record(i, out.float()))
               for i, layer in enumerate(layers)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def channel_top_rest_means(a: torch.Tensor, ratio: float) -> tuple[float, float]:
    """Sums over positions of (mean of the top-K channels, mean of the other channels) of ``a``."""
    if a.dim() == 2:  # (N, features): one position per sample
        a = a[:, :, None, None]
    channels = a.shape[1]
    k = max(1, math.ceil(round(ratio * channels, 9)))
    top = a.topk(k, dim=1, sorted=False).values.sum(dim=1)
    rest = (a.sum(dim=1) - top) / (channels - k) if channels > k else torch.zeros_like(top)
    return (top / k).sum().item(), rest.sum().item()


def _run_tapped(ctx, taps: list[nn.Module], record: Callable[[int, torch.Tensor], None], description: str) -> None:
    with tapped(taps, record):
        for images, _ in ctx.batches(description=description):
            ctx.predict(images)


@requires(module=True)
def hah_sparsity(ctx, layers: int | None = None) -> dict[str, float]:
    taps = activation_layers(ctx.model, layers)
    nonzero = [0] * len(taps)
    counted = [0] * len(taps)

    def record(i: int, a: torch.Tensor) -> None:
        nonzero[i] += int(torch.count_nonzero(a))
        counted[i] += a.numel()

    _run_tapped(ctx, taps, record, "hah_sparsity")
    return {f"nonzero_fraction_layer{i + 1}": nonzero[i] / counted[i] for i in range(len(taps))}


@requires(module=True)
def hah_disparity(ctx, ratio: float = 0.1, layers: int | None = None) -> dict[str, float | None]:
    taps = activation_layers(ctx.model, layers)
    top = [0.0] * len(taps)
    rest = [0.0] * len(taps)

    def record(i: int, a: torch.Tensor) -> None:
        layer_top, layer_rest = channel_top_rest_means(a, ratio)
        top[i] += layer_top
        rest[i] += layer_rest

    _run_tapped(ctx, taps, record, "hah_disparity")
    return {f"topk_rest_ratio_layer{i + 1}": top[i] / rest[i] if rest[i] > 0 else None for i in range(len(taps))}


@requires(module=True)
def hah_snr(ctx, sigma: float = 0.1, draws: int = 1, seed: int = 0,
            layers: int | None = None) -> dict[str, float | None]:
    from neurozoo.data.corruptions import gaussian_noise
    from neurozoo.evaluation.corruption import batch_seed

    if draws < 1:
        raise ValueError(f"hah_snr: draws must be >= 1, got {draws!r}")
    taps = activation_layers(ctx.model, layers)
    signal = [0.0] * len(taps)
    noise = [0.0] * len(taps)
    current: list[torch.Tensor | None] = [None] * len(taps)

    def keep(i: int, a: torch.Tensor) -> None:
        current[i] = a.clone()  # ReLU modules may be in place: copy before the next layer runs

    for batch_index, (images, _) in enumerate(ctx.batches(description="hah_snr")):
        with tapped(taps, keep):
            ctx.predict(images)
        clean = list(current)
        for draw in range(draws):
            with tapped(taps, keep):
                ctx.predict(gaussian_noise(images, sigma, batch_seed(seed, draw, batch_index)))
            for i, (a, noisy) in enumerate(zip(clean, current)):
                signal[i] += a.pow(2).sum().item()
                noise[i] += (noisy - a).pow(2).sum().item()
    return {
        f"snr_db_layer{i + 1}": 10 * math.log10(signal[i] / noise[i]) if noise[i] > 0 and signal[i] > 0 else None
        for i in range(len(taps))
    }
