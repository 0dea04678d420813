"""NM-Hebb mechanism on tiny tensors: R_hebb, its gradients, the gate, the pair loss, EWC, options."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import neurozoo
from neurozoo.training.method import StepContext
from neurozoo_plugins.nmhebb.consolidation import ElasticAnchor
from neurozoo_plugins.nmhebb.gate import Neuromodulator, error_rate, fixed_gate, neuromodulator_loss, scaled_ce
from neurozoo_plugins.nmhebb.hebbian import capture_channel_means, channel_means, hebbian_regulariser
from neurozoo_plugins.nmhebb.method import NMHebb
from neurozoo_plugins.nmhebb.metric_learning import pairwise_contrastive_loss
from nmhebb_nets import LAYER as TINY_LAYER
from nmhebb_nets import small_cnn_arch  # noqa: F401 (fixture)



def context(model, method, phase_index=0, epoch=0, epoch_in_phase=0, num_classes=3):
    return StepContext(model=model, net=model, phase=method.phases()[phase_index], phase_index=phase_index,
                       epoch=epoch, epoch_in_phase=epoch_in_phase, step=0, device=torch.device("cpu"),
                       num_classes=num_classes)


@pytest.fixture
def tiny_model(small_cnn_arch):
    torch.manual_seed(0)
    return small_cnn_arch(num_classes=3, input_size=(3, 8, 8))


# --- R_hebb ---------------------------------------------------------------------------------------

def test_hebbian_regulariser_equals_hand_computation():
    # activation (N=2, C=2, H=1, W=2) and a conv of 2 filters (C_in=1, 2x1 kernels)
    activation = torch.tensor([[[[1.0, 3.0]], [[0.0, 2.0]]],
                               [[[5.0, 7.0]], [[4.0, 2.0]]]])
    weight = torch.tensor([[[[0.5], [1.5]]], [[[-1.0], [3.0]]]])
    # abar = (1+3+5+7)/4 = 4, (0+2+4+2)/4 = 2 ; wbar = (0.5+1.5)/2 = 1, (-1+3)/2 = 1
    # R = ((4-1)^2 + (2-1)^2) / 2 = 5
    abar = channel_means(activation)
    assert torch.allclose(abar, torch.tensor([4.0, 2.0]))
    assert hebbian_regulariser(abar, weight).item() == pytest.approx(5.0)


def test_hebbian_regulariser_gradient_matches_finite_differences():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=1).double()
    x = torch.randn(4, 2, 5, 5, dtype=torch.float64)

    def regulariser(weight, inputs):
        activation = torch.relu(nn.functional.conv2d(inputs, weight, conv.bias, padding=1))
        return hebbian_regulariser(channel_means(activation), weight)

    weight = conv.weight.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(regulariser, (weight, x.requires_grad_(True)))


@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
def test_channel_means_gradient_keeps_the_activation_layout(layout):
    torch.manual_seed(0)
    activation = torch.randn(3, 4, 5, 6).contiguous(memory_format=layout).requires_grad_(True)
    other = torch.randn(3, 4, 5, 6).contiguous(memory_format=layout)
    weights = torch.randn(4)
    (grad,) = torch.autograd.grad((channel_means(activation) * weights).sum(), activation)
    assert grad.is_contiguous(memory_format=layout)  # a dense gradient, not a stride-0 expansion
    assert torch.allclose(grad, (weights / (3 * 5 * 6)).view(1, 4, 1, 1).expand(3, 4, 5, 6))
    # summed with the activation's other gradient, the layout survives for the layers before it
    (total,) = torch.autograd.grad((channel_means(activation) * weights).sum() + (activation * other).sum(), activation)
    assert total.is_contiguous(memory_format=layout)


def test_hebbian_gradient_reaches_the_layer_weights_and_earlier_activations(tiny_model):
    net = tiny_model.net
    earlier = {}
    handle = net.stage1.register_forward_hook(lambda m, i, out: earlier.setdefault("a", out))
    with capture_channel_means(net.stage2[2]) as captured:
        tiny_model(torch.rand(6, 3, 8, 8))
    handle.remove()
    assert len(captured) == 1 and captured[0].shape == (16,)
    r = hebbian_regulariser(captured[0], net.stage2[0].weight)
    grad_w, grad_earlier, grad_first = torch.autograd.grad(r, (net.stage2[0].weight, earlier["a"], net.stage1[0].weight))
    assert grad_w.abs().sum() > 0
    assert grad_earlier.abs().sum() > 0  # flows back through the conv into the previous layer's activation
    assert grad_first.abs().sum() > 0
    assert torch.autograd.grad(r, net.stage3[0].weight, allow_unused=True) == (None,)  # later layers: untouched


def test_hook_is_removed_after_the_step(tiny_model):
    method = NMHebb(**TINY_LAYER)
    method.training_step(context(tiny_model, method), (torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0])))
    assert not tiny_model.net.stage2[2]._forward_hooks


def test_hebbian_step_loss_is_ce_plus_gated_regulariser(tiny_model):
    method = NMHebb(gate="fixed", lambda_hebb=0.7, **TINY_LAYER)
    images, targets = torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0])
    out = method.training_step(context(tiny_model, method), (images, targets))
    gate = torch.sigmoid(4.0 * out["ce"] / math.log(3) - 2.0)
    assert out["gate"].item() == pytest.approx(gate.item(), rel=1e-6)
    assert out["loss"].item() == pytest.approx((out["ce"] + 0.7 * gate * out["hebb"]).item(), rel=1e-6)
    with torch.no_grad():
        tiny_model.train()
        activation = tiny_model.net.stage2(tiny_model.net.stage1(images))
    expected = hebbian_regulariser(activation.mean((0, 2, 3)), tiny_model.net.stage2[0].weight)
    assert out["hebb"].item() == pytest.approx(expected.item(), rel=1e-5)


# --- the gate -------------------------------------------------------------------------------------

def test_fixed_gate_is_monotone_in_ce_scaled_by_chance_level():
    ce = torch.linspace(0, 3, 50)
    assert (fixed_gate(scaled_ce(ce, 10), a=4.0, b=-2.0).diff() > 0).all()
    # CE = 0, ln(K)/2, ln(K) (a uniform guess) -> sigmoid(-2), 1/2, sigmoid(2), for any K
    for k in (10, 100):
        gate = fixed_gate(scaled_ce(torch.tensor([0.0, math.log(k) / 2, math.log(k)]), k), a=4.0, b=-2.0)
        assert torch.allclose(gate, torch.tensor([0.1192029, 0.5, 0.8807971]))


def test_phi_is_trained_by_its_own_objective_not_by_the_gated_loss(tiny_model):
    # the paper's ambiguity: if L1 trained phi, a larger lambda_hebb would push the gate down harder;
    # here phi's gradient is the same for any lambda_hebb (the gate enters L1 detached)
    batch = (torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0]))
    torch.manual_seed(1)
    phi = Neuromodulator()
    nn.init.normal_(phi.mlp[2].weight)  # away from its zero start, so every parameter has a gradient
    phi_state = phi.state_dict()
    grads = []
    for lambda_hebb in (0.0, 100.0):
        method = NMHebb(lambda_hebb=lambda_hebb, **TINY_LAYER)
        method.neuromodulator.load_state_dict(phi_state)
        out = method.training_step(context(tiny_model, method), batch)
        assert out["loss"].item() == pytest.approx(
            (out["ce"] + lambda_hebb * out["gate"] * out["hebb"] + out["gate_loss"]).item(), rel=1e-5)
        grads.append(torch.autograd.grad(out["loss"], list(method.neuromodulator.parameters())))
    assert all(g.abs().sum() > 0 for g in grads[0])
    for small, large in zip(*grads):
        assert torch.allclose(small, large, atol=1e-7)


def test_fixed_gate_has_no_trainable_neuromodulator(tiny_model):
    method = NMHebb(gate="fixed", **TINY_LAYER)
    assert method.extra_modules() is None
    out = method.training_step(context(tiny_model, method), (torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0])))
    assert "gate_loss" not in out


def test_error_rate_and_neuromodulator_loss():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.0, 2.0]])
    assert error_rate(logits, torch.tensor([0, 1, 1, 0])).item() == pytest.approx(0.5)
    logit = torch.tensor(0.3)
    p = torch.sigmoid(logit)
    expected = -(0.25 * torch.log(p) + 0.75 * torch.log(1 - p))
    assert neuromodulator_loss(logit, torch.tensor(0.25)).item() == pytest.approx(expected.item(), rel=1e-6)


def test_neuromodulator_starts_at_the_fixed_map_and_learns_observed_error_rates():
    torch.manual_seed(0)
    phi = Neuromodulator(a=4.0, b=-2.0, hidden=8)
    grid = scaled_ce(torch.linspace(0.1, 2.2, 12), 10)
    with torch.no_grad():
        start = torch.sigmoid(phi(grid))
    assert torch.allclose(start, fixed_gate(grid, 4.0, -2.0))

    # error rates a network would show: rising with CE, but flatter than the prior's slope
    observed = 0.2 + 0.5 * grid
    before = neuromodulator_loss(phi(grid), observed).item()
    optimizer = torch.optim.Adam(phi.parameters(), lr=1e-2)
    for _ in range(150):
        optimizer.zero_grad()
        neuromodulator_loss(phi(grid), observed).backward()
        optimizer.step()
    assert neuromodulator_loss(phi(grid), observed).item() < before - 0.02
    with torch.no_grad():
        learned = torch.sigmoid(phi(grid))
    assert (learned.diff() > 0).all()  # still grows with CE
    assert (learned - observed).abs().max() < (start - observed).abs().max()


# --- phase 2: the pair loss -----------------------------------------------------------------------

PAIR_EMBEDDINGS = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6]])
PAIR_LABELS = torch.tensor([0, 0, 1])
# pairs: (0,1) same class, d^2 = 0.4^2 + 0.8^2 = 0.8
#        (0,2) different, d = sqrt(0.2^2 + 0.6^2) = sqrt(0.4): (1 - sqrt(0.4))^2
#        (1,2) different, d = sqrt(0.08): (1 - sqrt(0.08))^2
SAME = 0.8
DIFFERENT = ((1 - math.sqrt(0.4)) ** 2, (1 - math.sqrt(0.08)) ** 2)


def test_pair_loss_equals_hand_computation():
    uniform = pairwise_contrastive_loss(PAIR_EMBEDDINGS, PAIR_LABELS, margin=1.0)
    assert uniform.item() == pytest.approx((SAME + sum(DIFFERENT)) / 3, rel=1e-5)
    balanced = pairwise_contrastive_loss(PAIR_EMBEDDINGS, PAIR_LABELS, margin=1.0, weighting="balanced")
    assert balanced.item() == pytest.approx((SAME + sum(DIFFERENT) / 2) / 2, rel=1e-5)


def test_pair_loss_uses_l2_normalised_embeddings_and_the_margin():
    scaled = pairwise_contrastive_loss(3.0 * PAIR_EMBEDDINGS, PAIR_LABELS, margin=1.0)
    assert scaled.item() == pytest.approx((SAME + sum(DIFFERENT)) / 3, rel=1e-5)
    # with margin 0.2 both different-class pairs lie beyond it and only the same-class pull is left
    assert pairwise_contrastive_loss(PAIR_EMBEDDINGS, PAIR_LABELS, margin=0.2).item() == pytest.approx(SAME / 3)


def test_pair_loss_gradient_is_finite_for_coincident_embeddings():
    embeddings = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    pairwise_contrastive_loss(embeddings, torch.tensor([0, 1, 1])).backward()
    assert torch.isfinite(embeddings.grad).all() and embeddings.grad.abs().sum() > 0


def test_metric_phase_step_is_ce_plus_pair_loss(tiny_model):
    method = NMHebb(epochs=5, lambda_pair=2.0, **TINY_LAYER)
    images, targets = torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0])
    out = method.training_step(context(tiny_model, method, phase_index=1, epoch=5), (images, targets))
    assert set(out) == {"loss", "ce", "pair"}
    logits, embeddings = tiny_model(images, return_embedding=True)
    ce = nn.functional.cross_entropy(logits, targets, label_smoothing=0.1)
    assert out["ce"].item() == pytest.approx(ce.item(), rel=1e-5)
    assert out["pair"].item() == pytest.approx(pairwise_contrastive_loss(embeddings, targets).item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx((out["ce"] + 2.0 * out["pair"]).item(), rel=1e-5)


# --- phases and options ---------------------------------------------------------------------------

def test_shared_recipe_is_the_baselines():
    # NM-Hebb's baseline is the baseline plugin's recipe: only NM-Hebb's own terms differ
    baseline = neurozoo.get_method("baseline").trainer.options
    assert {k: NMHebb.options[k] for k in baseline} == baseline


def test_phases_follow_the_recipe():
    hebbian, metric = NMHebb(epochs=30, lr=0.02, optimizer="sgd").phases()
    assert (hebbian.name, hebbian.epochs, hebbian.lr, hebbian.optimizer) == ("hebbian", 30, 0.02, "sgd")
    assert (metric.name, metric.epochs, metric.optimizer, metric.schedule) == ("metric", 6, "sgd", "cosine")
    assert metric.lr == pytest.approx(0.002)
    assert NMHebb(epochs=3).phases()[1].epochs == 1  # ceil(20 %)
    assert NMHebb(epochs=4, phase2_epochs=2, phase2_lr_factor=0.5, lr=1.0).phases()[1].lr == 0.5
    assert [p.name for p in NMHebb(epochs=4, phase2_epochs=0).phases()] == ["hebbian"]


@pytest.mark.parametrize("options, message", [
    ({"lambda_hebb": -1.0}, "lambda_hebb"),
    ({"margin": 0.0}, "margin"),
    ({"gate": "learned"}, "gate must be one of"),
    ({"pair_weighting": "hard"}, "pair_weighting"),
    ({"phase2_epochs": 1.5}, "phase2_epochs"),
    ({"hebb_layer": "net.stage2.0"}, "together"),
    ({"gate_hidden": 0}, "gate_hidden"),
    ({"gate_a": 0.0}, "gate_a"),
    ({"lambda_hbb": 1.0}, "has no option"),
])
def test_bad_options_are_errors_naming_the_option(options, message):
    with pytest.raises(ValueError, match=message):
        NMHebb(**options)


def test_bad_layer_names_are_errors_naming_the_fix(tiny_model):
    batch = (torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0]))
    method = NMHebb()
    with pytest.raises(ValueError, match="no default Hebbian layer for architecture 'nmhebb_small_cnn'"):
        method.training_step(context(tiny_model, method), batch)
    method = NMHebb(hebb_layer="net.stage9.0", hebb_activation="net.stage2.2")
    with pytest.raises(ValueError, match="not a module of this model.*net.stage1.0"):
        method.training_step(context(tiny_model, method), batch)
    method = NMHebb(hebb_layer="net.stage2.1", hebb_activation="net.stage2.2")
    with pytest.raises(ValueError, match="not an nn.Conv2d"):
        method.training_step(context(tiny_model, method), batch)
    method = NMHebb(hebb_layer="net.stage2.0", hebb_activation="net.stage1.2")  # 8 channels, the conv has 16
    with pytest.raises(ValueError, match="8 channels but the conv has 16 filters"):
        method.training_step(context(tiny_model, method), batch)


def test_multilabel_targets_are_refused(tiny_model):
    method = NMHebb(**TINY_LAYER)
    with pytest.raises(ValueError, match="single-label"):
        method.training_step(context(tiny_model, method), (torch.rand(2, 3, 8, 8), torch.ones(2, 3)))


# --- gated EWC ------------------------------------------------------------------------------------

def test_elastic_penalty_equals_hand_computation():
    layer = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -2.0]]))
    x = torch.tensor([[3.0, 1.0]])
    anchor = ElasticAnchor()
    anchor.refresh(layer, lambda: layer(x).sum(), epoch=1)  # gradient = x, Fisher = x^2 = (9, 1)
    assert anchor.penalty(layer).item() == 0.0
    with torch.no_grad():
        layer.weight += torch.tensor([[0.5, 2.0]])
    assert anchor.penalty(layer).item() == pytest.approx(9 * 0.25 + 1 * 4.0)


def test_ewc_is_off_by_default_and_gated_when_on(tiny_model):
    batch = (torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0]))
    off = NMHebb(**TINY_LAYER).training_step(context(tiny_model, NMHebb(), epoch=1, epoch_in_phase=1), batch)
    assert "ewc" not in off
    method = NMHebb(lambda_ewc=10.0, **TINY_LAYER)
    first = method.training_step(context(tiny_model, method, epoch=0, epoch_in_phase=0), batch)
    assert "ewc" not in first  # no anchor before one epoch is learned
    out = method.training_step(context(tiny_model, method, epoch=1, epoch_in_phase=1), batch)
    assert out["ewc"].item() == 0.0  # anchored at this step's weights
    with torch.no_grad():
        tiny_model.net.head.bias += 0.1
    out = method.training_step(context(tiny_model, method, epoch=1, epoch_in_phase=1), batch)
    assert out["ewc"].item() > 0
    assert out["loss"].item() == pytest.approx(
        (out["ce"] + 0.1 * out["gate"] * out["hebb"] + 10.0 * out["gate"] * out["ewc"] + out["gate_loss"]).item(),
        rel=1e-5)
    restored = NMHebb(lambda_ewc=10.0, **TINY_LAYER)
    restored.load_state_dict(method.state_dict())
    assert restored.elastic.penalty(tiny_model).item() == pytest.approx(out["ewc"].item())
