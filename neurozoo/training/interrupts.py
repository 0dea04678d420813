"""SIGINT/SIGTERM during training: finish the current step, checkpoint, and stop cleanly."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from neurozoo.errors import NeurozooError

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(NeurozooError):
    """Training stopped on a signal after saving a checkpoint; ``--resume`` continues it."""

    def __init__(self, run_dir: Path, signum: int, position: str):
        self.run_dir = run_dir
        self.signum = signum
        super().__init__(
            f"stopped by {signal.Signals(signum).name} at {position}; the checkpoint is saved: "
            f"continue with the same command plus --resume {run_dir}"
        )


class StopSignals:
    """Turns SIGINT/SIGTERM into a request the loop honours at the next step boundary.

    The first signal restores the previous handlers, so a second one acts at once (an impatient
    Ctrl-C still stops the process, and the checkpoint files on disk stay whole since every
    write is atomic). Handlers can only be set from the main thread; elsewhere this is inert.
    """

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(self, *exc):
        self._restore()

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame) -> None:
        self.signum = signum
        self._restore()

    def _restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}
