"""A third-party plugin for tests: a tiny architecture and a planned checkpoint record."""

from __future__ import annotations

from torch import nn

from neurozoo import Architecture, Checkpoint, hookimpl


class TinyNet(nn.Module):
    def __init__(self, num_classes: int, in_chans: int = 1, width: int = 8):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(in_chans * 8 * 8, width), nn.ReLU())
        self.head = nn.Linear(width, num_classes)

    def embed(self, x):
        return self.body(x)

    def classify(self, z):
        return self.head(z)


class ThirdPartyPlugin:
    @hookimpl
    def register_architectures(self, register):
        register(Architecture("tiny_net", TinyNet, input_size=(1, 8, 8), description="test net"))

    @hookimpl
    def register_checkpoints(self, register):
        register(Checkpoint("baseline", "tiny_net", "toy", tag="planned"))
