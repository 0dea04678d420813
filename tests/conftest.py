"""Fixtures shared by every test file.

Every test runs with its own neurozoo cache and Hugging Face cache, and with the Hub offline, so
nothing downloads and no test sees another's cached files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path_factory, monkeypatch):
    root = tmp_path_factory.mktemp("caches")
    monkeypatch.setenv("NEUROZOO_CACHE", str(root / "neurozoo"))
    monkeypatch.setenv("HF_HOME", str(root / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(root / "hf" / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("NEUROZOO_HUB_DIR", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    return root


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder: $NEUROZOO_DATA or ../shared/data beside the repo."""
    path = Path(os.environ.get("NEUROZOO_DATA") or REPO.parent / "shared" / "data")
    if not (path / "manifest.json").exists():
        pytest.skip(f"real data not found at {path} (set NEUROZOO_DATA)")
    return path
