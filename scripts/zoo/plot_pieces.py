"""Redraw a checkpoint folder's ``plots/`` from the curves of all its evaluation pieces (``eval*.json``):
each piece's ``neurozoo eval --plots`` draws its own curves only, and a later piece's plot of the same name
(APGD-T's accuracy against Linf epsilon after APGD-CE's) replaces an earlier one.

    python scripts/zoo/plot_pieces.py RUN/published
"""

from __future__ import annotations

import sys
from pathlib import Path

from neurozoo.cards import PLOTS_DIR, folder_evaluations
from neurozoo.checkpoint import read_config
from neurozoo.evaluation.report import write_plots


def main(folder: Path) -> None:
    pieces = folder_evaluations(folder).torch  # checked against the folder's weights
    if not pieces:
        raise SystemExit(f"{folder}: no eval*.json of these weights to plot")
    config = read_config(folder)
    name = f"{config['method']}-{config['arch']}-{config['dataset']}"  # the title, not a machine path
    merged = {**pieces[0], "model": name, "curves": [curve for piece in pieces for curve in piece["curves"]]}
    for path in write_plots(merged, folder / PLOTS_DIR):
        print(f"plot: {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
