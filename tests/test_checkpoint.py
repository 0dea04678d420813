"""The published format: round trip, schema, strictness, refusal of pickles, atomic writes."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

import neurozoo
from neurozoo import checkpoint


@pytest.fixture(scope="module")
def mlp_model():
    torch.manual_seed(0)
    return neurozoo.create_model("mlp", num_classes=4, hidden=[16], class_names=["a", "b", "c", "d"])


def _saved(mlp_model, folder):
    neurozoo.save(mlp_model, folder)
    return folder


def test_round_trip_gives_the_same_model_in_eval_mode(mlp_model, tmp_path):
    folder = _saved(mlp_model, tmp_path / "ckpt")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    loaded = neurozoo.load(folder)
    assert not loaded.training
    x = torch.rand(3, 1, 28, 28)
    mlp_model.eval()
    torch.testing.assert_close(loaded(x), mlp_model(x), rtol=0, atol=0)
    assert loaded.class_names == ["a", "b", "c", "d"]
    assert loaded.config["arch_kwargs"] == {"hidden": [16]}
    image = Image.new("RGB", (40, 30), color=(255, 255, 255))
    pixels = loaded.preprocess(image)
    assert pixels.shape == (1, 28, 28) and pixels.dtype == torch.float32
    torch.testing.assert_close(pixels, torch.ones_like(pixels), rtol=0, atol=1e-3)


def test_save_writes_the_card_and_validates_overrides(mlp_model, tmp_path):
    neurozoo.save(mlp_model, tmp_path / "c", card="# card\n")
    assert (tmp_path / "c" / "README.md").read_text() == "# card\n"
    with pytest.raises(neurozoo.ConfigError, match="class_names"):
        neurozoo.save(mlp_model, tmp_path / "d", config_overrides={"class_names": ["x"]})
    assert not (tmp_path / "d" / "model.safetensors").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.pop("arch"), "missing field 'arch'"),
        (lambda c: c.pop("num_classes"), "missing field 'num_classes'"),
        (lambda c: c.update(num_classes="4"), "'num_classes' must be int"),
        (lambda c: c.update(input_size=[1, 28]), "input_size"),
        (lambda c: c.update(format_version=99), "upgrade neurozoo"),
    ],
)
def test_config_schema_errors_are_clear(mlp_model, tmp_path, change, message):
    folder = _saved(mlp_model, tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(neurozoo.ConfigError, match=message):
        neurozoo.load(folder)


def test_unknown_arch_in_config_suggests(mlp_model, tmp_path):
    folder = _saved(mlp_model, tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    config["arch"] = "mlpp"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(neurozoo.UnknownNameError, match="'mlp'"):
        neurozoo.load(folder)


def test_invalid_json_is_a_config_error(mlp_model, tmp_path):
    folder = _saved(mlp_model, tmp_path / "ckpt")
    (folder / "config.json").write_text("{not json")
    with pytest.raises(neurozoo.ConfigError, match="not valid JSON"):
        neurozoo.load(folder)


def test_pickle_files_are_refused(mlp_model, tmp_path):
    folder = _saved(mlp_model, tmp_path / "ckpt")
    (folder / "model.safetensors").unlink()
    torch.save(mlp_model.state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(neurozoo.CheckpointError, match="never loads pickle"):
        neurozoo.load(folder)


def test_truncated_weights_are_a_clear_error(mlp_model, tmp_path):
    folder = _saved(mlp_model, tmp_path / "ckpt")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(neurozoo.CheckpointError, match="truncated"):
        neurozoo.load(folder)


def test_loading_is_strict(mlp_model, tmp_path):
    folder = _saved(mlp_model, tmp_path / "ckpt")
    other = neurozoo.create_model("mlp", num_classes=4, hidden=[16, 16])
    neurozoo.save(other, tmp_path / "other")
    (folder / "model.safetensors").write_bytes((tmp_path / "other" / "model.safetensors").read_bytes())
    with pytest.raises(neurozoo.CheckpointError, match="unexpected keys"):
        neurozoo.load(folder)


def test_interrupted_save_keeps_the_previous_checkpoint(mlp_model, tmp_path, monkeypatch):
    folder = _saved(mlp_model, tmp_path / "ckpt")
    before = (folder / "model.safetensors").read_bytes()

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        neurozoo.save(neurozoo.create_model("mlp", num_classes=4, hidden=[16]), folder)
    assert (folder / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]


def test_save_refuses_a_plain_module(tmp_path):
    with pytest.raises(TypeError, match="create_model"):
        neurozoo.save(torch.nn.Linear(2, 2), tmp_path / "x")


def test_channels_last_models_save(tmp_path):
    model = neurozoo.create_model("vgg11", num_classes=10).to(memory_format=torch.channels_last)
    neurozoo.save(model, tmp_path / "v")
    loaded = neurozoo.load(tmp_path / "v")
    x = torch.rand(2, 3, 32, 32)
    model.eval()
    torch.testing.assert_close(loaded(x), model(x))
