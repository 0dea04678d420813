"""Device, precision and memory layout.

Defaults that make CPU training fast here: bf16 autocast (weights and optimiser stay fp32) and
channels_last (oneDNN's preferred convolution layout). ``precision="fp32"`` turns autocast off.
"""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("bf16", "fp32")


def resolve_device(device: str | torch.device, local_rank: int = 0) -> torch.device:
    """The device of this process; ``"cuda"`` under torchrun means the GPU of ``LOCAL_RANK``."""
    try:
        device = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device {device!r} is not a torch device ({exc}); use 'cpu' or 'cuda'") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for but torch sees no GPU; use --device cpu")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    elif device.type != "cpu":
        raise ValueError(f"device {device.type!r} is not supported; use 'cpu' or 'cuda'")
    return device


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def autocast(device: torch.device, precision: str):
    """The forward-pass context: bf16 autocast, or nothing for fp32."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(batch, device: torch.device, channels_last: bool):
    """Move every tensor of a collated batch; 4-d image batches go channels_last if asked."""
    def move(value):
        if not isinstance(value, torch.Tensor):
            return value
        value = value.to(device, non_blocking=True)
        if channels_last and value.dim() == 4:
            value = value.contiguous(memory_format=torch.channels_last)
        return value

    if isinstance(batch, (list, tuple)):
        return type(batch)(move(v) for v in batch)
    return move(batch)
