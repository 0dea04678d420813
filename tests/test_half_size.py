"""Half-size storage: float16/bfloat16 weights only when the test accuracy does not move; load gives float32."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

import neurozoo
from neurozoo import plugins
from neurozoo.cli import main
from neurozoo.half_size import check_half_size

from tiny_training_plugin import ARCH, DATASET, TinyTrainingPlugin


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    plugins.register(TinyTrainingPlugin(), name="tiny_training_half")
    yield neurozoo.train("baseline", ARCH, DATASET, epochs=2, batch_size=32, out=tmp_path_factory.mktemp("half") / "run")
    plugins.unregister("tiny_training_half")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_size_copy_loads_as_float32_and_keeps_its_predictions(run, tmp_path, dtype):
    original = neurozoo.load(run)
    folder = neurozoo.save(original, tmp_path / dtype, dtype=dtype)
    assert json.loads((folder / "config.json").read_text())["dtype"] == dtype
    with safe_open(folder / "model.safetensors", "pt") as weights:
        parameters = {name for name, _ in original.named_parameters()}
        stored = {name: weights.get_slice(name).get_dtype() for name in weights.keys()}
    assert {stored[name] for name in parameters} == {"F16" if dtype == "float16" else "BF16"}
    half = neurozoo.load(folder)
    assert all(p.dtype == torch.float32 for p in half.parameters())
    x = torch.rand(16, *original.config["input_size"])
    with torch.no_grad():
        assert torch.equal(half(x).argmax(1), original(x).argmax(1))
    ratio = (folder / "model.safetensors").stat().st_size / (run / "model.safetensors").stat().st_size
    assert 0.5 < ratio < 0.75  # parameters halve; buffers and the header stay


def test_check_compares_accuracy_on_the_whole_test_split(run):
    check = check_half_size(run, "float16")
    fp32 = neurozoo.evaluate(run, DATASET, ["top1"])
    assert (check.fp32_accuracy, check.images) == (fp32["metrics"]["top1"]["top1"], fp32["num_samples"])
    assert check.passed and abs(check.change_pp) <= 0.1
    assert check.half_bytes < check.fp32_bytes
    assert "passes the 0.1 pp limit" in check.summary()


def test_half_command_writes_only_what_passes(run, tmp_path, capsys):
    assert main(["half", str(run), "--dtype", "bfloat16", "--out", str(tmp_path / "ok")]) == 0
    assert neurozoo.load(tmp_path / "ok").config["dtype"] == "bfloat16"
    # a limit no change can meet: the check fails, nothing is written, one line on stderr, exit 2
    assert main(["half", str(run), "--out", str(tmp_path / "refused"), "--max-change-pp", "-1"]) == 2
    err = capsys.readouterr().err
    assert "nothing was written" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "refused").exists()
