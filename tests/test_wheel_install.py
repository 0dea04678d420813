"""A wheel built from this tree, installed outside it, loads the published checkpoint offline.

The wheel is built without build isolation (by the environment's own setuptools, which torch
requires too) and installed with ``--target`` (no fresh virtual environment: torch alone would take
minutes to install), then imported from that folder by a
Python started outside the repository, so ``neurozoo`` and its checkpoint files can only come from
the wheel. Nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NAME = "baseline-resnet18-cifar10"
# what a build must not see: the .gitignore entries and the repository's own history
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", "runs", ".pytest_cache")

PROBE = textwrap.dedent(f"""
    import json, neurozoo, neurozoo_model_cards, neurozoo_plugins
    from neurozoo import hub

    model = neurozoo.load({NAME!r})
    print(json.dumps({{
        "modules": [neurozoo.__file__, neurozoo_model_cards.__file__, neurozoo_plugins.__file__],
        "arch": model.config["arch"],
        "location": hub.weights_location(neurozoo.get_checkpoint({NAME!r})),
    }}))
""")


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_the_wheel_ships_the_published_checkpoint_and_loads_it_offline(tmp_path):
    source = tmp_path / "source"  # setuptools builds inside the source tree: a copy keeps the repo clean
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    pip = (sys.executable, "-m", "pip")
    _run(*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", str(source), "-w", str(tmp_path / "dist"))
    (wheel,) = (tmp_path / "dist").glob("neurozoo_models-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    for filename in ("model.safetensors", "config.json", "README.md"):
        assert f"neurozoo_model_cards/{NAME}/{filename}" in shipped
    _run(*pip, "install", "--no-deps", "--no-index", "--target", str(tmp_path / "site"), str(wheel))

    env = {k: v for k, v in os.environ.items() if k not in ("NEUROZOO_HUB_DIR", "HF_ENDPOINT")}
    env.update(PYTHONPATH=str(tmp_path / "site"), HF_HUB_OFFLINE="1", NEUROZOO_CACHE=str(tmp_path / "cache"),
               HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(tmp_path / "hf" / "hub"))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    probe = json.loads(_run(sys.executable, "-c", PROBE, cwd=outside, env=env).stdout)
    assert all(Path(module).is_relative_to(tmp_path / "site") for module in probe["modules"]), probe["modules"]
    assert probe["arch"] == "resnet18"
    assert probe["location"] == "installed"
