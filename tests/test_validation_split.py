"""The engine's validation split (seeded, disjoint from train and test) and best-epoch selection."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

import neurozoo
from neurozoo import plugins
from neurozoo.errors import ConfigError
from neurozoo.training.runfolder import RunFolder
from neurozoo.training.validation import BestEpoch, split_indices

from tiny_training_plugin import ARCH, DATASET, TinyTrainingPlugin


@pytest.fixture(scope="module", autouse=True)
def tiny_plugin():
    plugins.register(TinyTrainingPlugin(), name="tiny_training")
    yield
    plugins.unregister("tiny_training")


def test_split_is_disjoint_complete_and_seeded():
    train, val = split_indices(1000, 0.1, seed=3)
    assert len(val) == 100 and len(train) == 900
    assert set(train).isdisjoint(val) and set(train) | set(val) == set(range(1000))
    assert (train, val) == split_indices(1000, 0.1, seed=3)  # same seed, same split
    assert val != split_indices(1000, 0.1, seed=4)[1]
    assert val != list(range(900, 1000)) and val != list(range(100))  # drawn, not a slice


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1, "0.1", True])
def test_bad_fractions_are_refused_before_data_is_read(tmp_path, fraction):
    with pytest.raises(ConfigError, match="val_fraction"):
        neurozoo.train("baseline", ARCH, DATASET, epochs=1, out=tmp_path / "run", val_fraction=fraction)
    assert not (tmp_path / "run").exists()


def test_best_needs_a_validation_split(tmp_path):
    with pytest.raises(ConfigError, match="val_fraction"):
        neurozoo.train("baseline", ARCH, DATASET, epochs=1, out=tmp_path / "run", select="best")


def test_best_epoch_keeps_the_earliest_maximum():
    best = BestEpoch("val_top1")
    assert best.offer(1, {"val_top1": 0.5})
    assert not best.offer(2, {"val_top1": 0.5})
    assert best.offer(3, {"val_top1": 0.6})
    assert not best.offer(4, {"val_top1": 0.1})
    assert (best.epoch, best.score) == (3, 0.6)


@pytest.fixture(scope="module")
def best_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "best"
    # a high constant lr makes the validation score move from epoch to epoch
    return neurozoo.train("baseline", ARCH, DATASET, epochs=4, batch_size=32, out=out, val_fraction=0.25,
                          select="best", options={"schedule": "constant", "lr": 0.5})


def test_every_epoch_is_validated_and_the_best_one_is_published(best_run):
    records = RunFolder(best_run).read_metrics()
    assert all({"val_loss", "val_top1", "test_top1"} <= set(r) for r in records)
    scores = [r["val_top1"] for r in records]
    best_epoch = scores.index(max(scores)) + 1
    run = json.loads((best_run / "run.json").read_text())
    assert run["engine"]["val_fraction"] == 0.25 and run["engine"]["select"] == "best"
    assert run["selection"] == {"select": "best", "criterion": "val_top1", "epoch": best_epoch,
                                "score": max(scores)}
    published = load_file(best_run / "model.safetensors")
    last = RunFolder(best_run).load_state()["engine"]["model"]
    same_as_last = all(torch.equal(published[k], last[k].contiguous()) for k in published)
    assert same_as_last == (best_epoch == len(records))


def test_the_training_part_is_the_complement(best_run):
    dataset = neurozoo.registry.get_dataset(DATASET).load("train")
    train, _ = split_indices(len(dataset), 0.25, seed=0)
    first_epoch = RunFolder(best_run).read_metrics()[0]
    assert first_epoch["step"] == len(train) // 32  # batches of one epoch over the training part only


def test_resume_keeps_the_split_settings(best_run):
    with pytest.raises(ConfigError, match="val_fraction"):
        neurozoo.train("baseline", ARCH, DATASET, resume=best_run, val_fraction=0.5)
