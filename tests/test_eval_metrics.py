"""Each shared metric on cases with a known answer: perfect, constant/random, and hand-built classifiers."""

from __future__ import annotations

import math

import pytest
import torch
from eval_support import (
    EVALTEST,
    EVALTEST_LOOKUP,
    EVALTEST_MULTILABEL,
    EVALTEST_NOISE,
    EVALTEST_PAIRS,
    MULTI_TARGETS,
    TWO_CLASS,
    ConstantNet,
    LookupNet,
    OracleNet,
    evaltest_plugin,  # noqa: F401 (fixture)
    wrap,
)

from neurozoo.evaluation import Outputs, evaluate
from neurozoo.evaluation.accuracy import correct, exact_set_correct
from neurozoo.evaluation.calibration import expected_calibration_error

pytestmark = pytest.mark.usefixtures("evaltest_plugin")


def figures(result):
    return {name: value for metric in result["metrics"].values() for name, value in metric.items()}


def two_class_model():
    p0 = torch.tensor([p for _, p in TWO_CLASS], dtype=torch.float64)
    logits = torch.stack([p0.log(), (1 - p0).log()], 1).float()
    return wrap(LookupNet(logits), EVALTEST_LOOKUP)


def test_perfect_classifier():
    model = wrap(OracleNet(), EVALTEST)
    result = evaluate(model, "evaltest", ["top1", "nmi", "ece", "misclassification_auroc"])
    got = figures(result)
    assert got["top1"] == 1.0
    assert got["nmi"] == pytest.approx(1.0)
    assert got["ece"] < 1e-3  # confidence ~1 everywhere, accuracy 1
    assert got["misclassification_auroc"] is None  # undefined: nothing is misclassified
    assert result["num_samples"] == 256


def test_constant_classifier_is_at_the_class_prior():
    model = wrap(ConstantNet(), EVALTEST)
    got = figures(evaluate(model, "evaltest", ["top1", "ece"]))
    assert got["top1"] == 0.25  # balanced classes, always class 0
    confidence = torch.tensor([5.0, 0, 0, 0]).softmax(0)[0].item()
    assert got["ece"] == pytest.approx(confidence - 0.25, abs=1e-6)  # one bin: |0.25 - conf|


def test_random_classifier_is_at_chance():
    torch.manual_seed(0)
    model = wrap(OracleNet(), EVALTEST_NOISE)  # reads noise: unrelated to labels
    got = figures(evaluate(model, "evaltest_noise", ["top1", "nmi", "misclassification_auroc"]))
    assert got["top1"] == pytest.approx(0.25, abs=0.04)
    assert got["nmi"] < 0.02
    assert got["misclassification_auroc"] == pytest.approx(0.5, abs=0.06)


def test_hand_built_two_class_case():
    got = figures(evaluate(two_class_model(), "evaltest_lookup", ["top1", "ece", "misclassification_auroc"]))
    assert got["top1"] == pytest.approx(0.7)
    # 15 bins: conf 0.9 (4 right) | 0.62 (1 wrong) | 0.83 (3 right) and 0.85 (2 wrong) share bin 12
    expected_ece = (abs(4 - 4 * 0.9) + abs(0 - 0.62) + abs(3 - (3 * 0.83 + 2 * 0.85))) / 10
    assert got["ece"] == pytest.approx(expected_ece, abs=1e-6)
    # pairs (right, wrong) ranked right: 4 x 3 for conf 0.9, 3 x 1 for 0.83 (> 0.62) of 7 x 3
    assert got["misclassification_auroc"] == pytest.approx(15 / 21)


def test_ece_bins_are_right_closed_and_cover_zero():
    confidence = torch.tensor([0.0, 0.5, 0.5, 1.0])
    correct = torch.tensor([False, True, False, True])
    # 2 bins: [0, 0.5] holds 0, 0.5, 0.5 (acc 1/3, conf 1/3); (0.5, 1] holds 1.0 (acc 1, conf 1)
    assert expected_calibration_error(confidence, correct, n_bins=2) == pytest.approx(0.0)
    assert expected_calibration_error(torch.tensor([0.75]), torch.tensor([False]), n_bins=4) == pytest.approx(0.75)


def test_nmi_of_clusters_unrelated_to_labels_is_zero():
    # labels are 0, 0, 1, 1; samples 0 and 2 cluster together, 1 and 3 together: mutual information 0
    features = torch.tensor([[0.0, 0.0], [10.0, 10.0], [0.1, 0.0], [10.0, 10.1]])
    net = LookupNet(torch.zeros(4, 2), features)
    got = figures(evaluate(wrap(net, EVALTEST_PAIRS), "evaltest_pairs", ["nmi"]))
    assert got["nmi"] == pytest.approx(0.0, abs=1e-12)


def test_exact_set_multilabel():
    # sample 0: top-2 = {0, 1} right; 1: top-1 = {2} right; 2: top-3 = {0, 1, 2} != {0, 2, 3}; 3: top-1 = {0} != {1}
    logits = torch.tensor([[3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 5.0, 2.0], [3.0, 2.5, 2.0, 0.0], [2.0, 1.0, 0.0, 0.0]])
    assert exact_set_correct(logits, MULTI_TARGETS).tolist() == [True, True, False, False]
    assert correct(logits, MULTI_TARGETS).tolist() == [True, True, False, False]  # multi-hot -> exact set
    model = wrap(LookupNet(logits), EVALTEST_MULTILABEL)
    assert figures(evaluate(model, "evaltest_multilabel", ["exact_set"])) == {"exact_set": 0.5}
    # the default metric of a multi-label set is exact_set
    assert list(evaluate(model, "evaltest_multilabel")["metrics"]) == ["exact_set"]


def test_outputs_are_collected_once_for_all_metrics(monkeypatch):
    from neurozoo.evaluation.context import EvalContext

    passes = []
    original = EvalContext._collect
    monkeypatch.setattr(EvalContext, "_collect", lambda self, *a: passes.append(a) or original(self, *a))
    model = wrap(OracleNet(), EVALTEST)
    evaluate(model, "evaltest", ["top1", "nmi", "ece", "misclassification_auroc"], limit=100)
    assert passes == [("test", 100)]


def test_limit_takes_the_first_samples():
    model = wrap(ConstantNet(), EVALTEST)
    result = evaluate(model, "evaltest", "top1", limit=3)  # labels 0, 1, 2 -> one right
    assert result["num_samples"] == 3
    assert math.isclose(figures(result)["top1"], 1 / 3)


def test_corruptions_leave_an_input_blind_classifier_unchanged():
    model = wrap(ConstantNet(), EVALTEST)
    result = evaluate(model, "evaltest", ["corruption"], limit=64, options={"corruption": {"severities": [1, 5]}})
    got = result["metrics"]["corruption"]
    assert set(got) == {"noise_sigma_0.05", "noise_sigma_0.1", "noise_sigma_0.2", "noise_sigma_0.3",
                        *(f"{name}_severity_{k}" for name in ("salt_and_pepper", "blur", "jpeg", "contrast")
                          for k in (1, 5))}
    assert all(value == 0.25 for value in got.values())


def test_noise_sweep_from_clean_to_destroyed():
    model = wrap(OracleNet(), EVALTEST)
    options = {"corruption": {"noise_sigmas": [0.0, 2.0], "corruptions": ["contrast"], "severities": [5],
                              "draws": 3}}
    result = evaluate(model, "evaltest", ["corruption"], options=options)
    got = result["metrics"]["corruption"]
    assert got["noise_sigma_0"] == 1.0  # sigma 0 is the clean accuracy
    assert got["noise_sigma_2"] < 0.6  # noise 2x the signal
    # contrast keeps the brightest pixel of row 0 the brightest: the oracle is unaffected
    assert got["contrast_severity_5"] == 1.0
    noise = next(c for c in result["curves"] if c["plot"] == "noise")
    assert noise["x"] == [0.0, 0.0, 2.0] and noise["y"] == [1.0, 1.0, got["noise_sigma_2"]]
    assert evaluate(model, "evaltest", ["corruption"], options=options)["metrics"]["corruption"] == got


def test_unknown_corruption_is_named():
    with pytest.raises(ValueError, match=r"unknown corruption\(s\) \['fog'\]"):
        evaluate(wrap(ConstantNet(), EVALTEST), "evaltest", ["corruption"], options={"corruption": {"corruptions": ["fog"]}})


def test_outputs_derived_arrays():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    single = Outputs(logits, torch.tensor([0, 0, 1]), embeddings=None)
    assert single.correct.tolist() == [True, False, False]
    assert torch.allclose(single.probabilities.sum(1), torch.ones(3))
    assert torch.allclose(single.loss, -single.probabilities[[0, 1, 2], [0, 0, 1]].log())
    multi = Outputs(logits, torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), embeddings=None)
    assert multi.correct.tolist() == [True, True, True]
    assert torch.allclose(multi.probabilities, torch.sigmoid(logits))
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, multi.targets, reduction="none").sum(1)
    assert torch.allclose(multi.loss, expected)
