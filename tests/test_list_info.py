"""`neurozoo list` (published by default, --all, several patterns, --exclude) and `neurozoo info METHOD`."""

from __future__ import annotations

import re

import pytest

import neurozoo
from neurozoo import plugins
from neurozoo.cli import main

from toy_plugin import ThirdPartyPlugin


def _names(out: str) -> list[str]:
    return re.findall(r"^│ (\S+)", out, re.MULTILINE)


@pytest.fixture
def toy():
    name = plugins.register(ThirdPartyPlugin(), name="third_party_list")
    yield
    plugins.unregister(name)


def test_list_shows_published_names_and_all_shows_planned_ones_marked(toy, capsys):
    assert main(["list"]) == 0
    assert _names(capsys.readouterr().out) == neurozoo.list_models()
    assert main(["list", "--all", "baseline-*"]) == 0
    out = capsys.readouterr().out
    assert "baseline-tiny_net-toy.planned" in _names(out)
    assert re.search(r"^│ baseline-tiny_net-toy\.planned .*│ planned", out, re.MULTILINE)


def test_list_takes_several_patterns_and_excludes(capsys):
    assert main(["list", "--kind", "architectures", "vgg*", "resnet*", "--exclude", "vgg16*"]) == 0
    assert capsys.readouterr().out.split() == ["resnet18", "vgg11"]


def test_loading_a_planned_name_prints_a_command_with_the_data_folder(toy, monkeypatch, tmp_path):
    monkeypatch.setenv("NEUROZOO_DATA", str(tmp_path))
    with pytest.raises(neurozoo.CheckpointError, match=rf"is planned.*`neurozoo train baseline --arch tiny_net "
                                                       rf"--dataset toy --data-dir {tmp_path}`"):
        neurozoo.load("baseline-tiny_net-toy.planned")


def test_info_method_lists_recipe_options_with_defaults_and_docs(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich's width: one line per option
    assert main(["info", "hah"]) == 0
    out = capsys.readouterr().out
    assert "recipe options of hah (--set KEY=VALUE)" in out
    assert re.search(r"│ keep_ratio +│ 0\.2 +│ yes +│ fraction of spatial", out)
    assert re.search(r"│ epochs +│ 100 +│ +│ epochs of training", out)
    assert "same-budget baseline" not in out  # hah's baseline is the baseline method's net
    assert main(["info", "binenc"]) == 0
    assert "its own same-budget baseline: --set variant=nopen" in capsys.readouterr().out
    assert main(["info", "kuramoto"]) == 0
    assert "its own same-budget baseline: --arch realnet" in capsys.readouterr().out


@pytest.mark.parametrize("method", neurozoo.list_methods())
def test_every_option_of_every_method_is_documented(method):
    trainer = neurozoo.get_method(method).trainer
    missing = sorted(set(trainer.options) - {k for k, v in trainer.option_docs.items() if v})
    assert not missing, f"method {method!r}: add one-line docs of {missing} to option_docs"
