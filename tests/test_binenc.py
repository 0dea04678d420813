"""BinEnc mechanism: the inserted penultimate layer, the penalty schedules, resumable gamma, metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

import neurozoo
from neurozoo.checkpoint import load_folder
from neurozoo.errors import ConfigError
from neurozoo.training.method import Phase, StepContext
from neurozoo_plugins.binenc.method import BinEnc
from neurozoo_plugins.binenc.metrics import (BINARY_FROM, mahalanobis_distances, peak_separation, read_binarity,
                                             read_convergence, shared_sign_fraction)
from neurozoo_plugins.binenc.models import PenultimateNet


def context(model, epoch=0) -> StepContext:
    return StepContext(model=model, net=model, phase=Phase("train", epochs=1, lr=1e-3), phase_index=0,
                       epoch=epoch, epoch_in_phase=epoch, step=0, device=torch.device("cpu"), num_classes=10)


def mlp_model(seed=0, **method_kwargs):
    torch.manual_seed(seed)
    kwargs = {"variant": "binenc", "width": None, "backbone_act": "relu", **method_kwargs}
    return neurozoo.create_model("mlp", num_classes=10, method="binenc", method_kwargs=kwargs, hidden=(32,))


def gammas(method: BinEnc, epochs: int) -> list[float]:
    """gamma used in each epoch, as the method logs it."""
    model = mlp_model()
    return [method.on_epoch_end(context(model, epoch))["gamma"] for epoch in range(epochs)]


@pytest.mark.parametrize("variant", ["binenc", "linpen", "nonlinpen"])
def test_a_penultimate_layer_of_width_d_is_inserted_before_a_new_classifier(variant):
    model = neurozoo.create_model("resnet18", num_classes=10, method="binenc",
                                  method_kwargs={"variant": variant, "width": 6, "backbone_act": "silu"})
    net = model.net
    assert isinstance(net, PenultimateNet)
    linear = net.penultimate[0] if variant == "nonlinpen" else net.penultimate
    assert (linear.in_features, linear.out_features) == (512, 6)
    assert isinstance(net.penultimate, nn.Sequential) == (variant == "nonlinpen")
    assert (net.head.in_features, net.head.out_features) == (6, 10)
    assert isinstance(net.backbone.body.get_classifier(), nn.Identity)  # the old classifier is gone
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    logits, z = model(torch.rand(2, 3, 32, 32), return_embedding=True)
    assert logits.shape == (2, 10) and z.shape == (2, 6)
    if variant == "nonlinpen":
        assert (z > -0.28).all()  # SiLU's minimum is about -0.278


def test_nopen_is_the_plain_backbone_with_the_chosen_activation():
    torch.manual_seed(0)
    plain = neurozoo.create_model("resnet18", num_classes=10)
    nopen = neurozoo.create_model("resnet18", num_classes=10, method="binenc",
                                  method_kwargs={"variant": "nopen", "width": None, "backbone_act": "relu"})
    assert [(n, p.shape) for n, p in plain.named_parameters()] == [(n, p.shape) for n, p in nopen.named_parameters()]
    silu = neurozoo.create_model("mlp", num_classes=10, method="binenc",
                                 method_kwargs={"variant": "nopen", "width": None, "backbone_act": "silu"})
    assert sum(isinstance(m, nn.SiLU) for m in silu.modules()) == 2
    assert not any(isinstance(m, nn.ReLU) for m in silu.modules())


def test_width_defaults_to_the_smallest_code_and_is_checked():
    assert mlp_model().net.penultimate.out_features == 4  # 2**4 >= 10 > 2**3
    with pytest.raises(ValueError, match="2\\*\\*d >= 10"):
        mlp_model(width=3)
    with pytest.raises(ValueError, match="variant must be one of"):
        BinEnc(variant="bogus")
    with pytest.raises(ValueError, match="penalty must be one of"):
        BinEnc(penalty="v2")


def test_a_checkpoint_rebuilds_the_adapted_model(tmp_path):
    method = BinEnc(variant="nonlinpen", width=5, backbone_act="silu")
    model = neurozoo.create_model("mlp", num_classes=10, method="binenc", method_kwargs=method.method_kwargs())
    neurozoo.save(model, tmp_path / "ckpt")
    loaded = load_folder(tmp_path / "ckpt")
    images = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(loaded.eval()(images), model.eval()(images))
    assert loaded.config["method_kwargs"] == {"variant": "nonlinpen", "width": 5, "backbone_act": "silu"}


def test_schedule_v3_multiplies_gamma_by_1_084_each_epoch():
    assert gammas(BinEnc(penalty="v3"), 50) == pytest.approx([0.01 * 1.084**e for e in range(50)], rel=1e-12)


def test_schedule_v4_multiplies_by_1_05_and_stops_at_1e6():
    values = gammas(BinEnc(penalty="v4", epochs=800), 400)  # its paper budget: x1.05 per epoch
    first_capped = math.ceil(math.log(1e8) / math.log(1.05))  # 0.01 * 1.05**e >= 1e6
    assert values[:first_capped] == pytest.approx([0.01 * 1.05**e for e in range(first_capped)], rel=1e-12)
    assert values[first_capped:] == [1e6] * (400 - first_capped)


def test_schedule_v1_is_a_constant_weight_on_exp_of_the_mean_square():
    method = BinEnc(penalty="v1")
    assert gammas(method, 5) == [10.0] * 5
    z = torch.tensor([[0.5, -1.0], [0.0, 2.0]])
    torch.testing.assert_close(method.schedule.penalty(z, method.gamma), torch.tensor(10 * math.exp(5.25 / 4)))


def test_gamma0_overrides_the_schedule_start():
    assert gammas(BinEnc(penalty="v3", gamma0=0.3), 3) == pytest.approx([0.3, 0.3 * 1.084, 0.3 * 1.084**2])


def test_the_penalty_gradient_is_2_gamma_z_over_numel():
    method = BinEnc(penalty="v3")
    method.gamma = 0.37
    z = torch.randn(8, 4, requires_grad=True)
    (grad,) = torch.autograd.grad(method.schedule.penalty(z, method.gamma), z)
    torch.testing.assert_close(grad, 2 * 0.37 * z.detach() / z.numel())
    v1 = BinEnc(penalty="v1")
    (grad,) = torch.autograd.grad(v1.schedule.penalty(z, v1.gamma), z)
    torch.testing.assert_close(grad, 10 * torch.exp(z.detach().pow(2).mean()) * 2 * z.detach() / z.numel())


def test_the_training_step_adds_the_penalty_only_for_binenc():
    images, targets = torch.rand(16, 1, 28, 28), torch.arange(16) % 10
    for variant in ("binenc", "linpen"):
        model, method = mlp_model(variant=variant), BinEnc(variant=variant, gamma0=0.5)
        out = method.training_step(context(model), (images, targets))
        logits, z = model(images, return_embedding=True)
        ce = nn.functional.cross_entropy(logits, targets)
        expected = ce + 0.5 * z.pow(2).mean() if variant == "binenc" else ce
        torch.testing.assert_close(out["loss"], expected)
    # the penalty's gradient on the penultimate bias: d/db gamma * mean(z^2) = 2 gamma mean_n(z) / d
    model, method = mlp_model(), BinEnc(gamma0=0.5)
    bias = model.net.penultimate.bias
    (total,) = torch.autograd.grad(method.training_step(context(model), (images, targets))["loss"], bias)
    logits, z = model(images, return_embedding=True)
    (ce_only,) = torch.autograd.grad(nn.functional.cross_entropy(logits, targets), bias)
    torch.testing.assert_close(total - ce_only, 2 * 0.5 * z.detach().mean(0) / z.shape[1])


def test_gamma_and_convergence_survive_a_resume():
    model = mlp_model()
    first = BinEnc(penalty="v3", convergence_threshold=0.5)
    images, targets = torch.rand(4, 1, 28, 28), torch.zeros(4, dtype=torch.long)
    for epoch in range(3):
        first.training_step(context(model, epoch), (images, targets))
        first._correct = torch.tensor(4) if epoch == 1 else torch.tensor(0)  # epoch 2 (from 1) converges
        first.on_epoch_end(context(model, epoch))
    resumed = BinEnc(penalty="v3", convergence_threshold=0.5)
    resumed.load_state_dict(first.state_dict())
    scalars = resumed.on_epoch_end(context(model, 3))
    assert scalars["gamma"] == pytest.approx(0.01 * 1.084**3)
    assert scalars["convergence_epoch"] == 2.0


def test_sign_pattern_fraction_by_hand():
    codes = np.array([[1, 1], [2, 3], [-1, 1], [1, -1], [-1, -1], [-2, -5]], dtype=float)
    groups = np.array([0, 0, 0, 1, 1, 1])
    # group 0: patterns ++, ++, -+ -> 2 share; group 1: +-, --, -- -> 2 share
    assert shared_sign_fraction(codes, groups) == pytest.approx(4 / 6)


def test_binarity_separates_bimodal_from_unimodal_codes():
    rng = np.random.default_rng(0)
    bimodal = np.concatenate([rng.normal(-1, 0.1, 500), rng.normal(1, 0.1, 500)])
    unimodal = rng.normal(0, 1, 1000)
    assert peak_separation(bimodal) > 15
    assert peak_separation(unimodal) < 3


@pytest.mark.parametrize("value, sentence", [
    (BINARY_FROM, "the code z is binary (4.00 >= 4"),
    (3.98, "the code z is not binary (3.98 < 4;"),
    (None, "undefined"),
])
def test_the_card_reads_a_binarity_by_the_documented_rule(value, sentence):
    assert read_binarity({"binarity": value}).startswith(sentence)
    assert neurozoo.registry.get_metric("binarity").reading is read_binarity


def test_the_card_reads_whether_training_converged():
    assert read_convergence({"convergence_epoch": None, "final_train_acc": 0.97, "epochs": 20}).startswith(
        "not converged: no epoch's training accuracy passed the threshold in 20 epochs (the last: 0.9700)")
    assert read_convergence({"convergence_epoch": 12, "final_train_acc": 0.9995, "epochs": 20}) == \
        "converged in epoch 12 of 20 (the last epoch's training accuracy 0.9995)"


def test_mahalanobis_distance_flags_off_cluster_points():
    rng = np.random.default_rng(0)
    centres = np.array([[2.0, 2.0], [-2.0, -2.0]])
    train_labels = np.repeat([0, 1], 200)
    train = centres[train_labels] + rng.normal(0, 0.2, (400, 2))
    near = centres[[0, 1]] + rng.normal(0, 0.2, (2, 2))
    far = np.array([[0.0, 0.5], [0.5, 0.0]])
    distances = mahalanobis_distances(train, train_labels, np.ones(400, bool),
                                      np.vstack([near, far]), np.array([0, 1, 0, 1]))
    assert distances[:2].max() < 4 < distances[2:].min()
    lonely = mahalanobis_distances(train, train_labels, train_labels == 0, near, np.array([0, 1]))
    assert np.isnan(lonely[1]) and not np.isnan(lonely[0])  # class 1 has no correct training point


def test_the_v4_learning_rate_steps_are_a_recipe_option():
    (phase,) = BinEnc(penalty="v4", epochs=800, schedule="step", milestones=(300, 350, 400)).phases()
    assert (phase.schedule, phase.milestones, phase.gamma, phase.epochs) == ("step", (300, 350, 400), 0.5, 800)
    assert (phase.optimizer, phase.weight_decay, phase.lr) == ("adamw", 5e-4, 1e-3)


def test_the_defaults_are_the_papers_model_and_recipe():
    method = BinEnc()
    r = method.recipe
    assert (r["variant"], r["backbone_act"], r["penalty"], method.gamma) == ("binenc", "silu", "v3", 0.01)
    (phase,) = method.phases()
    assert (phase.optimizer, phase.weight_decay, phase.schedule) == ("adamw", 5e-4, "constant")
    model = neurozoo.create_model("resnet18", num_classes=10, method="binenc")
    assert model.net.penultimate.out_features == 4  # v3's d = 4 for 10 classes
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())


@pytest.mark.parametrize("epochs, rate", [(200, 1.084), (80, 1.084), (50, 1.084), (20, 1.084**2.5), (5, 1.084**10)])
def test_gamma_follows_the_v3_rate_compressed_only_below_the_studied_50_epochs(epochs, rate):
    values = gammas(BinEnc(epochs=epochs), epochs)
    assert values == pytest.approx([0.01 * rate**e for e in range(epochs)], rel=1e-9)
    # after its last epoch gamma is where 50 epochs at the paper's x1.084 leave it, or further in a longer run
    assert values[-1] * rate == pytest.approx(0.01 * 1.084 ** max(epochs, 50), rel=1e-9)


def test_a_fixed_gamma_rate_overrides_the_budget_scaling_and_v4_keeps_its_cap():
    assert gammas(BinEnc(epochs=50, gamma_rate=1.3), 3) == pytest.approx([0.01, 0.013, 0.0169])
    assert gammas(BinEnc(penalty="v4", epochs=20), 2)[1] == pytest.approx(0.01 * 1.05**2.5)
    capped = gammas(BinEnc(penalty="v4", epochs=40, gamma_rate=2.0), 40)  # 0.01 * 2**27 > 1e6
    assert max(capped) == 1e6 and capped[-1] == 1e6 and capped[26] == pytest.approx(0.01 * 2.0**26)
    assert gammas(BinEnc(penalty="v1", epochs=20), 3) == [10.0] * 3
    with pytest.raises(Exception, match="gamma_rate"):
        BinEnc(gamma_rate=0)


def test_convergence_epoch_is_read_from_the_run_log(tmp_path):
    from neurozoo_plugins.binenc.metrics import convergence_epoch

    log = [{"epoch": 1, "train_acc": 0.5}, {"epoch": 2, "train_acc": 0.9995}, {"epoch": 3, "train_acc": 0.9992}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in log))
    (tmp_path / "run.json").write_text(json.dumps({"recipe": {"convergence_threshold": 0.999}}))
    assert convergence_epoch(None, run=str(tmp_path)) == {"convergence_epoch": 2, "final_train_acc": 0.9992,
                                                          "epochs": 3}
    assert convergence_epoch(None, run=str(tmp_path), threshold=0.9999)["convergence_epoch"] is None
    with pytest.raises(ConfigError, match="convergence_epoch.run"):
        convergence_epoch(None)
