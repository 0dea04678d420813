"""FFCL on a real MNIST slice through the training engine: it learns without backpropagation across
layers, and the run's metrics log carries the per-layer collapse diagnostics."""

from __future__ import annotations

import json

import pytest

import neurozoo



@pytest.mark.slow
def test_ffcl_learns_mnist_well_above_chance(shared_data, tmp_path):
    # lr 1e-3 instead of the recipe's 1e-4: the slice is ~1/15 of the 30-epoch recipe's steps
    run = neurozoo.train("ffcl", "ffcl_mlp", "mnist", data_dir=shared_data, out=tmp_path / "run",
                         epochs=2, lr=1e-3, limit=20000, eval_limit=2000,
                         options={"probe_samples": 1000})
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(epochs) == 2
    assert epochs[-1]["test_top1"] > 0.25  # chance is 0.1
    for record in epochs:
        assert {"agree_l1", "agree_l2", "probe_l1", "probe_l2", "agree_out"} <= set(record)
        assert 0.1 < record["probe_l1"] <= 1.0
    engine = json.loads((run / "run.json").read_text())["engine"]
    assert engine["augment"] is False and engine["precision"] == "fp32"  # the paper's recipe by default
    loaded = neurozoo.load(run)  # the run folder holds the published checkpoint of the twins
    assert loaded.net.predict == "mean" and loaded.net.local
