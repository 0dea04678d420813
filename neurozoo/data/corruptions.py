"""Image corruptions for robustness evaluation: named, seeded transforms of float [0, 1] NCHW batches.

Every entry of :data:`CORRUPTIONS` has the signature::

    corruption(images: Tensor, param: float, seed: int = 0) -> Tensor

``images`` is a float (N, C, H, W) batch in [0, 1] on any device; the result has the same shape,
dtype and device, values in [0, 1]. The same ``(images, param, seed)`` always gives the same result
(the noise comes from a ``torch.Generator`` seeded with ``seed`` on the images' device; ``blur``,
``jpeg`` and ``contrast`` are deterministic and ignore it). ``param`` is the physical strength:

- ``gaussian_noise``: sigma of additive N(0, sigma^2) noise per value, then clamped (stronger: larger);
- ``salt_and_pepper``: fraction of values set to 0 or 1, half each, drawn per value as skimage's
  ``random_noise(mode="s&p")`` (stronger: larger);
- ``blur``: sigma in pixels of a Gaussian blur, kernel 2 * ceil(4 * sigma) + 1, reflected borders
  (stronger: larger);
- ``jpeg``: JPEG quality 1..100 of Pillow's encoder (stronger: smaller);
- ``contrast``: factor c in ``(x - mean) * c + mean``, mean per image over all channels, then clamped
  (stronger: smaller).

:data:`SEVERITIES` maps each name to the params of severities 1..5 used by CIFAR-10-C
(Hendrycks & Dietterich 2019, ``make_cifar_c.py``); :func:`corrupt` applies a corruption by severity.
The kuramoto paper's noise test (Gaussian, variance 0.1) is ``gaussian_noise`` with sigma = 0.1 ** 0.5.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
import torch

Corruption = Callable[[torch.Tensor, float, int], torch.Tensor]


def _generator(images: torch.Tensor, seed: int) -> torch.Generator:
    return torch.Generator(device=images.device).manual_seed(seed)


def _check(images: torch.Tensor) -> None:
    if images.ndim != 4 or not images.is_floating_point():
        raise ValueError(
            f"corruptions take float (N, C, H, W) images in [0, 1], got {images.dtype} {tuple(images.shape)}"
        )


def gaussian_noise(images: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    _check(images)
    if sigma < 0:
        raise ValueError(f"gaussian_noise sigma must be >= 0, got {sigma}")
    noise = torch.randn(images.shape, generator=_generator(images, seed), device=images.device, dtype=images.dtype)
    return (images + sigma * noise).clamp_(0, 1)


def salt_and_pepper(images: torch.Tensor, amount: float, seed: int = 0) -> torch.Tensor:
    _check(images)
    if not 0 <= amount <= 1:
        raise ValueError(f"salt_and_pepper amount must be a fraction in [0, 1], got {amount}")
    generator = _generator(images, seed)
    hit = torch.rand(images.shape, generator=generator, device=images.device) < amount
    salt = torch.rand(images.shape, generator=generator, device=images.device) < 0.5
    return torch.where(hit, salt.to(images.dtype), images)


def blur(images: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    from torchvision.transforms.v2 import functional as F

    _check(images)
    if sigma < 0:
        raise ValueError(f"blur sigma must be >= 0, got {sigma}")
    if sigma == 0:
        return images.clone()
    kernel = 2 * math.ceil(4 * sigma) + 1  # +-4 sigma, as skimage's gaussian filter
    return F.gaussian_blur(images, kernel_size=[kernel, kernel], sigma=[sigma, sigma]).clamp_(0, 1)


def jpeg(images: torch.Tensor, quality: float, seed: int = 0) -> torch.Tensor:
    from PIL import Image

    _check(images)
    if not 1 <= quality <= 100:
        raise ValueError(f"jpeg quality must be in 1..100, got {quality}")
    pixels = images.detach().mul(255).round_().clamp_(0, 255).to("cpu", torch.uint8).permute(0, 2, 3, 1).numpy()
    out = np.empty_like(pixels)
    for i, image in enumerate(pixels):
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, "JPEG", quality=int(quality))
        decoded = np.asarray(Image.open(buffer))
        out[i] = decoded.reshape(image.shape)
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(images.device, images.dtype).div_(255)


def contrast(images: torch.Tensor, factor: float, seed: int = 0) -> torch.Tensor:
    _check(images)
    if factor < 0:
        raise ValueError(f"contrast factor must be >= 0, got {factor}")
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return ((images - mean) * factor + mean).clamp_(0, 1)


CORRUPTIONS: dict[str, Corruption] = {
    "gaussian_noise": gaussian_noise,
    "salt_and_pepper": salt_and_pepper,
    "blur": blur,
    "jpeg": jpeg,
    "contrast": contrast,
}

SEVERITIES: dict[str, tuple[float, ...]] = {  # CIFAR-10-C params of severities 1..5
    "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),
    "salt_and_pepper": (0.01, 0.02, 0.03, 0.05, 0.07),
    "blur": (0.4, 0.6, 0.7, 0.8, 1.0),
    "jpeg": (80, 65, 58, 50, 40),
    "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),
}


def corrupt(images: torch.Tensor, name: str, severity: int, seed: int = 0) -> torch.Tensor:
    """``CORRUPTIONS[name]`` at CIFAR-10-C severity 1..5."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; corruptions: {', '.join(CORRUPTIONS)}")
    if severity not in range(1, 6):
        raise ValueError(f"severity must be 1..5, got {severity!r}")
    return CORRUPTIONS[name](images, SEVERITIES[name][severity - 1], seed)
