"""HaH layers (Cekic, Bakiskan, Madhow, arXiv 2202.13074; authors' package ``hahtorch``).

A HaH block is::

    y = conv(x) / ||W_c||_2          implicitly weight-normalised conv, no bias
    -> ReLU
    -> divisive normalisation        out = x / (sigma * max_hw s + (1 - sigma) * s + 1e-7),
                                     s = mean_c maxpool3x3(|x|)
    -> top-fraction threshold        per (n, c), keep the largest ceil(keep_ratio * H * W) values

The HaH cost (``losses.py``) is computed on ``y``. Its gradient must reach only the block's own
weights, while cross-entropy flows through ``y`` end to end. :func:`conv2d_with_local_copy` gives
both from ONE convolution: it returns the conv output twice; the second copy's gradient goes to
the weights only, and the two weight gradients are summed before the single weight-gradient
convolution of the backward pass (so the routing costs an addition, not an extra conv).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# From hahtorch: ImplicitNormalizationConv adds 1e-6 to the filter norms, DivisiveNormalization2d
# adds 1e-7 to the divisor (both only guard against division by zero).
WEIGHT_NORM_EPS = 1e-6
DIVISOR_EPS = 1e-7


class _ConvWithLocalCopy(torch.autograd.Function):
    """conv2d (no bias) whose output comes back twice: ``(out, local)``.

    ``out`` backpropagates to the input and the weight as usual; ``local`` (same values) sends
    its gradient to the weight only.
    """

    @staticmethod
    def forward(ctx, x, weight, stride, padding, dilation, groups):
        ctx.save_for_backward(x, weight)
        ctx.conv_args = (stride, padding, dilation, groups)
        ctx.set_materialize_grads(False)
        out = F.conv2d(x, weight, None, stride, padding, dilation, groups)
        # a second output object sharing the storage (returning ``out`` twice would merge the two
        # outputs into one); nothing writes into either in place
        return out, out.detach()

    @staticmethod
    def backward(ctx, grad_out, grad_local):
        x, weight = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.conv_args

        def conv_backward(grad, output_mask):
            # the saved tensors themselves (not torch.nn.grad's expanded stand-ins) keep oneDNN on
            # the tensors' memory layout, without reorders
            return torch.ops.aten.convolution_backward(grad, x, weight, None, stride, padding, dilation, False,
                                                       [0] * len(padding), groups, output_mask)

        grad_x = grad_weight = None
        if ctx.needs_input_grad[0] and grad_out is not None:
            grad_x = conv_backward(grad_out, [True, False, False])[0]
        if ctx.needs_input_grad[1]:
            parts = [g for g in (grad_out, grad_local) if g is not None]
            if parts:
                grad_weight = conv_backward(sum(parts), [False, True, False])[1]
        return grad_x, grad_weight, None, None, None, None


def conv2d_with_local_copy(x: torch.Tensor, weight: torch.Tensor, conv: nn.Conv2d) -> tuple[torch.Tensor, torch.Tensor]:
    """``(conv2d(x, weight), local)`` with ``conv``'s stride, padding, dilation and groups: equal
    values; ``local``'s gradient reaches ``weight`` only."""
    device_type = x.device.type
    if torch.is_autocast_enabled(device_type):
        # autocast does not reach inside a custom Function's backward: cast here, outside it, so the
        # casts are recorded by autograd and the gradients come back in the parameters' dtype.
        dtype = torch.get_autocast_dtype(device_type)
        x, weight = x.to(dtype), weight.to(dtype)
    with torch.autocast(device_type, enabled=False):
        return _ConvWithLocalCopy.apply(x, weight, conv.stride, conv.padding, conv.dilation, conv.groups)


class ImplicitNormConv2d(nn.Conv2d):
    """Conv2d (no bias) whose output channel c is divided by ``||W_c||_2``: the response of a
    unit-norm filter, while the stored weights stay unconstrained.

    The convolution is linear in the weights, so it runs with the normalised filters
    ``W_c / ||W_c||`` (a weight-sized op) instead of dividing the activation-sized output.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1, padding=1, dilation=1):
        if isinstance(padding, str):
            raise ValueError(
                f"ImplicitNormConv2d needs numeric padding, got {padding!r}: pass e.g. padding=1 for a 3x3 conv"
            )
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         dilation=dilation, bias=False)

    def normalized_weight(self) -> torch.Tensor:
        norms = self.weight.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        return self.weight / (norms + WEIGHT_NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.normalized_weight(), None)

    def forward_with_local_copy(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, y_local)``: equal values; ``y_local``'s gradient reaches this layer's weight only."""
        return conv2d_with_local_copy(x, self.normalized_weight(), self)


class _ChannelMeanOfMaxPool(torch.autograd.Function):
    """``F.max_pool2d(m, size, stride=1, padding=size // 2).mean(1, keepdim=True)``.

    Autograd would hand the max-pool backward the mean's expanded (stride-0) gradient, which the
    CPU kernel processes at about half speed; this backward expands it densely, in ``m``'s
    memory layout, first.
    """

    @staticmethod
    def forward(ctx, m, size: int):
        pooled, indices = F.max_pool2d(m, size, stride=1, padding=size // 2, return_indices=True)
        ctx.save_for_backward(m, indices)
        ctx.size = size
        return pooled.mean(dim=1, keepdim=True)

    @staticmethod
    def backward(ctx, grad):
        m, indices = ctx.saved_tensors
        size = ctx.size
        layout = torch.channels_last if m.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
        dense = (grad / m.shape[1]).expand_as(m).contiguous(memory_format=layout)
        grad_m = torch.ops.aten.max_pool2d_with_indices_backward(
            dense, m, [size, size], [1, 1], [size // 2, size // 2], [1, 1], False, indices
        )
        return grad_m, None


class DivisiveNormalization2d(nn.Module):
    """``x / (sigma * max_hw s + (1 - sigma) * s + 1e-7)`` with ``s = mean_c maxpool(|x|)``.

    ``sigma`` = 1 divides by one global (per-image) constant; ``sigma`` = 0 by the local
    neighbourhood activity alone (hahtorch's "linf" suppression field, stride 1, same size).
    """

    def __init__(self, sigma: float = 0.1, pool_size: int = 3):
        super().__init__()
        if not 0.0 <= sigma <= 1.0:
            raise ValueError(f"divisive normalisation sigma must be in [0, 1], got {sigma!r}")
        if pool_size < 1 or pool_size % 2 == 0:
            raise ValueError(f"pool_size must be a positive odd int (same-size output), got {pool_size!r}")
        self.sigma = float(sigma)
        self.pool_size = pool_size

    def forward(self, x: torch.Tensor, magnitude: torch.Tensor | None = None) -> torch.Tensor:
        """``magnitude``: ``|x|`` when the caller has it already (a ReLU output is its own)."""
        magnitude = x.abs() if magnitude is None else magnitude
        field = _ChannelMeanOfMaxPool.apply(magnitude, self.pool_size)
        divisor = self.sigma * field.amax(dim=(2, 3), keepdim=True) + (1.0 - self.sigma) * field + DIVISOR_EPS
        # multiply by the (N, 1, H, W) reciprocal: cheaper than an activation-sized division
        return x * divisor.reciprocal()

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, pool_size={self.pool_size}"


def keep_count(positions: int, keep_ratio: float) -> int:
    """How many of ``positions`` values the threshold keeps: ceil(keep_ratio * positions), at least 1
    (also the K promoted channels of the HaH cost, with its ratio).

    Equals hahtorch's ``positions - floor((1 - ratio) * positions)`` (205 of 32x32, 52 of 16x16,
    13 of 8x8 at 20 %); the rounding guards against 0.2 * 1024 = 204.80000000000001.
    """
    return max(1, math.ceil(round(keep_ratio * positions, 9)))


def top_count_mask(flat: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask with exactly ``k`` True per row of ``flat`` (..., L): the positions of its k
    largest values. Among values tied at the k-th largest, the ones ``torch.topk`` returns are
    kept: always exactly k, and the same ones for the same input on the same device."""
    indices = flat.topk(k, dim=-1, sorted=False).indices
    return torch.zeros_like(flat, dtype=torch.bool).scatter_(-1, indices, True)


class TopFractionThreshold(nn.Module):
    """Per (n, c), zero all but the largest ``keep_ratio`` fraction of the H*W values.

    Exactly ``keep_count(H * W, keep_ratio)`` positions are kept per channel (ties: see
    :func:`top_count_mask`), unlike hahtorch's ``x > kthvalue``, which keeps fewer when values tie.
    """

    def __init__(self, keep_ratio: float = 0.2):
        super().__init__()
        if not 0.0 < keep_ratio <= 1.0:
            raise ValueError(f"keep_ratio must be in (0, 1], got {keep_ratio!r}")
        self.keep_ratio = float(keep_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(2)
        k = keep_count(flat.shape[-1], self.keep_ratio)
        if k >= flat.shape[-1]:
            return x
        with torch.no_grad():
            mask = top_count_mask(flat, k)
        return torch.where(mask, flat, 0.0).view_as(x)

    def extra_repr(self) -> str:
        return f"keep_ratio={self.keep_ratio}"


class HaHBlock(nn.Module):
    """Implicitly weight-normalised conv -> ReLU -> divisive normalisation -> top-fraction threshold.

    While a training method captures local outputs (:func:`plugins.hah.losses.capture_local_outputs`),
    each forward also records the conv output ``y`` as a copy whose gradient reaches only this
    block's weights; the HaH cost is computed on those copies.
    """

    # bf16 ties values at the top-k cuts (issue 23: 78 % of layer-1 channels at initialisation), so the
    # cuts select other units: the blocks run in float32 under autocast, also inside a converted CNN
    # (neurozoo.training.precision; README "Precision")
    precision = "fp32"

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1, padding=1, dilation=1,
                 sigma: float = 0.1, keep_ratio: float = 0.2):
        super().__init__()
        self.conv = ImplicitNormConv2d(in_channels, out_channels, kernel_size, stride, padding, dilation)
        self.divisive = DivisiveNormalization2d(sigma)
        self.threshold = TopFractionThreshold(keep_ratio)
        self.local_outputs: list[torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.local_outputs is None:
            y = self.conv(x)
        else:
            y, local = self.conv.forward_with_local_copy(x)
            self.local_outputs.append(local)
        y = F.relu(y)
        return self.threshold(self.divisive(y, magnitude=y))


def hah_blocks(net: nn.Module) -> list[HaHBlock]:
    """The HaH blocks of ``net`` in registration order (= forward order in sequential stacks)."""
    return [m for m in net.modules() if isinstance(m, HaHBlock)]
