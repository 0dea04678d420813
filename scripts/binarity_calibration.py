"""What binenc's ``binarity`` values mean: ``peak_separation`` (the per-dimension figure it averages) on
synthetic values of known shape, 10,000 each, drawn in this order from ``numpy.random.default_rng(0)``.

    .venv/bin/python scripts/binarity_calibration.py

plugins/binenc/README.md quotes the printed table.
"""

from __future__ import annotations

import numpy as np

from neurozoo_plugins.binenc.metrics import peak_separation


def two_peaks(rng: np.random.Generator, apart: float, count: int) -> np.ndarray:
    """An equal mixture of two unit Gaussians ``apart`` standard deviations apart."""
    half = count // 2
    return np.r_[rng.normal(-apart / 2, 1, half), rng.normal(apart / 2, 1, count - half)]


def main(count: int = 10_000) -> None:
    rng = np.random.default_rng(0)
    shapes = {
        "Gaussian": rng.normal(size=count),
        "uniform": rng.uniform(size=count),
        "Laplace": rng.laplace(size=count),
        **{f"two unit Gaussians {apart} apart": two_peaks(rng, apart, count) for apart in (2, 4, 8)},
    }
    for name, values in shapes.items():
        print(f"{name:28s} {peak_separation(values):.2f}")


if __name__ == "__main__":
    main()
