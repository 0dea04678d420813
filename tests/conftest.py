"""Fixtures shared by every test file.

Every test runs with its own neurozoo cache and Hugging Face cache, and with the Hub offline, so
nothing downloads and no test sees another's cached files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One torch/OpenMP thread in every test and in the processes tests start: the same arithmetic
    everywhere (runs are compared bitwise), and no OpenMP threads spinning against each other on a
    busy 2-core machine (small steps were 10-100x slower with two threads there)."""
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    previous = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        with threadpool_limits(limits=1, user_api="openmp"):
            yield
    finally:
        torch.set_num_threads(threads)
        if previous is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = previous


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


@pytest.fixture
def write_data_folder(tmp_path):
    """Factory: write ``{dataset: {split: (images NHWC uint8, labels)}}`` in the shared .npz + manifest layout.

    Returns the folder. Splits of datasets already written by an earlier call in the test are kept.
    """
    import hashlib
    import json

    import numpy as np

    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)

    def write(arrays: dict) -> Path:
        manifest_path = folder / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        for name, splits in arrays.items():
            for split, (images, labels) in splits.items():
                path = folder / f"{name}_{split}.npz"
                np.savez_compressed(path, images=np.asarray(images, np.uint8), labels=np.asarray(labels, np.int64))
                entry = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
                manifest.setdefault(name, {"splits": {}})["splits"][split] = entry
        manifest_path.write_text(json.dumps(manifest))
        return folder

    return write
