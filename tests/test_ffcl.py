"""FFCL mechanism: twin structure, prediction rule, locality of every layer's loss, diagnostics."""

from __future__ import annotations

import pytest
import torch

import neurozoo
from neurozoo.training.method import Phase, StepContext
from neurozoo_plugins.ffcl.diagnostics import code_statistics, diagnostics
from neurozoo_plugins.ffcl.losses import spread_loss
from neurozoo_plugins.ffcl.method import FFCL


def ffcl_model(hidden=(16, 12, 8), **arch_kwargs):
    torch.manual_seed(0)
    return neurozoo.create_model("ffcl_mlp", num_classes=5, method="ffcl", input_size=(1, 6, 6),
                                 image_size=6, hidden=hidden, **arch_kwargs)


def step_context(model) -> StepContext:
    return StepContext(model=model, net=model, phase=Phase("train", epochs=1, lr=1e-4), phase_index=0,
                       epoch=0, epoch_in_phase=0, step=0, device=torch.device("cpu"), num_classes=5)


def batch(n=32):
    generator = torch.Generator().manual_seed(1)
    return torch.rand(n, 1, 6, 6, generator=generator), torch.randint(0, 5, (n,), generator=generator)


def test_twins_have_the_same_shape_and_different_initialisation():
    twin_a, twin_b = ffcl_model().net.twins
    shapes_a = [p.shape for p in twin_a.parameters()]
    assert shapes_a == [p.shape for p in twin_b.parameters()]
    assert shapes_a[0] == (16, 36) and shapes_a[-2] == (5, 8)
    assert all(not torch.equal(pa, pb) for pa, pb in zip(twin_a.parameters(), twin_b.parameters()))


@pytest.mark.parametrize("predict", ["mean", "a", "b"])
def test_prediction_is_log_of_the_chosen_twin_softmax(predict):
    model = ffcl_model(predict=predict).eval()
    images, _ = batch(8)
    z = model.embed(images)
    assert z.shape == (8, 16)  # last hidden layer (8 wide) of A and of B
    twin_a, twin_b = model.net.twins
    probs_a = twin_a.out(z[:, :8]).softmax(1)
    probs_b = twin_b.out(z[:, 8:]).softmax(1)
    expected = {"mean": (probs_a + probs_b) / 2, "a": probs_a, "b": probs_b}[predict]
    torch.testing.assert_close(model(images).exp(), expected)


@pytest.mark.parametrize("recipe", [{}, {"variance_weight": 1.0, "covariance_weight": 0.5}], ids=["paper", "spread"])
def test_each_layer_loss_reaches_only_its_own_layer(recipe):
    model = ffcl_model().train()
    images, targets = batch()
    losses = FFCL(**recipe).layer_losses(step_context(model), images, targets)
    pairs = model.net.layer_pairs()
    assert len(losses) == len(pairs) == 4
    params_of_layer = [[*a.parameters(), *b.parameters()] for a, b in pairs]
    every_param = [p for params in params_of_layer for p in params]
    for k, loss in enumerate(losses):
        grads = torch.autograd.grad(loss, every_param, retain_graph=True, allow_unused=True)
        by_param = dict(zip(map(id, every_param), grads))
        for l, params in enumerate(params_of_layer):
            norms = [0.0 if by_param[id(p)] is None else by_param[id(p)].abs().sum().item() for p in params]
            if l == k:
                assert all(n > 0 for n in norms[::2]), f"loss {k} gives no gradient to its own layer's weights"
            else:
                assert all(n == 0 for n in norms), f"loss {k} leaks a gradient into layer {l}"


def test_the_training_step_sums_the_local_losses():
    model = ffcl_model().train()
    out = FFCL().training_step(step_context(model), batch())
    parts = [out[name] for name in ("loss_l1", "loss_l2", "loss_l3", "loss_out")]
    torch.testing.assert_close(out["loss"].detach(), torch.stack(parts).sum())
    images, targets = batch()
    probs_a, probs_b = (twin.out(h).softmax(1) for twin, h in zip(model.net.twins, model.embed(images).chunk(2, 1)))
    onehot = torch.nn.functional.one_hot(targets, 5).float()
    bce = [-(onehot * p.log() + (1 - onehot) * (1 - p).log()).mean() for p in (probs_a, probs_b)]
    torch.testing.assert_close(out["loss_out"], bce[0] + bce[1])


def test_spread_loss_is_zero_only_for_spread_out_decorrelated_codes():
    generator = torch.Generator().manual_seed(3)
    spread_out = 3 * torch.randn(4096, 4, generator=generator)  # std 3 > 1, nearly uncorrelated
    assert spread_loss(spread_out, 1.0, 0.0) == 0.0
    assert spread_loss(spread_out, 0.0, 1.0) < 0.05
    constant = torch.ones(64, 4)
    assert spread_loss(constant, 1.0, 0.0) == pytest.approx(1 - 1e-2, rel=1e-3)  # std sqrt(1e-4)
    correlated = torch.randn(4096, 1, generator=generator).repeat(1, 4)
    assert spread_loss(correlated, 0.0, 1.0) == pytest.approx(3.0, rel=0.1)  # 12 off-diagonal 1s / 4


def test_spread_terms_change_the_hidden_losses_only():
    model = ffcl_model().train()
    images, targets = batch()
    paper = FFCL().layer_losses(step_context(model), images, targets)
    variant = FFCL(variance_weight=1.0).layer_losses(step_context(model), images, targets)
    assert all(v > p for v, p in zip(variant[:-1], paper[:-1]))
    assert variant[-1] == paper[-1]


def test_paper_recipe_is_the_engine_default():
    assert FFCL.engine_defaults == {"augment": False, "precision": "fp32"}


def test_eval_mode_keeps_input_gradients_for_attacks():
    model = ffcl_model().eval()
    images, targets = batch(4)
    images.requires_grad_(True)
    torch.nn.functional.nll_loss(model(images), targets).backward()
    assert images.grad.abs().sum() > 0


def test_the_method_refuses_other_architectures():
    with pytest.raises(ValueError, match="ffcl_mlp"):
        neurozoo.create_model("mlp", num_classes=10, method="ffcl")


def test_options_are_checked():
    with pytest.raises(ValueError, match="probe_samples"):
        FFCL(probe_samples=1)
    with pytest.raises(ValueError, match="grad_clip"):
        FFCL(grad_clip=1.0)
    with pytest.raises(ValueError, match="variance_weight"):
        FFCL(variance_weight=-1.0)


def test_probe_reveals_a_collapsed_layer():
    model = ffcl_model(hidden=(16,)).eval()
    generator = torch.Generator().manual_seed(2)
    labels = torch.arange(400) % 5
    # each class lights a different block of pixels: linearly separable through random ReLU features
    images = 0.2 * torch.rand(400, 1, 6, 6, generator=generator)
    images.view(400, -1)[torch.arange(400)[:, None], labels[:, None] * 7 + torch.arange(7)] += 1.0
    healthy = diagnostics(model, model.net, images, labels)
    for twin in model.net.twins:  # collapse: both twins output the same constant code
        torch.nn.init.zeros_(twin.hidden[0][0].weight)
        torch.nn.init.ones_(twin.hidden[0][0].bias)
    collapsed = diagnostics(model, model.net, images, labels)
    assert set(healthy) == {"agree_l1", "probe_l1", "sim_l1", "spread_l1", "dead_l1", "agree_out"}
    assert healthy["probe_l1"] > 0.9
    assert healthy["spread_l1"] > 0.05 and healthy["sim_l1"] < 0.99
    assert collapsed["agree_l1"] == pytest.approx(1.0)
    assert collapsed["probe_l1"] < 0.3
    assert collapsed["sim_l1"] == pytest.approx(1.0) and collapsed["spread_l1"] == pytest.approx(0.0, abs=1e-9)
    assert collapsed["dead_l1"] == 0.0


def test_code_statistics_by_hand():
    code = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [1.0, 2.0, 0.0]])
    stats = code_statistics(code)
    cos = [0.0, 1 / 5 ** 0.5, 2 / 5 ** 0.5]  # pairs (0, 1), (0, 2), (1, 2)
    assert stats["similarity"] == pytest.approx(sum(cos) / 3)
    mean = code.mean(0)
    assert stats["spread"] == pytest.approx(float(code.var(0).sum() / mean.pow(2).sum()))
    assert stats["dead"] == pytest.approx(1 / 3)  # the third unit is zero on every image


def test_epoch_end_reports_diagnostics_on_the_kept_slice():
    model = ffcl_model().train()
    method, ctx = FFCL(probe_samples=40), step_context(model)
    assert method.on_epoch_end(ctx) is None
    for _ in range(2):
        method.training_step(ctx, batch(32))
    scalars = method.on_epoch_end(ctx)
    assert sum(len(t) for t in method._probe_labels) == 40
    per_layer = {f"{name}_l{k}" for name in ("agree", "probe", "sim", "spread", "dead") for k in (1, 2, 3)}
    assert set(scalars) == per_layer | {"agree_out"}
    assert all(-1.0 <= v <= 1.0 for name, v in scalars.items() if not name.startswith("spread"))
    assert model.training
