"""Corruptions keep shape, dtype and range, are reproducible by seed, and grow with severity."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from neurozoo.data.corruptions import CORRUPTIONS, SEVERITIES, corrupt


def natural_images(n=6, channels=3, size=32, seed=0):
    """Smooth images (upsampled low-resolution noise) in [0, 1], like photos rather than white noise."""
    generator = torch.Generator().manual_seed(seed)
    low = torch.rand(n, channels, size // 4, size // 4, generator=generator)
    return F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)


@pytest.mark.parametrize("name", list(CORRUPTIONS))
@pytest.mark.parametrize("channels", [1, 3])
def test_shape_dtype_range_and_seed(name, channels):
    images = natural_images(channels=channels)
    param = SEVERITIES[name][2]
    out = CORRUPTIONS[name](images, param, 7)
    assert out.shape == images.shape and out.dtype == images.dtype and out.device == images.device
    assert 0 <= out.min() and out.max() <= 1
    assert not torch.equal(out, images), "the corruption changes the images"
    assert torch.equal(out, CORRUPTIONS[name](images, param, 7)), "same seed, same result"
    assert torch.equal(images, natural_images(channels=channels)), "the input is left untouched"


@pytest.mark.parametrize("name", ["gaussian_noise", "salt_and_pepper"])
def test_noise_depends_on_the_seed(name):
    images = natural_images()
    assert not torch.equal(CORRUPTIONS[name](images, 0.1, 0), CORRUPTIONS[name](images, 0.1, 1))


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_error_grows_with_severity(name):
    images = natural_images(n=16)
    errors = [(corrupt(images, name, severity) - images).abs().mean().item() for severity in range(1, 6)]
    assert errors == sorted(errors) and errors[0] < errors[-1]


def test_gaussian_noise_has_the_requested_sigma():
    images = torch.full((8, 3, 32, 32), 0.5)
    noise = CORRUPTIONS["gaussian_noise"](images, 0.1, 0) - images
    assert noise.std().item() == pytest.approx(0.1, rel=0.05)
    assert torch.equal(CORRUPTIONS["gaussian_noise"](images, 0.0, 0), images)


def test_salt_and_pepper_replaces_the_requested_fraction():
    images = torch.full((8, 3, 32, 32), 0.5)
    out = CORRUPTIONS["salt_and_pepper"](images, 0.2, 0)
    changed = out != images
    assert changed.float().mean().item() == pytest.approx(0.2, abs=0.02)
    assert set(out[changed].unique().tolist()) == {0.0, 1.0}
    assert (out[changed] == 1).float().mean().item() == pytest.approx(0.5, abs=0.05)


def test_blur_smooths_and_keeps_flat_images():
    flat = torch.full((2, 3, 16, 16), 0.3)
    assert torch.allclose(CORRUPTIONS["blur"](flat, 1.0, 0), flat, atol=1e-6)
    images = natural_images()
    variation = lambda x: (x.diff(dim=-1).abs().mean() + x.diff(dim=-2).abs().mean()).item()  # noqa: E731
    assert variation(CORRUPTIONS["blur"](images, 1.0, 0)) < variation(images)


def test_jpeg_quality_controls_the_error():
    images = natural_images()
    error = {q: (CORRUPTIONS["jpeg"](images, q, 0) - images).abs().mean().item() for q in (95, 10)}
    assert 3 * error[95] < error[10]


def test_contrast_pulls_towards_the_image_mean():
    images = natural_images()
    flat = CORRUPTIONS["contrast"](images, 0.0, 0)
    assert torch.allclose(flat, images.mean(dim=(1, 2, 3), keepdim=True).expand_as(images))
    assert torch.allclose(CORRUPTIONS["contrast"](images, 1.0, 0), images)


def test_bad_arguments_are_clear_errors():
    images = natural_images()
    with pytest.raises(ValueError, match="unknown corruption 'fog'"):
        corrupt(images, "fog", 1)
    with pytest.raises(ValueError, match="severity must be 1..5"):
        corrupt(images, "blur", 6)
    with pytest.raises(ValueError, match="float"):
        CORRUPTIONS["contrast"]((images * 255).to(torch.uint8), 0.5, 0)
    with pytest.raises(ValueError, match="quality"):
        CORRUPTIONS["jpeg"](images, 0, 0)
