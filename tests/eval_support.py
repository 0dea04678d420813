"""Synthetic datasets and hand-built nets for the evaluation tests (no real data needed).

- ``evaltest``: 4 classes, 1x8x8 images of low noise with one bright pixel in row 0 at the column of
  the class: a tiny MLP learns it in a few steps, and :class:`OracleNet` reads it perfectly.
- ``evaltest_noise``: pure-noise images with random labels: every classifier is at chance.
- ``evaltest_lookup`` / ``evaltest_pairs`` / ``evaltest_multilabel``: sample i is an image filled with (i + 0.5) / N, so
  :class:`LookupNet` can return hand-chosen logits and embeddings per sample.
Every dataset load is counted in ``LOADS`` so tests can assert that no work was done.
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from neurozoo import Architecture, Dataset, hookimpl, plugins
from neurozoo.model import NeurozooModel, build_config

LOADS: Counter = Counter()
LABELS_2 = ("a", "b")
LABELS_4 = ("a", "b", "c", "d")


def signal_arrays(n: int = 256, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 4
    images = torch.rand(n, 1, 8, 8, generator=g) * 0.3
    images[torch.arange(n), 0, 0, labels] = 0.9
    return images, labels


def noise_arrays(n: int = 2000, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 4, (n,), generator=g)


def index_images(n: int) -> torch.Tensor:
    """(n, 1, 2, 2) images whose pixels all hold (i + 0.5) / n."""
    return ((torch.arange(n, dtype=torch.float32) + 0.5) / n).view(n, 1, 1, 1).expand(n, 1, 2, 2).clone()


# the hand-built two-class case: (label, confidence of class 0)
TWO_CLASS = [(0, 0.9)] * 4 + [(0, 0.38)] + [(1, 0.17)] * 3 + [(1, 0.85)] * 2
# multi-label targets (4 labels) for the exact-set case
MULTI_TARGETS = torch.tensor([[1, 1, 0, 0], [0, 0, 1, 0], [1, 0, 1, 1], [0, 1, 0, 0]], dtype=torch.float32)


def _loader(name: str, arrays):
    def load(split, root=None, **options):
        LOADS[name] += 1
        return TensorDataset(*arrays)

    return load


TWO_CLASS_LABELS = torch.tensor([label for label, _ in TWO_CLASS])
EVALTEST = Dataset("evaltest", _loader("evaltest", signal_arrays()), 4, LABELS_4, (0.1,), (0.3,), (1, 8, 8))
EVALTEST_NOISE = Dataset("evaltest_noise", _loader("evaltest_noise", noise_arrays()), 4, LABELS_4, (0.5,), (0.3,),
                         (1, 8, 8))
EVALTEST_LOOKUP = Dataset("evaltest_lookup", _loader("evaltest_lookup", (index_images(10), TWO_CLASS_LABELS)),
                          2, LABELS_2, (0.0,), (1.0,), (1, 2, 2))
EVALTEST_PAIRS = Dataset("evaltest_pairs", _loader("evaltest_pairs", (index_images(4), torch.tensor([0, 0, 1, 1]))),
                         2, LABELS_2, (0.0,), (1.0,), (1, 2, 2))
EVALTEST_MULTILABEL = Dataset("evaltest_multilabel",
                              _loader("evaltest_multilabel", (index_images(4), MULTI_TARGETS)),
                              4, LABELS_4, (0.0,), (1.0,), (1, 2, 2), task="multilabel")


class EvalTestPlugin:
    @hookimpl
    def register_datasets(register):
        for dataset in (EVALTEST, EVALTEST_NOISE, EVALTEST_LOOKUP, EVALTEST_PAIRS, EVALTEST_MULTILABEL):
            register(dataset)

    @hookimpl
    def register_architectures(register):
        register(Architecture("evaltest_mlp", TinyMLP, (1, 8, 8)))


class TinyMLP(nn.Module):
    def __init__(self, num_classes: int, in_chans: int = 1, hidden: int = 32):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(in_chans * 64, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, num_classes)

    def embed(self, x):
        return self.body(x)

    def classify(self, z):
        return self.head(z)


class OracleNet(nn.Module):
    """Reads the bright pixel of ``evaltest``: logits = 20 * row 0; embedding = row 0."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(20.0))

    def embed(self, x):
        return x[:, 0, 0, :4]

    def classify(self, z):
        return self.scale * z


class ConstantNet(nn.Module):
    """Always predicts class 0, whatever the input."""

    def __init__(self, num_classes: int = 4):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(num_classes).index_fill(0, torch.tensor(0), 5.0))

    def embed(self, x):
        return x.flatten(1)

    def classify(self, z):
        return self.logits.expand(len(z), -1)


class LookupNet(nn.Module):
    """Sample i (an :func:`index_images` image) -> embedding ``cat(logits[i], features[i])``, logits[i]."""

    def __init__(self, logits: torch.Tensor, features: torch.Tensor | None = None):
        super().__init__()
        self.register_buffer("table", logits if features is None else torch.cat([logits, features], 1))
        self.num_classes = logits.shape[1]

    def embed(self, x):
        index = (x[:, 0, 0, 0] * len(self.table)).long()
        return self.table[index]

    def classify(self, z):
        return z[:, : self.num_classes]


def wrap(net: nn.Module, dataset: Dataset) -> NeurozooModel:
    """A neurozoo model around a hand-built net, configured for ``dataset``."""
    config = build_config("evaltest_mlp", num_classes=dataset.num_classes, input_size=dataset.input_size,
                          mean=dataset.mean, std=dataset.std, class_names=dataset.class_names,
                          dataset=dataset.name, task=dataset.task)
    return NeurozooModel(net, config).eval()


def trained_mlp(steps: int = 150, seed: int = 0) -> NeurozooModel:
    """A TinyMLP trained on ``evaltest`` to 100 % (full-batch Adam)."""
    torch.manual_seed(seed)
    model = wrap(TinyMLP(num_classes=4), EVALTEST)
    images, labels = signal_arrays()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture
def evaltest_plugin():
    """Register the synthetic datasets and the tiny architecture for one test; count loads afresh."""
    LOADS.clear()
    plugins.register(EvalTestPlugin, name="evaltest")
    yield
    plugins.unregister("evaltest")


