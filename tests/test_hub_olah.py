"""Downloads through olah (an open-source Hub mirror server) serving a local git repo offline."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import huggingface_hub.constants
import pytest
import torch

import neurozoo
from neurozoo import Checkpoint, hookimpl, plugins
from neurozoo.checkpoint import sha256_file

REPO_ID = "test-org/tiny-mlp"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _git(*args: str, cwd: Path) -> str:
    command = ["git", "-c", "user.name=neurozoo-tests", "-c", "user.email=tests@neurozoo.invalid", *args]
    return subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def mirrored_checkpoint(tmp_path):
    """A checkpoint committed to a git repo laid out as olah expects (branch main)."""
    torch.manual_seed(0)
    model = neurozoo.create_model("mlp", num_classes=3, hidden=[8])
    repo = tmp_path / "mirrors" / "models" / REPO_ID
    neurozoo.save(model, repo, card="# tiny\n")
    _git("init", "-q", "-b", "main", cwd=repo)
    _git("add", ".", cwd=repo)
    _git("commit", "-q", "-m", "checkpoint", cwd=repo)
    return model.eval(), repo, _git("rev-parse", "HEAD", cwd=repo)


@pytest.fixture
def olah(tmp_path, mirrored_checkpoint, monkeypatch):
    port = _free_port()
    config = tmp_path / "olah.toml"
    config.write_text(
        "[basic]\n"
        f'host = "127.0.0.1"\nport = {port}\n'
        f'repos-path = "{tmp_path / "olah-repos"}"\n'
        f'mirrors-path = ["{tmp_path / "mirrors"}"]\n'
        'mirror-scheme = "http"\n'
        f'mirror-netloc = "127.0.0.1:{port}"\nmirror-lfs-netloc = "127.0.0.1:{port}"\n'
        "[accessibility]\noffline = true\n"
    )
    olah_cli = Path(sys.executable).parent / "olah-cli"
    log = (tmp_path / "olah.log").open("w")
    server = subprocess.Popen([str(olah_cli), "-c", str(config)], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{endpoint}/api/models/{REPO_ID}/revision/main", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"olah did not start: {(tmp_path / 'olah.log').read_text()[-2000:]}")
            time.sleep(0.3)
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_hf_hub_reference_and_registered_name_load_through_olah(olah, mirrored_checkpoint):
    model, repo, commit = mirrored_checkpoint
    files = {name: sha256_file(repo / name) for name in ("model.safetensors", "config.json")}
    record = Checkpoint("baseline", "mlp", "olah", repo_id=REPO_ID, revision=commit, files=files)

    class Records:
        @hookimpl
        def register_checkpoints(self, register):
            register(record)

    name = plugins.register(Records(), name="olah_records")
    try:
        x = torch.rand(2, 1, 28, 28)
        by_reference = neurozoo.load(f"hf-hub:{REPO_ID}")
        by_name = neurozoo.load(record.name)
        torch.testing.assert_close(by_reference(x), model(x), rtol=0, atol=0)
        torch.testing.assert_close(by_name(x), model(x), rtol=0, atol=0)
    finally:
        plugins.unregister(name)
