"""Entry-point discovery in a fresh interpreter, with fake third-party distributions on sys.path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GOOD = '''
from torch import nn
from neurozoo import Architecture, hookimpl

class Net(nn.Module):
    def __init__(self, num_classes, in_chans=1):
        super().__init__()
        self.head = nn.Linear(in_chans * 4, num_classes)
    def embed(self, x):
        return x.flatten(1)
    def classify(self, z):
        return self.head(z)

@hookimpl
def register_architectures(register):
    register(Architecture("good_net", Net, input_size=(1, 2, 2)))
'''


def _fake_distribution(site: Path, dist: str, modules: dict[str, str], entry_points: dict[str, str]) -> None:
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[neurozoo]\n{lines}\n")


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _fake_distribution(site, "nz_good", {"nz_good": GOOD}, {"good": "nz_good"})
    _fake_distribution(site, "nz_broken", {"nz_broken": "raise ImportError('missing dependency xyz')"},
                       {"broken": "nz_broken"})
    return site


def _run(site: Path, code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(site), **env}
    environment.pop("NEUROZOO_PLUGINS", None)
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)


def test_a_broken_plugin_is_reported_and_the_others_load(site):
    result = _run(site, "import neurozoo; print(neurozoo.list_architectures())")
    assert result.returncode == 0, result.stderr
    assert "good_net" in result.stdout and "resnet18" in result.stdout
    assert "'broken'" in result.stderr and "missing dependency xyz" in result.stderr


def test_neurozoo_plugins_restricts_what_loads(site):
    result = _run(site, "import neurozoo; print(neurozoo.list_architectures())", NEUROZOO_PLUGINS="good")
    assert result.returncode == 0, result.stderr
    assert "good_net" in result.stdout and "resnet18" not in result.stdout
    assert "broken" not in result.stderr


def test_plugins_command_shows_distributions_and_failures(site):
    result = _run(site, "from neurozoo.cli import main; raise SystemExit(main(['plugins']))")
    assert result.returncode == 0, result.stderr
    assert "nz_good 1.0" in result.stdout
    assert "broken: failed to import 'nz_broken'" in result.stdout and "missing dependency xyz" in result.stdout
    assert "baseline" in result.stdout
