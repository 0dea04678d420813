"""neurozoo.load by registered name: mirrors, sha256 checks, Hub cache hygiene, offline errors."""

from __future__ import annotations

import os
from pathlib import Path

import huggingface_hub
import pytest
import torch

import neurozoo
from neurozoo import Checkpoint, hookimpl, hub, plugins
from neurozoo.checkpoint import sha256_file

from toy_plugin import ThirdPartyPlugin


def _record_for(folder: Path, **kwargs) -> Checkpoint:
    files = {name: sha256_file(folder / name) for name in ("model.safetensors", "config.json")}
    return Checkpoint("baseline", "tiny_net", "toy", repo_id="test-org/tiny", files=files, **kwargs)


def _serve(record: Checkpoint) -> str:
    class Records:
        @hookimpl
        def register_checkpoints(self, register):
            register(record)

    return plugins.register(Records(), name=f"records_{record.tag or 'main'}")


@pytest.fixture
def published(tmp_path):
    """A tiny_net checkpoint saved under a mirror folder and a plugin whose record pins its hashes."""
    arch_plugin = plugins.register(ThirdPartyPlugin(), name="third_party")
    torch.manual_seed(0)
    model = neurozoo.create_model("tiny_net", num_classes=3)
    mirror = tmp_path / "mirror"
    folder = neurozoo.save(model, mirror / "baseline-tiny_net-toy")
    record = _record_for(folder)
    records_plugin = _serve(record)
    yield model.eval(), mirror, record
    plugins.unregister(records_plugin)
    plugins.unregister(arch_plugin)


def test_third_party_checkpoint_loads_from_a_mirror_folder(published, monkeypatch):
    model, mirror, record = published
    monkeypatch.setenv("NEUROZOO_HUB_DIR", str(mirror))
    loaded = neurozoo.load(record.name)
    x = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert neurozoo.list_models("baseline-tiny_net-toy", pretrained=True) == ["baseline-tiny_net-toy"]


def test_mirror_sha_mismatch_names_the_file_and_leaves_the_mirror_alone(published, monkeypatch):
    _, mirror, record = published
    monkeypatch.setenv("NEUROZOO_HUB_DIR", str(mirror))
    config = mirror / record.name / "config.json"
    config.write_text(config.read_text().replace('"dtype"', '"dtype" ', 1))
    tampered = config.read_bytes()
    with pytest.raises(neurozoo.IntegrityError, match="config.json.*expected"):
        neurozoo.load(record.name)
    assert config.read_bytes() == tampered


def test_verified_hashes_are_remembered_until_the_file_changes(published, monkeypatch):
    _, mirror, record = published
    monkeypatch.setenv("NEUROZOO_HUB_DIR", str(mirror))
    calls = []
    real = hub.sha256_file
    monkeypatch.setattr(hub, "sha256_file", lambda path: calls.append(Path(path).name) or real(path))
    neurozoo.load(record.name)
    assert sorted(calls) == ["config.json", "model.safetensors"]
    neurozoo.load(record.name)
    assert len(calls) == 2
    weights = mirror / record.name / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(neurozoo.IntegrityError, match="model.safetensors"):
        neurozoo.load(record.name)


def _fake_hub_download(source: Path, corrupt: set[str], log: list[str]):
    """hf_hub_download stand-in that lays files out like the Hub cache (blobs + snapshot symlinks)."""

    def download(repo_id, filename, *, revision=None, cache_dir=None, **kwargs):
        log.append(filename)
        repo = Path(cache_dir) / f"models--{repo_id.replace('/', '--')}"
        data = (source / filename).read_bytes()
        if filename in corrupt:
            data = data[: len(data) // 2]
        blob = repo / "blobs" / f"{filename}.blob"
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = repo / "snapshots" / (revision or "main") / filename
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(os.path.relpath(blob, link.parent))
        return str(link)

    return download


def test_corrupt_hub_download_is_evicted_and_refetched(published, monkeypatch, isolated_caches):
    _, mirror, record = published
    source = mirror / record.name
    log: list[str] = []
    corrupt = {"model.safetensors"}
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fake_hub_download(source, corrupt, log))
    with pytest.raises(neurozoo.IntegrityError, match="model.safetensors.*removed it from the cache"):
        neurozoo.load(record.name)
    cache = isolated_caches / "hf" / "hub"
    leftovers = sorted(p.name for p in cache.rglob("*") if p.is_file() or p.is_symlink())
    assert "model.safetensors" not in leftovers and "model.safetensors.blob" not in leftovers
    corrupt.clear()  # the server is healthy again
    loaded = neurozoo.load(record.name)
    assert loaded.config["arch"] == "tiny_net"
    assert log.count("model.safetensors") == 2


def test_offline_with_nothing_cached_says_what_to_set(published):
    _, _, record = published
    with pytest.raises(neurozoo.OfflineError, match="NEUROZOO_HUB_DIR.*HF_ENDPOINT.*HF_HUB_OFFLINE"):
        neurozoo.load(record.name)


def test_planned_records_say_how_to_train_them():
    plugin = plugins.register(ThirdPartyPlugin(), name="third_party")
    try:
        with pytest.raises(neurozoo.CheckpointError, match="neurozoo train baseline --arch tiny_net"):
            neurozoo.load("baseline-tiny_net-toy.planned")
    finally:
        plugins.unregister(plugin)


def test_unknown_names_and_missing_folders():
    with pytest.raises(neurozoo.UnknownNameError):
        neurozoo.load("nmhebb-resnet18-cifar11")
    with pytest.raises(neurozoo.CheckpointError, match="no checkpoint folder"):
        neurozoo.load("./does/not/exist")
    with pytest.raises(ValueError, match="hf-hub:ORG/NAME"):
        neurozoo.load("hf-hub:just-a-name")
