"""NM-Hebb mechanism on tiny tensors: R_hebb, its gradients, the gate, the pair loss, EWC, options."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from torch import nn

import neurozoo
from neurozoo.training.method import StepContext
from neurozoo.training.optim import schedule_span
from neurozoo_plugins.nmhebb.consolidation import ElasticAnchor
from neurozoo_plugins.nmhebb.gate import Neuromodulator, error_rate, fixed_gate, neuromodulator_loss, scaled_ce
from neurozoo_plugins.nmhebb.hebbian import capture_channel_means, channel_means, hebbian_regulariser
from neurozoo_plugins.nmhebb.method import NMHebb
from neurozoo_plugins.nmhebb.metric_learning import EMBEDDING_HEADS, embed, pairwise_contrastive_loss
from neurozoo_plugins.nmhebb.probe import ProbeSlice
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


@pytest.mark.parametrize("head", EMBEDDING_HEADS)
def test_pair_loss_gradient_is_finite_for_coincident_embeddings(head):
    embeddings = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    pairwise_contrastive_loss(embeddings, torch.tensor([0, 1, 1]), head=head).backward()
    assert torch.isfinite(embeddings.grad).all() and embeddings.grad.abs().sum() > 0


def test_embedding_heads_equal_hand_computations():
    z = PAIR_EMBEDDINGS
    assert torch.allclose(embed(z, "l2"), z)  # already unit vectors
    centered = z - torch.tensor([0.8, 1.4 / 3])  # minus the batch mean
    assert torch.allclose(embed(z, "centered"), centered / centered.norm(dim=1, keepdim=True))
    scale = centered.pow(2).sum(1).mean().sqrt()  # the batch's root-mean-square distance to its mean
    assert torch.allclose(embed(z, "standardized"), centered / scale)
    assert embed(z, "standardized").pow(2).sum(1).mean().item() == pytest.approx(1.0)


@pytest.mark.parametrize("head", ["centered", "standardized"])
def test_batch_heads_see_what_k_means_sees(head):
    # blind to a shared offset (the l2 head of non-negative features is not: there every pair starts
    # close); "standardized" also to one common scale: the two changes that leave k-means unchanged
    moved = 3.0 * PAIR_EMBEDDINGS + torch.tensor([5.0, 5.0])
    loss = pairwise_contrastive_loss(PAIR_EMBEDDINGS, PAIR_LABELS, head=head)
    assert pairwise_contrastive_loss(moved, PAIR_LABELS, head=head).item() == pytest.approx(loss.item(), rel=1e-5)
    assert pairwise_contrastive_loss(moved, PAIR_LABELS).item() != pytest.approx(
        pairwise_contrastive_loss(PAIR_EMBEDDINGS, PAIR_LABELS).item(), rel=1e-3)
    g = embed(PAIR_EMBEDDINGS, head)
    d = torch.cdist(g, g)
    expected = (d[0, 1] ** 2 + (1 - d[0, 2]).clamp_min(0) ** 2 + (1 - d[1, 2]).clamp_min(0) ** 2) / 3
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_metric_phase_step_is_ce_plus_pair_loss(tiny_model):
    method = NMHebb(epochs=5, lambda_pair=2.0, **TINY_LAYER)
    images, targets = torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0])
    out = method.training_step(context(tiny_model, method, phase_index=1, epoch=4), (images, targets))
    assert set(out) == {"loss", "ce", "pair"}
    logits, embeddings = tiny_model(images, return_embedding=True)
    ce = nn.functional.cross_entropy(logits, targets, label_smoothing=0.1)
    assert out["ce"].item() == pytest.approx(ce.item(), rel=1e-5)
    pair = pairwise_contrastive_loss(embeddings, targets, margin=1.0, weighting="balanced", head="standardized")
    assert out["pair"].item() == pytest.approx(pair.item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx((out["ce"] + 2.0 * out["pair"]).item(), rel=1e-5)


@pytest.mark.parametrize("phase_index", [0, 1])
def test_terms_weighted_zero_add_no_gradient(tiny_model, phase_index):
    # the control arm: NM-Hebb's schedule with lambda_hebb = lambda_pair = 0 trains on CE alone
    method = NMHebb(epochs=5, lambda_hebb=0.0, lambda_pair=0.0, **TINY_LAYER)
    images, targets = torch.rand(6, 3, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2])
    params = list(tiny_model.parameters())
    out = method.training_step(context(tiny_model, method, phase_index, epoch=4 * phase_index), (images, targets))
    assert (out["hebb"] if phase_index == 0 else out["pair"]) > 0  # the term is there, and logged
    by_method = torch.autograd.grad(out["loss"], params)
    ce = nn.functional.cross_entropy(tiny_model(images), targets, label_smoothing=0.1)
    for got, expected in zip(by_method, torch.autograd.grad(ce, params)):
        assert torch.equal(got, expected)


def test_the_neuromodulator_leaves_the_global_random_stream_alone():
    # so a run of nmhebb initialises its network exactly as the baseline does with the same seed
    torch.manual_seed(0)
    before = torch.get_rng_state()
    NMHebb(gate="mlp")
    assert torch.equal(torch.get_rng_state(), before)


# --- phases and options ---------------------------------------------------------------------------

def test_shared_recipe_is_the_baselines():
    # NM-Hebb's baseline is the baseline plugin's recipe: only NM-Hebb's own terms differ
    baseline = neurozoo.get_method("baseline").trainer.options
    assert {k: NMHebb.options[k] for k in baseline} == baseline


def test_both_phases_share_the_baselines_budget_and_schedule():
    baseline = neurozoo.get_method("baseline").trainer(epochs=15).phases()
    hebbian, metric = NMHebb(epochs=15).phases()
    assert (hebbian.name, hebbian.epochs, metric.name, metric.epochs) == ("hebbian", 12, "metric", 3)
    # phase 2 continues phase 1's optimiser, and the chain is the baseline's one phase
    assert metric.continue_from_previous and schedule_span([hebbian, metric], 1) == range(0, 2)
    assert replace(hebbian, name="train", epochs=15) == baseline[0]
    assert replace(metric, name="train", epochs=15, continue_from_previous=False) == baseline[0]
    assert [p.epochs for p in NMHebb(epochs=3).phases()] == [2, 1]  # rounded 20 %
    assert [p.epochs for p in NMHebb(epochs=30, phase2_fraction=0.1).phases()] == [27, 3]
    assert [p.epochs for p in NMHebb(epochs=4, phase2_epochs=4).phases()] == [0, 4]
    assert [p.name for p in NMHebb(epochs=4, phase2_epochs=0).phases()] == ["hebbian"]


def test_warmup_start_gives_phase_2_a_fresh_reduced_schedule():
    hebbian, metric = NMHebb(epochs=10, lr=0.2, phase2_start="warmup", phase2_warmup_epochs=0.25).phases()
    assert (hebbian.epochs, hebbian.schedule, hebbian.lr) == (8, "onecycle", 0.2)
    assert (metric.epochs, metric.schedule, metric.warmup_epochs) == (2, "cosine", 0.25)
    assert metric.lr == pytest.approx(0.02) and not metric.continue_from_previous


@pytest.mark.parametrize("options, message", [
    ({"lambda_hebb": -1.0}, "lambda_hebb"),
    ({"margin": 0.0}, "margin"),
    ({"gate": "learned"}, "gate must be one of"),
    ({"pair_weighting": "hard"}, "pair_weighting"),
    ({"phase2_epochs": 1.5}, "phase2_epochs"),
    ({"epochs": 3, "phase2_epochs": 4}, "from 0 to epochs"),
    ({"phase2_fraction": 1.5}, "phase2_fraction"),
    ({"phase2_start": "restart"}, "phase2_start must be one of"),
    ({"embedding_head": "mlp"}, "embedding_head must be one of"),
    ({"probe_samples": 1}, "probe_samples"),
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


# --- the probe slice ------------------------------------------------------------------------------

class BrightnessEmbedding(nn.Module):
    """Embeds an image as its per-channel mean brightness; records the mode it ran in."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.modes = []

    def forward(self, x, return_embedding=False):
        self.modes.append(self.training)
        z = self.scale * x.mean((2, 3))
        return (z, z) if return_embedding else z


def test_probe_slice_keeps_the_first_images_exactly_and_survives_a_resume():
    pixels = torch.randint(0, 256, (4, 3, 2, 2), dtype=torch.uint8)
    probe = ProbeSlice(5)
    probe.keep(pixels.float() / 255, torch.tensor([0, 1, 2, 3]))
    probe.keep(pixels.flip(0).float() / 255, torch.tensor([7, 6, 5, 4]))  # only its first image is missing
    assert len(probe) == 5 and torch.equal(probe.labels, torch.tensor([0, 1, 2, 3, 7]))
    assert torch.equal(probe.pixels, torch.cat([pixels, pixels[-1:]]))
    restored = ProbeSlice(5)
    restored.load_state_dict(probe.state_dict())
    restored.keep(pixels.float() / 255, torch.tensor([0, 1, 2, 3]))  # full: nothing is added
    assert torch.equal(restored.pixels, probe.pixels) and torch.equal(restored.labels, probe.labels)


def test_probe_nmi_scores_how_the_embeddings_cluster_by_class():
    torch.manual_seed(0)
    labels = torch.arange(3).repeat_interleave(40)
    images = (0.2 + 0.3 * labels.float()).view(-1, 1, 1, 1) + 0.02 * torch.rand(120, 3, 4, 4)
    model = BrightnessEmbedding()
    probe = ProbeSlice(120)
    probe.keep(images, labels)
    assert probe.nmi(model, num_classes=3) == pytest.approx(1.0)
    assert model.modes == [False] and model.training  # measured in eval mode, mode restored
    shuffled = ProbeSlice(120)
    shuffled.keep(images, labels[torch.randperm(120)])
    assert shuffled.nmi(model, num_classes=3) < 0.2


def test_every_epoch_ends_with_the_probe_nmi(tiny_model):
    method = NMHebb(probe_samples=6, **TINY_LAYER)
    assert method.on_epoch_end(context(tiny_model, method)) is None  # nothing seen yet
    for _ in range(2):
        method.training_step(context(tiny_model, method), (torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0])))
    assert len(method.probe) == 6
    scalars = method.on_epoch_end(context(tiny_model, method))
    assert set(scalars) == {"probe_nmi"} and 0.0 <= scalars["probe_nmi"] <= 1.0
    assert torch.equal(method.state_dict()["probe"]["pixels"], method.probe.pixels)
