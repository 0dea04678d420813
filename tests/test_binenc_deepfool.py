"""The shared DeepFool's "lts4" protocol (the DeepFool authors' reference code, as binenc's paper uses it).

From the predicted label, every image, unclamped, in the model's normalised input space; checked
against the closed form on a linear classifier and against one-image-at-a-time runs on a nonlinear one.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from neurozoo.evaluation.attacks import deepfool
from neurozoo.evaluation.deepfool_lts4 import STEP_MARGIN, deepfool_lts4
from neurozoo.model import NeurozooModel

OVERSHOOT = 0.02


class Linear(nn.Module):
    """logits = W x + b on flattened inputs; embed/classify as every neurozoo net."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor):
        super().__init__()
        self.layer = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            self.layer.weight.copy_(weight)
            self.layer.bias.copy_(bias)

    def embed(self, x):
        return x.flatten(1)

    def classify(self, z):
        return self.layer(z)

    def forward(self, x):
        return self.classify(self.embed(x))


def closed_form(weight, bias, x):
    """For a linear classifier DeepFool's first step lands on the nearest boundary (plus the margin),
    and the overshoot carries it across: r = (1 + overshoot) (d + margin) w / ||w||."""
    logits = weight @ x.flatten() + bias
    label = int(logits.argmax())
    best = None
    for k in range(len(logits)):
        if k != label:
            w = weight[k] - weight[label]
            d = abs(float(logits[k] - logits[label])) / float(w.norm())
            if best is None or d < best[0]:
                best = (d, w)
    d, w = best
    return ((1 + OVERSHOOT) * (d + STEP_MARGIN) * w / w.norm()).view_as(x), label


def linear_model(mean=(0.5, 0.4), std=(0.2, 0.25)):
    torch.manual_seed(0)
    net = Linear(torch.randn(3, 2 * 2 * 2), torch.randn(3))
    return NeurozooModel(net, {"mean": list(mean), "std": list(std)}).eval()


def fake_context(model, images, targets):
    def batches(limit=None, description=None):
        yield images[:limit], targets[:limit]

    def predict(x):
        with torch.no_grad():
            return model(x)

    return SimpleNamespace(model=model, limit=None, batches=batches, predict=predict, num_classes=3)


def test_a_linear_classifier_gets_the_closed_form_perturbation_in_one_step():
    model = linear_model()
    images = torch.rand(5, 2, 2, 2)
    inputs = model.normalize(images)
    result = deepfool_lts4(model.net, inputs, overshoot=OVERSHOOT)
    for i in range(len(images)):
        expected, label = closed_form(model.net.layer.weight.detach(), model.net.layer.bias.detach(), inputs[i])
        torch.testing.assert_close(result.perturbation[i], expected)
        assert int(result.label[i]) == label and int(result.prediction[i]) != label
    assert result.steps.tolist() == [1] * 5


def test_the_lts4_score_is_measured_in_normalised_space_on_every_image_and_is_not_clamped():
    model = linear_model()
    images = torch.rand(6, 2, 2, 2)
    predicted = model(images).argmax(1)
    targets = (predicted + 1) % 3  # every image misclassified
    ctx = fake_context(model, images, targets)
    figures = deepfool(ctx, protocol="lts4", overshoot=OVERSHOOT)
    inputs = model.normalize(images)
    expected = [closed_form(model.net.layer.weight.detach(), model.net.layer.bias.detach(), x)[0].norm() / x.norm()
                for x in inputs]
    assert figures["deepfool_lts4_score"] == pytest.approx(float(sum(expected) / len(expected)), rel=1e-5)
    assert figures["deepfool_lts4_fooled"] == 1.0
    # the torchattacks protocol starts from the true label: misclassified images count 0
    assert deepfool(ctx)["deepfool_score"] == 0.0
    # unclamped: a perturbation that leaves [0, 1] pixels is kept as it is
    far = torch.full((1, 2, 2, 2), 0.99)
    shift = deepfool_lts4(model.net, model.normalize(far), overshoot=OVERSHOOT).perturbation
    pixels = far + shift * model.normalize.std
    assert pixels.max() > 1 or pixels.min() < 0


def test_batched_runs_equal_one_image_at_a_time_on_a_nonlinear_net():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 5))
    inputs = 3 * torch.randn(16, 3, 2, 2)
    batched = deepfool_lts4(net, inputs, steps=50)
    assert len(set(batched.steps.tolist())) > 1  # images stop after different numbers of steps
    for i in range(len(inputs)):
        alone = deepfool_lts4(net, inputs[i:i + 1], steps=50)
        torch.testing.assert_close(batched.perturbation[i:i + 1], alone.perturbation, rtol=1e-4, atol=1e-6)
        assert batched.steps[i] == alone.steps[0]
    changed = batched.prediction != batched.label
    assert changed[batched.steps < 50].all()


def test_an_unknown_protocol_is_refused():
    model = linear_model()
    with pytest.raises(ValueError, match="protocol"):
        deepfool(fake_context(model, torch.rand(1, 2, 2, 2), torch.zeros(1, dtype=torch.long)), protocol="foolbox")
