"""Registry and plugin manager: run-time plugins, duplicates, suggestions, broken hooks."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

import neurozoo
from neurozoo import Architecture, Checkpoint, Claim, License, Recipe, hookimpl, plugins, registry

from toy_plugin import ThirdPartyPlugin, TinyNet


@pytest.fixture
def third_party():
    name = plugins.register(ThirdPartyPlugin(), name="third_party")
    yield name
    plugins.unregister(name)


def test_builtin_architectures_are_registered():
    assert {"resnet18", "vgg11", "vgg16", "mobilenetv2", "densenet121", "efficientnetv2_s", "mlp"} <= set(
        neurozoo.list_architectures()
    )
    assert registry.owner("architecture", "resnet18") == "baseline"


def test_run_time_plugin_registers_and_unregisters(third_party):
    assert "tiny_net" in neurozoo.list_architectures("tiny_*")
    assert neurozoo.list_models("baseline-tiny_net-*") == []  # planned: not advertised
    assert neurozoo.list_models("baseline-tiny_net-*", include_planned=True) == ["baseline-tiny_net-toy.planned"]
    model = neurozoo.create_model("tiny_net", num_classes=3)
    assert model(torch.rand(2, 1, 8, 8)).shape == (2, 3)
    plugins.unregister(third_party)
    assert "tiny_net" not in neurozoo.list_architectures()
    with pytest.raises(neurozoo.UnknownNameError):
        neurozoo.get_architecture("tiny_net")
    plugins.register(ThirdPartyPlugin(), name=third_party)  # for the fixture's teardown


def test_duplicate_name_names_both_plugins(third_party):
    class Clash:
        @hookimpl
        def register_architectures(self, register):
            register(Architecture("tiny_net", TinyNet, input_size=(1, 8, 8)))

    plugins.register(Clash(), name="clash")
    try:
        with pytest.raises(neurozoo.DuplicateNameError) as info:
            neurozoo.list_architectures()
        assert "third_party" in str(info.value) and "clash" in str(info.value)
    finally:
        plugins.unregister("clash")
    assert "tiny_net" in neurozoo.list_architectures()


def test_unknown_names_suggest_close_ones():
    with pytest.raises(neurozoo.UnknownNameError, match="resnet18"):
        neurozoo.get_architecture("resnet19")
    with pytest.raises(neurozoo.UnknownNameError, match="registered:"):
        neurozoo.get_method("zzzz")


def test_a_broken_hook_does_not_break_the_others():
    class Broken:
        @hookimpl
        def register_architectures(self, register):
            raise RuntimeError("boom")

    plugins.register(Broken(), name="broken")
    try:
        with pytest.warns(UserWarning, match="broken"):
            names = neurozoo.list_architectures()
        assert "resnet18" in names
        info = {p.name: p for p in plugins.list_plugins()}
        assert "boom" in info["broken"].error
    finally:
        plugins.unregister("broken")


def test_malformed_record_names_the_plugin():
    class BadName:
        @hookimpl
        def register_architectures(self, register):
            register(Architecture("Bad-Name", TinyNet))

    plugins.register(BadName(), name="bad_name")
    try:
        with pytest.warns(UserWarning, match="bad_name.*Bad-Name"):
            assert "resnet18" in neurozoo.list_architectures()
    finally:
        plugins.unregister("bad_name")


def test_wrong_record_type_is_reported():
    class WrongType:
        @hookimpl
        def register_methods(self, register):
            register(Architecture("oops", TinyNet))

    plugins.register(WrongType(), name="wrong_type")
    try:
        with pytest.warns(UserWarning, match="takes neurozoo.Method"):
            neurozoo.list_methods()
    finally:
        plugins.unregister("wrong_type")


def test_checkpoint_record_validation():
    with pytest.raises(ValueError, match="64 hex"):
        Checkpoint("baseline", "resnet18", "cifar10", repo_id="o/n",
                   files={"model.safetensors": "abc", "config.json": "0" * 64}).validate()
    with pytest.raises(ValueError, match="repo_id"):
        Checkpoint("baseline", "resnet18", "cifar10",
                   files={"model.safetensors": "0" * 64, "config.json": "0" * 64}).validate()
    assert Checkpoint("nmhebb", "resnet18", "cifar10", tag="v2").name == "nmhebb-resnet18-cifar10.v2"


PUBLISHED = {"repo_id": "o/n", "files": {"model.safetensors": "0" * 64, "config.json": "1" * 64}}
RECIPE = Recipe("neurozoo train baseline --arch resnet18 --dataset cifar10 --data-dir DATA", epochs=1,
                images_seen=50_000, batch_size=128, precision="fp32 throughout", hardware="CPU")


@pytest.mark.parametrize(("fields", "message"), [
    ({"dtype": "int8"}, "dtype must be one of"),
    ({"file_sizes": {"model.safetensors": 1}}, "file_sizes must give the size of every file"),
    ({"metrics": {"top1": 0.5}, "headline": "noise_sigma_0.1"}, "headline 'noise_sigma_0.1' is not one"),
    ({"metrics": {"top1": 0.5}, "metric_images": {"pgd": 1000}}, "metric_images names figures"),
    ({"baseline": "baseline-resnet18-cifar10"}, "its own baseline"),
    ({"recipe": replace(RECIPE, epochs=0)}, "recipe.epochs must be a positive int"),
    ({"recipe": replace(RECIPE, command="python train.py")}, "neurozoo train"),
    ({"license": License("", "terms")}, "needs the weights' licence"),
    ({"claims": (Claim("top1", 0.02, 0.1, "abstract"),)}, "claims are gains over a baseline"),
    ({"claims": (Claim("nmi", 0.0, 0.15, "abstract"),), "baseline": "b-r-c", "metrics": {"top1": 0.5}},
     "claim on 'nmi', a figure not in its metrics"),
    ({"claims": (Claim("top1", 0.1, 0.02, "abstract"),), "baseline": "b-r-c", "metrics": {"top1": 0.5}},
     "low > high"),
    ({"claims": (Claim("top1", 0.02, 0.1, ""),), "baseline": "b-r-c", "metrics": {"top1": 0.5}},
     "where the paper states it"),
])
def test_rich_record_fields_are_checked(fields, message):
    with pytest.raises(ValueError, match=message):
        Checkpoint("baseline", "resnet18", "cifar10", **{**PUBLISHED, **fields}).validate()
    Checkpoint("baseline", "resnet18", "cifar10", **PUBLISHED, recipe=RECIPE, license=License("mit", "terms"),
               metrics={"top1": 0.5}, headline="top1", baseline="b-r-c",
               claims=(Claim("top1", 0.02, 0.1, "abstract"),)).validate()


def test_a_planned_record_carries_no_figures():
    with pytest.raises(ValueError, match="planned record"):
        Checkpoint("baseline", "resnet18", "cifar10", metrics={"top1": 0.5}).validate()


class Numbered:
    @hookimpl
    def register_architectures(self, register):
        for name in ("net10", "net2", "net1", "wide2", "wide10"):
            register(Architecture(name, TinyNet, input_size=(1, 8, 8)))


def test_listing_takes_several_patterns_excludes_and_sorts_naturally():
    plugins.register(Numbered(), name="numbered")
    try:
        assert neurozoo.list_architectures("net*") == ["net1", "net2", "net10"]
        assert neurozoo.list_architectures(["wide*", "net1*"]) == ["net1", "net10", "wide2", "wide10"]
        assert neurozoo.list_architectures(["net*", "wide*"], exclude=["*10", "net2"]) == ["net1", "wide2"]
        assert neurozoo.list_architectures("net*", exclude="net1*") == ["net2"]
    finally:
        plugins.unregister("numbered")


def test_the_training_hint_of_a_planned_name_runs_as_printed(monkeypatch, tmp_path):
    monkeypatch.setenv("NEUROZOO_DATA", str(tmp_path / "my data"))
    planned = Checkpoint("nmhebb", "resnet18", "cifar10")
    assert registry.train_command(planned) == (
        f"neurozoo train nmhebb --arch resnet18 --dataset cifar10 --data-dir '{tmp_path}/my data'")
    published = Checkpoint("baseline", "resnet18", "cifar10", **PUBLISHED, recipe=RECIPE)
    assert registry.train_command(published).endswith(f"--data-dir '{tmp_path}/my data'")
