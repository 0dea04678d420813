"""``neurozoo.load``: a checkpoint by registered name, local folder, or ``hf-hub:`` reference."""

from __future__ import annotations

import os
from pathlib import Path

from neurozoo import hub, registry
from neurozoo.checkpoint import load_folder
from neurozoo.errors import CheckpointError, ConfigError, UnknownNameError
from neurozoo.model import NeurozooModel

FILE_PREFIX = "file:"


def local_path(name_or_path: str | os.PathLike) -> Path | None:
    """The folder ``name_or_path`` names when it is written as a path, else None (a registered name).

    A path is an ``os.PathLike``, or a string that starts with ``file:``, is absolute, starts with
    ``~``, is ``.`` or ``..``, or contains a path separator (``./name``, ``runs/x``). A bare word is
    never a path, so a folder in the current directory cannot stand in for a registered name.
    """
    if isinstance(name_or_path, os.PathLike):
        return Path(os.fsdecode(name_or_path)).expanduser()
    text = name_or_path
    if text.startswith(FILE_PREFIX):
        return Path(text[len(FILE_PREFIX):]).expanduser()
    separators = {os.sep, os.altsep, "/"} - {None}
    if text in (".", "..") or text.startswith("~") or os.path.isabs(text) or any(s in text for s in separators):
        return Path(text).expanduser()
    return None


def resolve(name_or_path: str | os.PathLike, revision: str | None = None) -> Path:
    """The local folder holding the verified checkpoint files for ``name_or_path`` (see :func:`load`)."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ConfigError(
            f"neurozoo.load takes a registered name (str), a checkpoint folder (os.PathLike, or a str path "
            f"such as './name') or 'hf-hub:ORG/NAME', got {type(name_or_path).__name__} {name_or_path!r:.60}"
        )
    if isinstance(name_or_path, str) and name_or_path.startswith(hub.HF_PREFIX):
        return hub.fetch_hf_hub(name_or_path, revision)
    path = local_path(name_or_path)
    if path is not None:
        if revision is not None:
            raise ConfigError(f"revision={revision!r} applies to registered names and hf-hub: references, not to the folder {path}")
        if not path.is_dir():
            raise CheckpointError(f"no checkpoint folder at {path}")
        return path
    try:
        record = registry.get_checkpoint(name_or_path)
    except UnknownNameError as exc:
        if Path(name_or_path).is_dir():
            raise UnknownNameError(
                f"{exc}; to load the folder {name_or_path!r} here, write it as a path: './{name_or_path}'"
            ) from None
        raise
    return hub.fetch(record, revision)


def load(name_or_path: str | os.PathLike, revision: str | None = None, device: str = "cpu") -> NeurozooModel:
    """Load a checkpoint ready for inference (eval mode) with ``.preprocess`` and ``.class_names``.

    ``name_or_path`` is one of:

    - a registered name (``neurozoo list``): always resolved through its checkpoint record, from
      the folders installed with neurozoo, ``$NEUROZOO_HUB_DIR`` or the Hugging Face Hub, and every
      file is checked against the record's sha256 (:class:`neurozoo.IntegrityError` on a mismatch);
    - a local checkpoint or run folder, written as a path: an ``os.PathLike``, or a string that is
      absolute, starts with ``./``, ``../`` or ``~``, contains a path separator, or carries the
      prefix ``file:`` (``file:my-folder``). A bare word is a registered name even when a folder of
      that name exists in the current directory. A folder has no record, so its files are loaded
      as they are (config and weights are still checked against each other);
    - ``hf-hub:ORG/NAME[@REVISION]``: a Hub repo, each download checked against the hash the server
      announced.

    ``revision`` pins a Hub branch, tag or commit. Anything else (``None``, a number) is a
    :class:`neurozoo.ConfigError`.
    """
    return load_folder(resolve(name_or_path, revision), device=device)
