"""A method's recipe may change engine settings (FFCL: no augmentation); explicit arguments win."""

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
