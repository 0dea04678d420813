"""A net that reads its images' object masks (``reads_masks``) gets each batch's masks in evaluation
and in the training engine's per-epoch evaluation."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from neurozoo.errors import ConfigError
from neurozoo.evaluation.context import EvalContext
from neurozoo.model import NeurozooModel


class MaskCounter(nn.Module):
    """Logits = pixels per object mask: only computable with the masks of the very images given."""

    reads_masks = True

    def __init__(self):
        super().__init__()
        self.masks = None

    @contextlib.contextmanager
    def given_masks(self, masks):
        self.masks = masks
        try:
            yield
        finally:
            self.masks = None

    def embed(self, x):
        if self.masks is None or len(self.masks) != len(x):
            raise ConfigError("no masks for this batch")
        return self.masks.flatten(2).sum(-1).float() + 0 * x.flatten(1)[:, :1]

    def classify(self, z):
        return z


def _model(net: nn.Module) -> NeurozooModel:
    return NeurozooModel(net, {"mean": [0.0], "std": [1.0]})


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(36, 2)

    def embed(self, x):
        return x.flatten(1)

    def classify(self, z):
        return self.lin(z)


def _dataset(with_masks: bool, count: int = 10):
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(count, 1, 6, 6, generator=generator)
    masks = torch.rand(count, 2, 6, 6, generator=generator) > 0.5
    targets = torch.zeros(count, 2)
    parts = (images, targets, masks) if with_masks else (images, targets)
    data = torch.utils.data.TensorDataset(*parts)
    record = SimpleNamespace(name="toy_objects", num_classes=2, load=lambda split, root=None, **options: data)
    return record, masks


def test_every_prediction_sees_the_masks_of_its_batch():
    record, masks = _dataset(with_masks=True)
    ctx = EvalContext(_model(MaskCounter()), record, batch_size=4)  # 3 batches, the last one short
    assert ctx.reads_masks
    torch.testing.assert_close(ctx.outputs().logits, masks.flatten(2).sum(-1).float())
    seen = []
    for images, _ in ctx.batches():  # a perturbed copy of the batch, as corruption metrics predict
        seen.append(ctx.predict(images.flip(-1) * 0.5))
    torch.testing.assert_close(torch.cat(seen), masks.flatten(2).sum(-1).float())


def test_a_dataset_without_masks_is_refused_in_one_line():
    record, _ = _dataset(with_masks=False)
    ctx = EvalContext(_model(MaskCounter()), record, batch_size=4)
    with pytest.raises(ConfigError, match="reads the per-object masks of its images and dataset 'toy_objects' has none"):
        ctx.outputs()


def test_other_models_never_see_masks():
    record, _ = _dataset(with_masks=True)
    ctx = EvalContext(_model(Linear()), record, batch_size=4)
    assert not ctx.reads_masks
    assert ctx.outputs().logits.shape == (10, 2)
