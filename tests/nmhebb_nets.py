"""Helpers for NM-Hebb's tests: a small CNN registered as architecture ``nmhebb_small_cnn`` while a
test runs, and a one-thread fixture.

Three stages of conv -> BatchNorm -> ReLU (the 2nd and 3rd downsample); the Hebbian layer is the
2nd stage's conv and its ReLU, as the method's defaults pick for the real backbones.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neurozoo import Architecture, create_model, hookimpl, plugins

ARCH = "nmhebb_small_cnn"
LAYER = {"hebb_layer": "net.stage2.0", "hebb_activation": "net.stage2.2"}


def _stage(fan_in: int, fan_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(fan_in, fan_out, 3, stride=stride, padding=1), nn.BatchNorm2d(fan_out), nn.ReLU())


class SmallCNN(nn.Module):
    def __init__(self, num_classes: int, in_chans: int = 3, widths: tuple[int, int, int] = (8, 16, 32)):
        super().__init__()
        self.stage1 = _stage(in_chans, widths[0], 1)
        self.stage2 = _stage(widths[0], widths[1], 2)
        self.stage3 = _stage(widths[1], widths[2], 2)
        self.head = nn.Linear(widths[2], num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.stage3(self.stage2(self.stage1(x))).mean((2, 3))

    def classify(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(z)


class SmallCNNPlugin:
    @hookimpl
    def register_architectures(self, register):
        register(Architecture(ARCH, SmallCNN, (3, 32, 32), "three-stage CNN for NM-Hebb tests"))


@pytest.fixture
def small_cnn_arch():
    """Registers the architecture for one test; yields a factory ``make(**create_model_kwargs)``."""
    plugins.register(SmallCNNPlugin(), "nmhebb_small_cnn_plugin")
    try:
        yield lambda **kwargs: create_model(ARCH, **kwargs)
    finally:
        plugins.unregister("nmhebb_small_cnn_plugin")


