"""The Hebbian regulariser attaches to the default layer of each of the paper's five backbones."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import neurozoo
from neurozoo.training.method import StepContext
from neurozoo_plugins.nmhebb.checkpoints import PAPER_ARCHITECTURES
from neurozoo_plugins.nmhebb.hebbian import DEFAULT_LAYERS
from neurozoo_plugins.nmhebb.method import NMHebb



@pytest.mark.parametrize("arch", PAPER_ARCHITECTURES)
def test_regulariser_attaches_to_the_default_layer(arch):
    torch.manual_seed(0)
    model = neurozoo.create_model(arch, num_classes=10)
    method = NMHebb()
    layer = method.hebb_layer(model)
    conv_name, activation_name = DEFAULT_LAYERS[arch]
    assert layer.conv is model.get_submodule(conv_name) and isinstance(layer.conv, nn.Conv2d)
    assert layer.activation is model.get_submodule(activation_name)

    seen = {}
    handle = layer.activation.register_forward_hook(lambda m, i, out: seen.setdefault("activation", out.detach()))
    context = StepContext(model=model, net=model, phase=method.phases()[0], phase_index=0, epoch=0,
                          epoch_in_phase=0, step=0, device=torch.device("cpu"), num_classes=10)
    out = method.training_step(context, (torch.rand(2, 3, 32, 32), torch.tensor([3, 7])))
    handle.remove()

    activation = seen["activation"]
    # the first downsampled stage of a 32x32 input, one channel per filter of the conv
    assert activation.shape[1:] == (layer.conv.out_channels, 16, 16)
    expected = (activation.mean((0, 2, 3)) - layer.conv.weight.mean((1, 2, 3))).pow(2).mean()
    assert out["hebb"].item() == pytest.approx(expected.item(), rel=1e-4)
    assert 0 < out["gate"].item() < 1
    (grad,) = torch.autograd.grad(out["loss"], layer.conv.weight)
    assert grad.abs().sum() > 0
