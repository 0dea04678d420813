"""The neurozoo command: list, info, plugins, and its error handling."""

from __future__ import annotations

import pytest

from neurozoo.cli import main


def test_list_architectures(capsys):
    assert main(["list", "--kind", "architectures", "vgg*"]) == 0
    assert capsys.readouterr().out.split() == ["vgg11", "vgg16", "vgg16_std"]


def test_info_shows_a_record(capsys):
    assert main(["info", "resnet18"]) == 0
    out = capsys.readouterr().out
    assert "architecture resnet18" in out and "baseline" in out


def test_info_unknown_name_suggests_and_exits_2(capsys):
    assert main(["info", "resnet19"]) == 2
    assert "resnet18" in capsys.readouterr().err


def test_list_models_table(capsys):
    assert main(["list"]) == 0
    assert "name" in capsys.readouterr().out


def test_unknown_subcommand_is_an_argparse_error():
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
