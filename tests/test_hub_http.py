"""Publishing and fetching over real HTTP against the Hub-protocol server in tests/hub_server.py."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import huggingface_hub
import huggingface_hub.constants
import pytest
import torch

import neurozoo
from neurozoo import Checkpoint, hookimpl, plugins
from neurozoo.checkpoint import sha256_file
from neurozoo.cli import main as cli_main
from neurozoo.publish import push

from hub_server import HubServer

REPO_ID = "test-org/tiny-mlp"


@pytest.fixture
def hub(monkeypatch):
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.setenv("HF_TOKEN", "test-token")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        # huggingface_hub read HF_HUB_OFFLINE once at import; neurozoo reads the environment per call
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        yield server


@pytest.fixture
def checkpoint_folder(tmp_path):
    torch.manual_seed(0)
    model = neurozoo.create_model("mlp", num_classes=3, hidden=[8], class_names=["x", "y", "z"])
    return neurozoo.save(model, tmp_path / "ckpt", card="---\nlibrary_name: neurozoo\n---\n# tiny\n")


@pytest.fixture
def pushed(hub, checkpoint_folder):
    return push(checkpoint_folder, REPO_ID)


@pytest.fixture
def record(pushed):
    record = Checkpoint("baseline", "mlp", "toy", repo_id=REPO_ID, revision=pushed.commit,
                        files={k: v for k, v in pushed.files.items() if k != "README.md"})

    class Records:
        @hookimpl
        def register_checkpoints(self, register):
            register(record)

    name = plugins.register(Records(), name="http_records")
    yield record
    plugins.unregister(name)


def _cached_blobs(root: Path) -> list[Path]:
    """Finished downloads in the Hub cache (locks and resumable .incomplete parts excluded)."""
    return [p for p in (root / "hf" / "hub").rglob("blobs/*") if p.suffix not in (".lock", ".incomplete")]


def test_push_then_download_is_byte_identical(hub, pushed, checkpoint_folder):
    assert hub.repos[REPO_ID].branches["main"] == pushed.commit
    assert set(pushed.files) == {"model.safetensors", "config.json", "README.md"}
    for name in pushed.files:
        path = huggingface_hub.hf_hub_download(REPO_ID, name, revision=pushed.commit, endpoint=hub.endpoint)
        assert Path(path).read_bytes() == (checkpoint_folder / name).read_bytes()
    info = huggingface_hub.HfApi(endpoint=hub.endpoint).model_info(REPO_ID, revision="main")
    assert info.sha == pushed.commit
    assert 'revision="' + pushed.commit in pushed.record_source()


def test_hf_hub_reference_and_registered_name_both_load(hub, record, checkpoint_folder):
    reference = neurozoo.load(f"hf-hub:{REPO_ID}")
    by_name = neurozoo.load(record.name)
    local = neurozoo.load(checkpoint_folder)
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(reference(x), local(x), rtol=0, atol=0)
    torch.testing.assert_close(by_name(x), local(x), rtol=0, atol=0)


def test_push_to_a_branch_and_cli_prints_the_commit(hub, checkpoint_folder, capsys):
    assert cli_main(["push", str(checkpoint_folder), "--repo-id", REPO_ID, "--revision", "experiment"]) == 0
    out = capsys.readouterr().out
    commit = hub.repos[REPO_ID].branches["experiment"]
    assert f"commit {commit}" in out and "Checkpoint(" in out


def test_push_refuses_a_broken_folder_before_any_request(hub, checkpoint_folder):
    weights = checkpoint_folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(neurozoo.CheckpointError, match="truncated"):
        push(checkpoint_folder, REPO_ID)
    assert hub.log == []


def test_push_without_a_token_says_how_to_log_in(hub, checkpoint_folder, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(neurozoo.NeurozooError, match="HF_TOKEN"):
        push(checkpoint_folder, REPO_ID)


# huggingface_hub resumes a dropped or cut-off transfer itself; a 500 and a wrong sha256 reach the user
@pytest.mark.parametrize("fault, recovered_in_call", [("500", False), ("drop", True), ("truncate", True),
                                                      ("wrong", False)])
def test_download_faults_leave_no_corrupt_file_and_a_retry_succeeds(hub, record, isolated_caches, fault,
                                                                   recovered_in_call):
    hub.faults["model.safetensors"] = [fault]
    try:
        model = neurozoo.load(record.name)
    except neurozoo.NeurozooError as exc:
        assert "model.safetensors" in str(exc) or "download" in str(exc).lower()
        model = None
    for path in _cached_blobs(isolated_caches):
        assert sha256_file(path) in record.files.values(), f"corrupt file left in the cache: {path}"
    assert (model is not None) == recovered_in_call
    again = neurozoo.load(record.name)
    assert again.config["arch"] == "mlp"


def test_eight_processes_loading_a_cold_name_download_once(hub, record, isolated_caches, tmp_path):
    script = tmp_path / "load_one.py"
    script.write_text(textwrap.dedent(f"""
        import neurozoo
        from neurozoo import Checkpoint, hookimpl, plugins

        class Records:
            @hookimpl
            def register_checkpoints(self, register):
                register(Checkpoint("baseline", "mlp", "toy", repo_id={REPO_ID!r}, revision={record.revision!r},
                                    files={dict(record.files)!r}))

        plugins.register(Records(), name="records")
        model = neurozoo.load({record.name!r})
        print("ok", model.config["arch"])
    """))
    env = {**os.environ}
    procs = [subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(8)]
    results = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in results]
    assert all(out.strip() == "ok mlp" for out, _ in results)
    assert hub.requests("GET", "/model.safetensors") == 1
    weights = [p for p in _cached_blobs(isolated_caches) if sha256_file(p) == record.files["model.safetensors"]]
    assert len(weights) == 1
