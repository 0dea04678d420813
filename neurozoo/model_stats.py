"""What a checkpoint record states about a model's size and cost, measured the same way everywhere.

Parameters count ``model.parameters()`` (buffers such as BatchNorm statistics are not parameters).
FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` over one eager forward pass of a
single image at the model's input size: 2 FLOPs per multiply-accumulate of convolutions and matrix
products, nothing for elementwise ops. Records store GFLOPs to ``GFLOPS_DIGITS`` significant digits
(an MLP on MNIST costs 1e-4 GFLOPs).
"""

from __future__ import annotations

import torch
from torch import nn

GFLOPS_DIGITS = 4


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def gflops_per_image(model: nn.Module, input_size: tuple[int, ...] | list[int] | None = None) -> float:
    """GFLOPs of one forward pass on one image (``input_size`` defaults to ``model.config``'s)."""
    from torch.utils.flop_counter import FlopCounterMode

    size = tuple(input_size or model.config["input_size"])
    device = next(model.parameters()).device
    counter = FlopCounterMode(display=False)
    training = model.training
    try:
        with counter, torch.inference_mode():
            model.eval()(torch.rand(1, *size, device=device))  # eval: BatchNorm statistics stay as they are
    finally:
        model.train(training)
    return float(f"{counter.get_total_flops() / 1e9:.{GFLOPS_DIGITS}g}")
