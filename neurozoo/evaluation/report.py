"""Presenting a result: the terminal table, the JSON file, and PNG plots of its curves."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from neurozoo import registry
from neurozoo.checkpoint import atomic_write_bytes


def results_table(result: dict[str, Any]):
    """A rich Table: one row per figure, grouped by metric."""
    from rich.table import Table

    table = Table("metric", "figure", "value", "seconds",
                  title=f"{result['model']} on {result['dataset']}/{result['split']} ({result['num_samples']} samples)")
    for metric, figures in result["metrics"].items():
        seconds = f"{result['seconds'][metric]:.1f}"
        for i, (figure, value) in enumerate(figures.items()):
            table.add_row(metric if i == 0 else "", figure, "undefined" if value is None else f"{value:.4f}",
                          seconds if i == 0 else "")
    return table


def readings(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(metric, sentence) for each metric of the result whose registered ``Metric`` reads its figures in words
    (``Metric.reading``, e.g. whether binenc's code is binary), in the result's order; a metric that no
    loaded plugin registers (a result read from JSON may name one) has none."""
    found = []
    for metric, values in result["metrics"].items():
        record = registry.find_metric(metric)
        if record is not None and record.reading is not None:
            found.append((metric, record.reading(values)))
    return found


def write_json(result: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``result`` as strict JSON (no NaN) atomically; ``json.load`` gives the same dict back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(result, indent=2, allow_nan=False) + "\n").encode())
    return path


def write_plots(result: dict[str, Any], folder: str | os.PathLike) -> list[Path]:
    """One PNG per plot name in ``result["curves"]`` (e.g. accuracy vs noise sigma, vs attack epsilon)."""
    from matplotlib.figure import Figure

    by_plot: dict[str, list[dict]] = defaultdict(list)
    for curve in result["curves"]:
        by_plot[curve["plot"]].append(curve)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for plot, curves in by_plot.items():
        figure = Figure(figsize=(5, 3.5), layout="constrained")
        axes = figure.add_subplot()
        for curve in curves:
            axes.plot(curve["x"], curve["y"], marker="o", label=curve["label"])
        axes.set(xlabel=curves[0]["x_label"], ylabel=curves[0]["y_label"], ylim=(0, 1.02),
                 title=f"{result['model']} on {result['dataset']}")
        axes.grid(alpha=0.3)
        axes.legend()
        path = folder / f"{plot}.png"
        figure.savefig(path, dpi=120)
        written.append(path)
    return written
