"""One process or many: torchrun/DDP set-up, collectives, and the rule that only rank 0 writes.

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) the process group starts with gloo on
CPU and NCCL on CUDA, each process takes the GPU of its ``LOCAL_RANK``, and ``--batch-size`` is
per process. Without torchrun every helper here is a no-op, so one code path serves both.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_type: str) -> DistInfo:
    """Join the process group torchrun describes (if any); returns this process's place in it."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return info


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        if dist.get_backend() == "gloo":  # _HandedOver: an abort of gloo's; NCCL (untested here) as before
            _HANDED_OVER.wait_released()
        else:
            _HANDED_OVER.tensors = []
        dist.destroy_process_group()


class _HandedOver:
    """The tensors collectives were given, until gloo's worker threads have let go of them.

    A gloo worker drops its reference to a finished collective's tensors after the caller has moved
    on, and for a tensor Python knows that takes the GIL. A worker that gets there only once the
    interpreter is finalising is killed holding it and the process aborts ("terminate called without
    an active exception", SIGABRT; core dumps show ~AsyncAllreduceWork in ProcessGroupGloo::runLoop
    during Py_FinalizeEx). Starved workers make it likely: 2 of 130 two-process runs on a loaded
    CPU, and once in CI. So collectives work on copies that only gloo and this list hold, and
    shutdown waits, with the GIL free, until each is back to this list's reference alone.
    """

    def __init__(self):
        self.tensors: list[torch.Tensor] = []

    def copy_of(self, tensor: torch.Tensor) -> torch.Tensor:
        self.tensors = [t for t in self.tensors if t._use_count() > 1]
        own = tensor.detach().clone()
        self.tensors.append(own)
        return own

    def wait_released(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while any(t._use_count() > 1 for t in self.tensors):
            if time.monotonic() > deadline:
                warnings.warn("gloo still holds the tensors of a finished collective; the process may abort at "
                              "exit", RuntimeWarning, stacklevel=2)
                break
            time.sleep(0.001)  # frees the GIL the workers wait for
        self.tensors = []


_HANDED_OVER = _HandedOver()


def _all_reduce(tensor: torch.Tensor, op) -> torch.Tensor:
    """``tensor`` reduced with ``op`` over processes, as a new tensor."""
    own = _HANDED_OVER.copy_of(tensor)
    dist.all_reduce(own, op=op)
    return own


def wrap_model(model: nn.Module, info: DistInfo, device: torch.device, find_unused_parameters: bool) -> nn.Module:
    """The module methods call for forward passes: DDP-wrapped when there is more than one process."""
    if not info.enabled:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(
        model, device_ids=device_ids, find_unused_parameters=find_unused_parameters
    )


def average_gradients(parameters: list[nn.Parameter], info: DistInfo) -> None:
    """All-reduce (mean) gradients of parameters DDP does not see (a method's extra modules)."""
    if not info.enabled:
        return
    for p in parameters:
        if p.grad is not None:
            p.grad.copy_(_all_reduce(p.grad, dist.ReduceOp.SUM)).div_(info.world_size)


def broadcast_buffers(module: nn.Module, info: DistInfo) -> None:
    """Rank 0's buffers (BatchNorm statistics) everywhere. DDP syncs them at the start of each
    forward, so after the last step of an epoch each rank still holds its own batch's update."""
    if info.enabled:
        for buffer in module.buffers():
            own = _HANDED_OVER.copy_of(buffer)
            dist.broadcast(own, src=0)
            buffer.copy_(own)


def sum_across(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Element-wise sum over processes (for metrics computed on shards), in place."""
    if info.enabled:
        values.copy_(_all_reduce(values, dist.ReduceOp.SUM))
    return values


def any_across(flag: bool, info: DistInfo) -> bool:
    """True if any process says so: every rank must agree on when to stop (or they deadlock)."""
    if not info.enabled:
        return flag
    value = torch.tensor([int(flag)], device=_collective_device())
    return bool(_all_reduce(value, dist.ReduceOp.MAX).item())


def broadcast_object(obj, info: DistInfo):
    """Rank 0's ``obj`` on every rank (e.g. the run folder name rank 0 chose)."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def _collective_device() -> torch.device:
    # NCCL only moves CUDA tensors; gloo only CPU ones
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
