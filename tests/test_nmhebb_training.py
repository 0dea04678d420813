"""NM-Hebb through the training engine: the gate over a short phase 1 and what phase 2 does to the
geometry of the embeddings (real-data slices), and the control arm against the baseline (tiny data)."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch.utils.data import DataLoader

import neurozoo
from neurozoo import plugins
from neurozoo.training.data import first
from neurozoo.training.engine import Engine
from neurozoo.training.method import TrainingMethod
from neurozoo_plugins.nmhebb.gate import scaled_ce
from neurozoo_plugins.nmhebb.method import NMHebb
from nmhebb_nets import LAYER
from nmhebb_nets import small_cnn_arch  # noqa: F401 (fixture)
from tiny_training_plugin import ARCH as TINY_ARCH
from tiny_training_plugin import DATASET as TINY_DATASET
from tiny_training_plugin import TinyTrainingPlugin

pytestmark = pytest.mark.slow
CPU = torch.device("cpu")


def batches(dataset, n, batch_size, seed=0):
    return DataLoader(first(dataset, n), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(seed))


def run_phase(engine, phase_index, loader, epochs=1):
    engine.start_phase(phase_index, len(loader))
    engine.train_mode()
    return [engine.step(batch) for _ in range(epochs) for batch in loader]


def test_gate_follows_ce_without_sticking_over_a_short_phase_1(shared_data, small_cnn_arch):
    torch.manual_seed(0)
    train = neurozoo.get_dataset("cifar10").load("train", root=shared_data)
    trainer = NMHebb(epochs=1, lr=0.05, schedule="constant", **LAYER)
    engine = Engine(trainer, small_cnn_arch(dataset="cifar10"), device=CPU)
    steps = run_phase(engine, 0, batches(train, 4096, 64), epochs=2)
    gate = torch.stack([s["gate"] for s in steps])
    ce = torch.stack([s["ce"] for s in steps])

    assert 0.05 < gate.min() and gate.max() < 0.95  # stuck at neither end
    assert gate.std() > 0.01  # not a constant either
    assert torch.corrcoef(torch.stack([ce, gate]))[0, 1] > 0.8  # higher CE, wider gate
    assert ce[-4:].mean() < ce[:4].mean() and gate[-4:].mean() < gate[:4].mean()  # relaxes as error falls

    phi = trainer.neuromodulator
    assert phi.mlp[2].weight.abs().sum() > 0  # the engine trained phi (it starts at zero)
    with torch.no_grad():
        low, high = (torch.sigmoid(phi(scaled_ce(torch.tensor(v), 10))).item() for v in (0.5, 2.3))
    assert 0.05 < low < high < 0.95


def distance_ratio(model, images, labels) -> float:
    """Mean within-class over mean between-class distance of L2-normalised embeddings."""
    model.eval()
    with torch.no_grad():
        g = F.normalize(model(images, return_embedding=True)[1], dim=1)
    distance = torch.cdist(g, g)
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~torch.eye(len(labels), dtype=torch.bool)
    return (distance[same & off_diagonal].mean() / distance[~same].mean()).item()


def test_phase_2_tightens_classes_more_than_cross_entropy_alone(shared_data):
    torch.manual_seed(0)
    mnist = neurozoo.get_dataset("mnist")
    train = mnist.load("train", root=shared_data)
    test_images, test_labels = next(iter(DataLoader(first(mnist.load("test", root=shared_data), 600), batch_size=600)))

    model = neurozoo.create_model("mlp", dataset="mnist")
    warm = Engine(TrainingMethod(epochs=1, lr=2e-3, schedule="constant"), model, device=CPU, precision="fp32")
    run_phase(warm, 0, batches(train, 2048, 128))  # embeddings worth fine-tuning
    start = {k: v.clone() for k, v in model.state_dict().items()}
    before = distance_ratio(model, test_images, test_labels)

    ratios = {}
    for name, trainer, phase_index in (
        ("cross-entropy", TrainingMethod(epochs=1, lr=3e-3, schedule="constant"), 0),
        ("nmhebb phase 2", NMHebb(epochs=1, phase2_epochs=1, lr=3e-2, phase2_start="warmup", phase2_lr_factor=0.1,
                                  phase2_warmup_epochs=0.0, phase2_schedule="constant", optimizer="adamw",
                                  label_smoothing=0.0), 1),
    ):  # the same steps, optimiser and learning rate, from the same weights
        model.load_state_dict(start)
        engine = Engine(trainer, model, device=CPU, precision="fp32")
        steps = run_phase(engine, phase_index, batches(train, 2048, 128, seed=1), epochs=4)
        ratios[name] = distance_ratio(model, test_images, test_labels)
        if name == "nmhebb phase 2":
            assert steps[-1]["pair"] < steps[0]["pair"]

    assert ratios["nmhebb phase 2"] < before
    assert ratios["nmhebb phase 2"] < ratios["cross-entropy"] - 0.01


@pytest.fixture
def tiny_plugin():
    plugins.register(TinyTrainingPlugin(), name="tiny_training")
    yield
    plugins.unregister("tiny_training")


TINY_HEBB_LAYER = {"hebb_layer": "net.body.3", "hebb_activation": "net.body.4"}


def test_control_arm_trains_the_baselines_weights_and_nmhebb_does_not(tmp_path, tiny_plugin):
    # the fair comparison of issue 22: same seed, data, budget and schedule; the control (both NM-Hebb
    # weights 0) must be exactly the baseline, so that B - C measures NM-Hebb's own terms
    def run(name, method, **options):
        out = neurozoo.train(method, TINY_ARCH, TINY_DATASET, epochs=3, batch_size=32, eval_limit=0,
                             val_fraction=0.25, out=tmp_path / name, options=options)
        return load_file(out / "model.safetensors"), [json.loads(line) for line in open(out / "metrics.jsonl")]

    baseline, _ = run("A", "baseline")
    control, control_log = run("C", "nmhebb", lambda_hebb=0.0, lambda_pair=0.0, **TINY_HEBB_LAYER)
    nmhebb, nmhebb_log = run("B", "nmhebb", **TINY_HEBB_LAYER)
    assert all(torch.equal(baseline[k], control[k]) for k in baseline)
    assert any(not torch.equal(baseline[k], nmhebb[k]) for k in baseline)
    for log in (control_log, nmhebb_log):
        assert [line["phase"] for line in log] == ["hebbian", "hebbian", "metric"]
        assert all(0.0 <= line["probe_nmi"] <= 1.0 for line in log)
        assert "train_pair" in log[2] and "train_hebb" in log[0]
