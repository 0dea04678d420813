"""Engine settings: a method's recipe may change them (FFCL: no augmentation), explicit arguments win; cutout."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

import neurozoo
from neurozoo import Method, hookimpl, plugins
from neurozoo.errors import ConfigError
from neurozoo.training.method import TrainingMethod

from tiny_training_plugin import ARCH, DATASET, TinyTrainingPlugin


class UnaugmentedCE(TrainingMethod):
    name = "unaugmented_ce"
    engine_defaults = {"augment": False}


class MisdeclaredCE(TrainingMethod):
    name = "misdeclared_ce"
    engine_defaults = {"augmentation": False}


class RecipePlugin:
    @hookimpl
    def register_methods(self, register):
        register(Method("unaugmented_ce", UnaugmentedCE, description="test: CE without augmentation"))
        register(Method("misdeclared_ce", MisdeclaredCE, description="test: a wrong engine default"))


@pytest.fixture(scope="module", autouse=True)
def test_plugins():
    plugins.register(TinyTrainingPlugin(), name="tiny_training")
    plugins.register(RecipePlugin(), name="recipe_plugin")
    yield
    plugins.unregister("recipe_plugin")
    plugins.unregister("tiny_training")


def _train(tmp_path, name, method, **kwargs):
    out = neurozoo.train(method, ARCH, DATASET, epochs=1, batch_size=32, eval_limit=0, out=tmp_path / name, **kwargs)
    return json.loads((out / "run.json").read_text())["engine"], load_file(out / "model.safetensors")


def test_method_default_applies_and_explicit_argument_wins(tmp_path):
    engine, plain = _train(tmp_path, "default", "unaugmented_ce")
    assert engine["augment"] is False
    engine, augmented = _train(tmp_path, "explicit", "unaugmented_ce", augment=True)
    assert engine["augment"] is True
    assert any(not torch.equal(plain[k], augmented[k]) for k in plain)  # the setting reaches the data
    _, explicit_plain = _train(tmp_path, "explicit_plain", "unaugmented_ce", augment=False)
    assert all(torch.equal(plain[k], explicit_plain[k]) for k in plain)  # the default is exactly augment=False


def test_unknown_engine_default_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="augmentation"):
        _train(tmp_path, "bad", "misdeclared_ce")


def test_cutout_reaches_the_data_is_recorded_and_stays_the_runs(tmp_path):
    engine, crop_only = _train(tmp_path, "crop", "unaugmented_ce", augment=True)
    assert engine["cutout"] == 0
    engine, cut = _train(tmp_path, "cut", "unaugmented_ce", augment=True, cutout=4)
    assert engine["cutout"] == 4
    assert any(not torch.equal(crop_only[k], cut[k]) for k in cut)
    with pytest.raises(ConfigError, match="cutout: run 4, now 2"):
        neurozoo.train("unaugmented_ce", ARCH, DATASET, epochs=2, resume=tmp_path / "cut", cutout=2)


def test_cutout_is_refused_where_the_method_turns_augmentation_off(tmp_path):
    with pytest.raises(ConfigError, match="drop --cutout or allow augmentation"):
        _train(tmp_path, "method_default", "unaugmented_ce", cutout=4)
    assert not (tmp_path / "method_default").exists()
