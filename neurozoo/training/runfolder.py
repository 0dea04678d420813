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

Every file is replaced atomically (temporary file + rename), so a run killed at any moment
keeps its last complete checkpoint.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch

from neurozoo.checkpoint import atomic_write_bytes, save
from neurozoo.errors import CheckpointError

RUN_CONFIG = "run.json"
METRICS = "metrics.jsonl"
STATE = Path("state") / "training.pt"


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def is_run(self) -> bool:
        return (self.path / RUN_CONFIG).is_file()

    def read_config(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / RUN_CONFIG).read_text())
        except FileNotFoundError:
            raise CheckpointError(
                f"{self.path} is not a training run folder (no {RUN_CONFIG}); pass the folder a "
                "`neurozoo train` run wrote"
            ) from None

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
