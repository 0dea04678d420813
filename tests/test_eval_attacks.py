"""Attacks lower the accuracy of a tiny trained model and stay inside [0, 1] and the budget;
DeepFool matches its closed form on a linear model."""

from __future__ import annotations

import pytest
import torch
from eval_support import evaltest_plugin, signal_arrays, trained_mlp, wrap  # noqa: F401 (fixtures)
from torch import nn

import neurozoo
from neurozoo.evaluation import evaluate
from neurozoo.evaluation.accuracy import correct
from neurozoo.evaluation.attacks import attack_scope, build_attack, format_eps

pytestmark = pytest.mark.usefixtures("evaltest_plugin")

BUDGETS = [("pgd", "linf", 0.3), ("pgd", "l2", 1.5), ("apgd_ce", "linf", 0.3), ("apgd_ce", "l2", 1.5),
           ("apgd_t", "linf", 0.3), ("apgd_t", "l2", 1.5), ("apgd", "linf", 0.3), ("apgd", "l2", 1.5)]


@pytest.fixture(scope="module")
def model():
    return trained_mlp()


@pytest.mark.parametrize("kind,norm,eps", BUDGETS)
def test_attack_lowers_accuracy_within_budget_and_pixel_range(model, kind, norm, eps):
    images, labels = signal_arrays(64)
    assert correct(model(images), labels).all()
    attack = build_attack(kind, model, norm, eps, steps=10, num_classes=4)
    state = torch.random.get_rng_state()
    with attack_scope(model, seed=0):
        adversarial = attack(images, labels)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's random stream is untouched
    assert all(p.requires_grad for p in model.parameters())  # frozen only during the attack
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    delta = (adversarial - images).flatten(1)
    size = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    assert (size <= eps * (1 + 1e-5)).all()
    assert correct(model(adversarial), labels).float().mean() < 0.5


def test_attack_metrics_report_each_budget_and_a_curve(model):
    result = evaluate(model, "evaltest", ["top1", "pgd_linf", "apgd_ce"], options={
        "pgd_linf": {"eps": [0.02, 0.3], "max_samples": 64},
        "apgd_ce": {"linf_eps": [0.3], "l2_eps": [1.5], "max_samples": 64},
    })
    m = result["metrics"]
    assert m["top1"]["top1"] == 1.0
    assert list(m["pgd_linf"]) == ["pgd_linf_eps_0.02", "pgd_linf_eps_0.3"]
    assert m["pgd_linf"]["pgd_linf_eps_0.3"] < 0.5 < m["pgd_linf"]["pgd_linf_eps_0.02"]
    assert m["apgd_ce"]["apgd_ce_linf_eps_0.3"] < 0.5 and m["apgd_ce"]["apgd_ce_l2_eps_1.5"] < 0.5
    # the result says how each figure was measured: the given options over the defaults (steps, seed)
    assert result["settings"] == {
        "top1": {},
        "pgd_linf": {"eps": [0.02, 0.3], "steps": 10, "max_samples": 64, "seed": 0},
        "apgd_ce": {"linf_eps": [0.3], "l2_eps": [1.5], "steps": 10, "max_samples": 64, "seed": 0},
    }
    curves = {(c["plot"], c["label"]): c for c in result["curves"]}
    assert set(curves) == {("adversarial_linf", "pgd_linf"), ("adversarial_linf", "apgd_ce_linf"),
                           ("adversarial_l2", "apgd_ce_l2")}
    pgd = curves[("adversarial_linf", "pgd_linf")]
    assert pgd["x"] == [0.0, 0.02, 0.3] and pgd["y"] == [1.0, *m["pgd_linf"].values()]


def test_the_apgd_pair_is_the_per_image_worst_case_of_its_two_attacks(model):
    """An image survives the pair only if it survives APGD-CE and APGD-T: at a budget where each
    attack alone leaves some images correct (and APGD-T breaks some that APGD-CE does not), the pair
    leaves exactly those that both leave."""
    images, labels = signal_arrays(64)
    survivors = {}
    for kind in ("apgd_ce", "apgd_t", "apgd"):
        attack = build_attack(kind, model, "linf", 0.07, steps=10, num_classes=4)
        with attack_scope(model, seed=0):
            survivors[kind] = correct(model(attack(images, labels)), labels)
    assert 0 < survivors["apgd_ce"].sum() < 64 and 0 < survivors["apgd_t"].sum() < 64
    assert (survivors["apgd_ce"] & ~survivors["apgd_t"]).any()
    assert torch.equal(survivors["apgd"], survivors["apgd_ce"] & survivors["apgd_t"])


def test_attack_results_are_reproducible(model):
    options = {"pgd_l2": {"eps": [1.0], "max_samples": 64}}
    first = evaluate(model, "evaltest", ["pgd_l2"], options=options)["metrics"]
    assert evaluate(model, "evaltest", ["pgd_l2"], options=options)["metrics"] == first


def test_linf_budgets_on_the_grey_level_grid_read_as_fractions():
    assert format_eps(2 / 255, "linf") == "2/255"
    assert format_eps(0.3, "linf") == "0.3"
    assert format_eps(0.25, "l2") == "0.25"


class LinearTwoClass(nn.Module):
    """logits = [0, w.x + b]: DeepFool's minimal perturbation is |f(x)| / ||w|| along w."""

    def __init__(self, w: torch.Tensor, b: float):
        super().__init__()
        self.w = nn.Parameter(w)
        self.b = nn.Parameter(torch.tensor(b))

    def embed(self, x):
        return x.flatten(1)

    def classify(self, z):
        f = z @ self.w + self.b
        return torch.stack([torch.zeros_like(f), f], 1)


def test_deepfool_matches_the_closed_form_on_a_linear_model():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(4, generator=g)
    images = 0.5 + 0.05 * torch.randn(40, 1, 2, 2, generator=g)  # far from 0 and 1: no clamping
    net = LinearTwoClass(w, b=0.0)
    f = images.flatten(1) @ w
    labels = (f > 0).long()  # every sample classified correctly

    class Plugin:
        @neurozoo.hookimpl
        def register_datasets(register):
            register(neurozoo.Dataset("evaltest_linear",
                                      lambda split, root=None: torch.utils.data.TensorDataset(images, labels),
                                      2, ("a", "b"), (0.0,), (1.0,), (1, 2, 2)))

    neurozoo.plugins.register(Plugin, name="evaltest_linear")
    try:
        result = evaluate(wrap(net, neurozoo.get_dataset("evaltest_linear")), "evaltest_linear", ["deepfool"],
                          options={"deepfool": {"overshoot": 0.02}})
    finally:
        neurozoo.plugins.unregister("evaltest_linear")
    expected = (1.02 * f.abs() / w.norm() / images.flatten(1).norm(dim=1)).mean().item()
    assert result["metrics"]["deepfool"]["deepfool_score"] == pytest.approx(expected, rel=1e-4)
    assert result["metrics"]["deepfool"]["deepfool_fooled"] == 1.0
