"""The collective helpers on a real gloo group (one process: a world of 1, so each result is known).

The race they guard against (a gloo worker releasing a collective's tensors while the interpreter
finalises) needs several processes and a starved CPU; test_training's torchrun test runs that path.
Here: every helper hands gloo a copy it owns, writes the result where the caller expects it, and
shutdown returns only once gloo has let go of every copy.
"""

from __future__ import annotations

import threading
import time

import pytest
import torch
import torch.distributed as dist
from torch import nn

from neurozoo.training import distributed
from neurozoo.training.distributed import (
    DistInfo,
    any_across,
    average_gradients,
    broadcast_buffers,
    shutdown,
    sum_across,
)

# the helpers act when the run has several processes; the group itself has one, so sums are the values
INFO = DistInfo(rank=0, world_size=2)


@pytest.fixture()
def gloo_group():
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def test_collectives_write_back_and_shutdown_waits_until_gloo_lets_go(gloo_group):
    values = torch.tensor([1.0, 2.0])
    assert sum_across(values, INFO) is values and values.tolist() == [1.0, 2.0]
    assert any_across(True, INFO) and not any_across(False, INFO)

    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    net(torch.randn(4, 2)).sum().backward()
    grads = [p.grad.clone() for p in net.parameters()]
    average_gradients(list(net.parameters()), INFO)
    for p, grad in zip(net.parameters(), grads):
        assert torch.equal(p.grad, grad / INFO.world_size)
    stats = [b.clone() for b in net.buffers()]
    broadcast_buffers(net, INFO)
    assert all(torch.equal(b, s) for b, s in zip(net.buffers(), stats))

    handed = list(distributed._HANDED_OVER.tensors)
    assert handed, "every collective goes through a copy the module tracks"
    assert all(t.data_ptr() not in {values.data_ptr(), *(p.grad.data_ptr() for p in net.parameters())}
               for t in handed), "gloo is never given the caller's own tensors"
    shutdown(INFO)
    assert not dist.is_initialized()
    assert all(t._use_count() == 1 for t in handed), "shutdown returned while gloo still held a tensor"
    assert distributed._HANDED_OVER.tensors == []


def _held_elsewhere(tensor: torch.Tensor):
    """A C++ reference to ``tensor`` (an autograd node saving it), as a gloo work holds one."""
    return torch.ones(1, requires_grad=True) * tensor


def test_waiting_ends_when_the_last_other_reference_goes():
    handed = distributed._HandedOver()
    copy = handed.copy_of(torch.ones(1))
    holder = [_held_elsewhere(copy)]
    assert copy._use_count() == 2
    threading.Timer(0.3, holder.clear).start()  # the "worker" lets go later, from another thread
    started = time.monotonic()
    handed.wait_released()
    assert time.monotonic() - started >= 0.25 and copy._use_count() == 1 and handed.tensors == []


def test_waiting_gives_up_with_a_warning():
    handed = distributed._HandedOver()
    copy = handed.copy_of(torch.ones(1))
    holder = _held_elsewhere(copy)
    with pytest.warns(RuntimeWarning, match="gloo still holds"):
        handed.wait_released(timeout_s=0.05)
    assert holder is not None and handed.tensors == []
