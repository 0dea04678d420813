"""Gabor filter bank used to initialise KomplexNet's first (amplitude) convolution.

The authors load a saved bank (``pt_utils/gabors.pt``, not in their repository). We build one:
``count`` even (cosine) Gabor filters at orientations k * pi / count, each scaled to unit L2 norm.
The defaults (5x5, sigma 1 px, wavelength 4 px, aspect 0.5) make line detectors about two pixels
wide: the stroke width of MNIST digits once a 50x50 two-digit canvas is resized to 32x32.
"""

from __future__ import annotations

import math

import torch


def gabor_bank(count: int = 8, size: int = 5, sigma: float = 1.0, wavelength: float = 4.0,
               aspect: float = 0.5) -> torch.Tensor:
    """Filters of shape (count, 1, size, size); filter k is oriented at k * pi / count."""
    if count < 1 or size < 1 or size % 2 == 0:
        raise ValueError(f"gabor_bank needs count >= 1 and an odd size, got count={count}, size={size}")
    half = size // 2
    coords = torch.arange(-half, half + 1, dtype=torch.float64)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    filters = []
    for k in range(count):
        theta = k * math.pi / count
        across = x * math.cos(theta) + y * math.sin(theta)
        along = -x * math.sin(theta) + y * math.cos(theta)
        envelope = torch.exp(-(across**2 + (aspect * along) ** 2) / (2 * sigma**2))
        g = envelope * torch.cos(2 * math.pi * across / wavelength)
        filters.append(g / g.norm())
    return torch.stack(filters).unsqueeze(1).float()
