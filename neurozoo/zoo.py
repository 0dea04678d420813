"""``neurozoo.load``: a checkpoint by registered name, local folder, or ``hf-hub:`` reference."""

from __future__ import annotations

import os
from pathlib import Path

from neurozoo import hub, registry
from neurozoo.checkpoint import load_folder
from neurozoo.errors import CheckpointError
from neurozoo.model import NeurozooModel


def resolve(name_or_path: str | os.PathLike, revision: str | None = None) -> Path:
    """The local folder holding the verified checkpoint files for ``name_or_path``."""
    text = os.fspath(name_or_path)
    if text.startswith(hub.HF_PREFIX):
        return hub.fetch_hf_hub(text, revision)
    if isinstance(name_or_path, os.PathLike) or os.sep in text or text.startswith("."):
        path = Path(text).expanduser()
        if not path.is_dir():
            raise CheckpointError(f"no checkpoint folder at {path}")
        return path
    if Path(text).is_dir():
        return Path(text)
    return hub.fetch(registry.get_checkpoint(text), revision)


def load(name_or_path: str | os.PathLike, revision: str | None = None, device: str = "cpu") -> NeurozooModel:
    """Load a checkpoint ready for inference (eval mode) with ``.preprocess`` and ``.class_names``.

    ``name_or_path`` is a registered name (``neurozoo list``), a local checkpoint folder, or
    ``hf-hub:ORG/NAME``. ``revision`` pins a Hub branch, tag or commit.
    """
    return load_folder(resolve(name_or_path, revision), device=device)
