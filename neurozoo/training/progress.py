"""Progress of rank 0: a start line, then a rich bar (images/s, loss) on a terminal, or plain lines
in a log file (at most ``LOG_INTERVAL_S`` apart, whatever the speed of a step)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

# seconds between progress lines when the output is not a terminal: a line is due after the first
# step that ends this long after the previous line, so lines are < 60 s apart for steps under 30 s
LOG_INTERVAL_S = 30.0


def start_line(folder: str | Path, *, method: str, arch: str, dataset: str, epochs: int, settings: dict[str, Any],
               device: Any, threads: int, resumed: bool) -> str:
    """What a run is about to do, printed before any data is read, so a log says it from its first line."""
    limit = settings.get("limit")
    images = f"the first {limit:,} training images" if limit else "every training image"
    if settings.get("val_fraction"):
        images += f" less a {settings['val_fraction']:.0%} validation split"
    layout = ", channels_last" if settings.get("channels_last") else ""
    cutout = f", cutout {settings['cutout']}" if settings.get("cutout") else ""
    return (
        f"{'resuming' if resumed else 'training'} {folder}: method {method}, arch {arch}, dataset {dataset}; "
        f"{epochs} epoch(s) over {images}, batch {settings['batch_size']}, seed {settings['seed']}{cutout}; "
        f"precision {settings['precision']}{layout}; {device}, {threads} thread(s)"
    )


def print_start(folder: str | Path, **details: Any) -> None:
    import torch

    line = start_line(folder, threads=torch.get_num_threads(), **details)
    Console(stderr=True).print(line, highlight=False, soft_wrap=True)


class EpochProgress:
    def __init__(self, enabled: bool, console: Console | None = None, clock: Callable[[], float] = time.perf_counter):
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.clock = clock
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
        self.images, self.loss, self.started = 0, float("nan"), self.clock()
        self.last_line = self.started
        if self.task is not None:
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(description, total=total, completed=done, rate=0.0, loss=self.loss)

    @property
    def rate(self) -> float:
        return self.images / max(self.clock() - self.started, 1e-9)

    def advance(self, images: int, loss: float | None) -> None:
        """One step done; ``loss`` is None on steps where reading it would cost a device sync."""
        self.done += 1
        self.images += images
        if loss is not None:
            self.loss = loss
        self.bar.update(self.task, completed=self.done, rate=self.rate, loss=self.loss)
        now = self.clock()
        if self.enabled and not self.live and now - self.last_line >= LOG_INTERVAL_S:
            self.last_line = now
            self.print(f"{self.description} {self.done}/{self.total}  {self.rate:.1f} img/s  loss {self.loss:.4f}")

    def print(self, message: str) -> None:
        if self.enabled:
            self.console.print(message, highlight=False, soft_wrap=True)
