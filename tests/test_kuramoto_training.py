"""KomplexNet on real two-digit images (authors' overlap 0.25): the training signal and the shared evaluation."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

import neurozoo
from neurozoo.evaluation import Outputs
from neurozoo.training.method import Phase, StepContext
from neurozoo_plugins.kuramoto.method import KuramotoMethod
from neurozoo_plugins.kuramoto.metrics import per_label_f1

DATASET = "multimnist_o25"


@pytest.fixture(scope="module")
def digits(shared_data, tmp_path_factory, request):
    """16 real two-digit test images with their multi-hot targets and masks (a small generated set)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("NEUROZOO_CACHE", str(tmp_path_factory.mktemp("multidigits")))
    request.addfinalizer(mp.undo)
    data = neurozoo.get_dataset(DATASET).load("test", root=shared_data, size=16)
    images, targets, masks = (torch.stack(parts) for parts in zip(*(data[i] for i in range(len(data)))))
    return images, targets, masks


@pytest.mark.slow
def test_training_steps_fit_a_real_batch_below_the_base_rate(digits):
    """20 steps on 16 real images take the eval-mode BCE clearly below the base rate (predicting each
    label's prior, 0.5004 for 2 labels of 10) and make some right positive decisions: the net
    learned the digits, not just the label frequencies (which alone give no logit above 0)."""
    images, targets, _ = digits
    torch.manual_seed(0)
    method = KuramotoMethod(timesteps=1)
    model = neurozoo.create_model("komplexnet", dataset=DATASET, method="kuramoto",
                                  method_kwargs=method.method_kwargs())
    phase = method.phases()[0]
    optimizer = torch.optim.Adam(model.parameters(), lr=phase.lr)
    for step in range(20):
        ctx = StepContext(model=model, net=model, phase=Phase("train", 1, phase.lr), phase_index=0, epoch=0,
                          epoch_in_phase=0, step=step, device=torch.device("cpu"), num_classes=10)
        optimizer.zero_grad()
        method.training_step(ctx, digits)["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), phase.grad_clip)
        optimizer.step()

    with torch.no_grad():
        logits = model.eval()(images)  # eval mode: the fixed initial phases, not the training draws
    prior = targets.mean()
    base_rate = -(prior * prior.log() + (1 - prior) * (1 - prior).log()).item()
    bce = F.binary_cross_entropy_with_logits(logits, targets).item()
    assert bce < base_rate - 0.1  # seeds 0, 1, 2: 0.23, 0.33, 0.28 against 0.50
    f1 = per_label_f1(SimpleNamespace(outputs=lambda: Outputs(logits=logits, targets=targets, embeddings=None)))
    assert f1["label_f1_micro"] > 0 and f1["label_f1_macro"] > 0


@pytest.mark.slow
def test_shared_evaluation_reads_kuramoto_metrics(shared_data, monkeypatch, tmp_path):
    monkeypatch.setenv("NEUROZOO_CACHE", str(tmp_path))
    torch.manual_seed(0)
    model = neurozoo.create_model("komplexnet", dataset=DATASET, method="kuramoto", method_kwargs={"timesteps": 3})
    result = neurozoo.evaluate(model, DATASET, ["exact_set", "per_label_f1", "synchrony"], limit=16,
                               data_dir=shared_data, dataset_options={"size": 16}, batch_size=8)
    figures = result["metrics"]
    assert set(figures["synchrony"]) == {f"{name}_step_{t}" for name in ("synchrony_loss", "order_parameter")
                                         for t in (1, 2, 3)}
    assert all(0 <= v <= 1 for m in figures.values() for v in m.values())
    assert [c["plot"] for c in result["curves"]] == ["synchrony", "order_parameter"]

    with pytest.raises(neurozoo.errors.ConfigError, match="KomplexNet"):
        real = neurozoo.create_model("realnet", dataset=DATASET, method="kuramoto")
        neurozoo.evaluate(real, DATASET, ["synchrony"], limit=8, data_dir=shared_data, dataset_options={"size": 8})
