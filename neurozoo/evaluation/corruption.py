"""Accuracy under the data layer's corruptions (:mod:`neurozoo.data.corruptions`) and a Gaussian-noise
sigma sweep, in one pass over the data (each batch is corrupted every way, then classified).

Noise is seeded per (seed, draw, batch index): the same seed and batch size give the same figures.
Accuracy follows the task: top-1 for single-label sets, exact-set for multi-label sets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurozoo.evaluation.accuracy import correct, fraction

NOISE_SIGMAS = (0.05, 0.1, 0.2, 0.3)
SEVERITIES = (1, 2, 3, 4, 5)
CORRUPTIONS = ("salt_and_pepper", "blur", "jpeg", "contrast")


def batch_seed(seed: int, draw: int, batch_index: int) -> int:
    return int(np.random.SeedSequence((seed, draw, batch_index)).generate_state(1)[0])


def corruption(ctx, noise_sigmas: Sequence[float] = NOISE_SIGMAS, corruptions: Sequence[str] = CORRUPTIONS,
               severities: Sequence[int] = SEVERITIES, draws: int = 1, seed: int = 0) -> dict[str, float]:
    """Figures ``noise_sigma_<s>`` (Gaussian noise of std s on [0, 1] pixels, clamped; the mean of
    ``draws`` noise draws, HaH's protocol uses 3) and ``<corruption>_severity_<k>`` (CIFAR-10-C
    severities 1..5 of each corruption); curves of accuracy vs sigma and vs severity."""
    from neurozoo.data import corruptions as data_corruptions

    unknown = sorted(set(corruptions) - set(data_corruptions.CORRUPTIONS))
    if unknown:
        raise ValueError(f"corruption: unknown corruption(s) {unknown}; known: {sorted(data_corruptions.CORRUPTIONS)}")
    if any(s not in SEVERITIES for s in severities) or draws < 1 or any(s < 0 for s in noise_sigmas):
        raise ValueError("corruption: severities must be in 1..5, draws >= 1 and noise sigmas >= 0")
    # (figure, corruption function, its parameter, number of draws)
    settings = [(f"noise_sigma_{sigma:g}", data_corruptions.gaussian_noise, sigma, draws) for sigma in noise_sigmas]
    settings += [(f"{name}_severity_{k}", data_corruptions.CORRUPTIONS[name], data_corruptions.SEVERITIES[name][k - 1], 1)
                 for name in corruptions for k in severities]
    hits = dict.fromkeys((figure for figure, *_ in settings), 0.0)
    total = 0
    for batch_index, (images, targets) in enumerate(ctx.batches(description="corruption")):
        total += len(targets)
        for figure, corrupt, param, n_draws in settings:
            for draw in range(n_draws):
                corrupted = corrupt(images, param, batch_seed(seed, draw, batch_index))
                hits[figure] += correct(ctx.predict(corrupted), targets).sum().item() / n_draws
    figures = {figure: count / total for figure, count in hits.items()}
    clean = fraction(ctx.outputs().correct)
    if noise_sigmas:
        ctx.add_curve("noise", "gaussian_noise", [0.0, *noise_sigmas],
                      [clean, *(figures[f"noise_sigma_{s:g}"] for s in noise_sigmas)],
                      x_label="Gaussian noise sigma ([0, 1] pixels)", y_label="accuracy")
    for name in corruptions:
        ctx.add_curve("corruption_severity", name, [0, *severities],
                      [clean, *(figures[f"{name}_severity_{k}"] for k in severities)],
                      x_label="severity (CIFAR-10-C parameters; 0 = clean)", y_label="accuracy")
    return figures
