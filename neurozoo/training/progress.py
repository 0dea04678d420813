"""Progress of rank 0: a rich bar (images/s, loss) on a terminal, plain lines in a log file."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

LOG_EVERY = 50  # steps between lines when stderr is not a terminal


class EpochProgress:
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.console = Console(stderr=True)
        self.live = enabled and self.console.is_terminal
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:.1f} img/s  loss {task.fields[loss]:.4f}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.live,
        )
        self.task = None

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        self.bar.__exit__(*exc)

    def start_epoch(self, description: str, total: int, done: int) -> None:
        self.description, self.total, self.done = description, total, done
        self.images, self.loss, self.started = 0, float("nan"), time.perf_counter()
        if self.task is not None:
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(description, total=total, completed=done, rate=0.0, loss=self.loss)

    @property
    def rate(self) -> float:
        return self.images / max(time.perf_counter() - self.started, 1e-9)

    def advance(self, images: int, loss: float | None) -> None:
        """One step done; ``loss`` is None on steps where reading it would cost a device sync."""
        self.done += 1
        self.images += images
        if loss is not None:
            self.loss = loss
        self.bar.update(self.task, completed=self.done, rate=self.rate, loss=self.loss)
        if self.enabled and not self.live and self.done % LOG_EVERY == 0:
            self.print(f"{self.description} {self.done}/{self.total}  {self.rate:.1f} img/s  loss {self.loss:.4f}")

    def print(self, message: str) -> None:
        if self.enabled:
            self.console.print(message, highlight=False, soft_wrap=True)
