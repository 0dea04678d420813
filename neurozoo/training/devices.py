"""Device and memory layout.

channels_last (oneDNN's preferred convolution layout) is a default that makes CPU training fast
here; precision (bf16 autocast and the float32 regions methods declare) is
``neurozoo.training.precision``.
"""

from __future__ import annotations

import torch


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
