"""The run folder a training run writes (rank 0 only).

    RUN/
      config.json, model.safetensors   the published checkpoint (``neurozoo.save``), rewritten at
                                       every checkpoint, so ``neurozoo.load(RUN)`` gives the
                                       latest weights and the finished run is ready to publish
      run.json                         how the run was made: method, arch, dataset, resolved recipe,
                                       engine settings, seed, versions, the exact command (and
                                       each resume)
      metrics.jsonl                    one JSON line per finished epoch
      state/training.pt                private resumable state (``torch.save``, loaded with
                                       ``weights_only=True``): weights, optimiser, schedule, method
                                       state, extra modules, random streams, position
      .lock                            held (``flock``) by the one process writing the folder; it
                                       holds that process's pid and is removed when the run ends

Every file is replaced atomically (temporary file + rename), so a run killed at any moment
keeps its last complete checkpoint; the temporary file such a kill leaves is removed by the next
run in the folder. A folder without ``state/training.pt`` holds no trained epoch (a run that
failed or was killed before its first checkpoint): a new run may start in it afresh.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from neurozoo.checkpoint import CONFIG_NAME, WEIGHTS_NAME, atomic_write_bytes, save
from neurozoo.errors import CheckpointError, ConfigError

RUN_CONFIG = "run.json"
METRICS = "metrics.jsonl"
STATE = Path("state") / "training.pt"
LOCK = ".lock"
TEMPORARY = ".*.tmp"  # atomic_write_bytes's temporary files
# what a run writes; a folder holding only these and no state is free for a new run
RUN_FILES = (RUN_CONFIG, METRICS, CONFIG_NAME, WEIGHTS_NAME, STATE.parent.name)
# fields every run.json has, and their types
RUN_FIELDS = {"method": str, "arch": str, "dataset": str, "recipe": dict, "engine": dict, "resumes": list}
ENGINE_FIELDS = ("batch_size", "seed", "precision", "channels_last", "limit", "eval_limit", "world_size")


class RunFolderBusy(ConfigError):
    """Another process is writing the run folder."""


class WriterLock:
    """The exclusive ``flock`` on ``RUN/.lock`` of the process writing the run folder.

    The file holds the holder's pid (named in the error a second writer gets). The lock dies with
    its process, so a killed run never leaves the folder locked. ``release`` removes the file
    while still holding the lock; a process that opened the old file meanwhile finds it unlinked
    after locking it and tries again on the new one, so two writers never hold locks at once.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / LOCK
        self.created_folder = not folder.exists()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.fd = self._acquire()
        except OSError as exc:
            raise ConfigError(
                f"cannot write in run folder {folder} ({exc.strerror or exc}); make it writable or train "
                "into another folder (--out)"
            ) from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())

    def _acquire(self) -> int:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise RunFolderBusy(
                    f"{self.folder} is being written by another training process (pid {holder}); wait for it "
                    "to finish or stop it, or train into another folder (--out)"
                ) from None
            try:
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)  # released and removed while we waited: lock the file that is there now

    def release(self) -> None:
        self.path.unlink(missing_ok=True)
        os.close(self.fd)
        if self.created_folder:
            try:
                self.folder.rmdir()  # a folder this run created and left empty (it failed before writing)
            except OSError:
                pass


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def is_run(self) -> bool:
        return (self.path / RUN_CONFIG).is_file()

    @property
    def has_state(self) -> bool:
        """Whether the run checkpointed at least once (it has weights worth resuming)."""
        return (self.path / STATE).is_file()

    def lock(self) -> WriterLock:
        """Become the folder's one writer until ``release()``; RunFolderBusy if another process is."""
        return WriterLock(self.path)

    def remove_temporaries(self) -> None:
        """Temporary files of atomic writes a killed writer left (call while holding the lock)."""
        for path in [*self.path.glob(TEMPORARY), *(self.path / STATE.parent).glob(TEMPORARY)]:
            path.unlink(missing_ok=True)

    def foreign_entries(self) -> list[str]:
        """Names in the folder that no run writes (a new run must not mix with them)."""
        if not self.path.is_dir():
            return []
        return sorted(p.name for p in self.path.iterdir()
                      if p.name not in (*RUN_FILES, LOCK) and not p.match(TEMPORARY))

    def clear(self) -> None:
        """Remove what a run that never checkpointed left, so a new run starts clean."""
        for name in RUN_FILES:
            path = self.path / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        self.remove_temporaries()

    def read_config(self) -> dict[str, Any]:
        path = self.path / RUN_CONFIG
        try:
            config = json.loads(path.read_text())
        except FileNotFoundError:
            raise CheckpointError(
                f"{self.path} is not a training run folder (no {RUN_CONFIG}); pass the folder a "
                "`neurozoo train` run wrote"
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self._damaged(f"cannot be read as JSON ({getattr(exc, 'strerror', None) or exc})") from None
        if not isinstance(config, dict):
            raise self._damaged(f"holds a JSON {type(config).__name__}, not an object")
        wrong = [name for name, kind in RUN_FIELDS.items() if not isinstance(config.get(name), kind)]
        if "engine" not in wrong:
            wrong += [f"engine.{name}" for name in ENGINE_FIELDS if name not in config["engine"]]
        if wrong:
            raise self._damaged(f"lacks or has malformed field(s) {', '.join(wrong)}")
        return config

    def _damaged(self, problem: str) -> CheckpointError:
        return CheckpointError(
            f"{self.path / RUN_CONFIG} {problem}; `neurozoo train` writes it whole, so it was edited or "
            f"damaged: restore it, or start a new run in another folder (--out)"
        )

    def write_config(self, config: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path / RUN_CONFIG, (json.dumps(config, indent=2) + "\n").encode())

    def save_state(self, state: dict[str, Any]) -> None:
        (self.path / STATE).parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write_bytes(self.path / STATE, buffer.getvalue())

    def load_state(self) -> dict[str, Any] | None:
        """The last checkpoint, or None when the run stopped before its first one."""
        path = self.path / STATE
        if not path.exists():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for damaged files
            raise CheckpointError(
                f"{path} cannot be read ({type(exc).__name__}: {exc}); it was written atomically, so the "
                "file was damaged after the fact: delete the run folder and train again"
            ) from None

    def save_model(self, model) -> None:
        save(model, self.path)

    def append_metrics(self, record: dict[str, Any]) -> None:
        with open(self.path / METRICS, "a") as f:
            f.write(json.dumps(record) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        """Complete lines only: a run killed mid-write leaves at most one broken last line."""
        path = self.path / METRICS
        if not path.exists():
            return []
        records = []
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def keep_metrics_before(self, epochs_done: int) -> None:
        """Drop lines of epochs the resumed run will train again."""
        kept = [r for r in self.read_metrics() if r["epoch"] <= epochs_done]
        atomic_write_bytes(self.path / METRICS, "".join(json.dumps(r) + "\n" for r in kept).encode())
