"""Where a command will write, checked before it works: a result that cannot be written fails at once.

Every file neurozoo writes is replaced atomically (a temporary file in the same folder, then a
rename), so what matters is that the folder takes a new file; the check creates one and removes it,
which answers for permissions, ACLs and read-only mounts alike.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from neurozoo.errors import ConfigError


def writable_folder(path: str | os.PathLike, what: str, fix: str = "make it writable or choose another folder") -> Path:
    """``path`` as a folder that exists (created if needed) and takes new files; ConfigError otherwise."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write in {what} {path} ({exc.strerror or exc}); {fix}") from None
    return path


def writable_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a file that can be written (its folder created if needed); ConfigError otherwise."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a folder; give the path of a file")
    writable_folder(path.parent, f"the folder of {what}")
    return path
