"""Multi-object digits: deterministic, different classes, masks match the pixels, overlap bound, cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import neurozoo
from neurozoo.data import multidigits
from neurozoo.data.multidigits import box_overlap, resize_matrix


def fake_mnist(n=300, seed=0):
    """Digit-like images: a random blob of 8..20 x 8..20 pixels inside a 28 x 28 frame, 10 classes."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    for image in images:
        h, w = rng.integers(8, 21, size=2)
        top, left = rng.integers(0, 29 - h), rng.integers(0, 29 - w)
        image[top:top + h, left:left + w] = rng.integers(0, 256, size=(h, w)) * (rng.random((h, w)) < 0.6)
        image[top, left] = image[top + h - 1, left + w - 1] = 255  # the blob's box is exactly h x w
    return images[..., None], np.arange(n) % 10


@pytest.fixture
def mnist_root(write_data_folder):
    images, labels = fake_mnist()
    return write_data_folder({"mnist": {"train": (images, labels), "test": (images[:100], labels[:100])}})


def render_alone(digit: np.ndarray, box) -> np.ndarray:
    """One digit on the 50 x 50 canvas, resized with F.interpolate and rounded (independent of the generator)."""
    top, left, height, width = (int(v) for v in box)
    rows, cols = np.flatnonzero(digit.any(1)), np.flatnonzero(digit.any(0))
    crop = digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    assert crop.shape == (height, width)
    canvas = torch.zeros(1, 1, 50, 50)
    canvas[0, 0, top:top + height, left:left + width] = torch.from_numpy(crop.astype(np.float32))
    return F.interpolate(canvas, size=(32, 32), mode="bilinear", align_corners=False)[0, 0].round().numpy()


@pytest.mark.parametrize("n_digits,max_overlap", [(2, 0.0), (2, 0.5), (3, 0.25)])
def test_digits_masks_and_overlap(mnist_root, n_digits, max_overlap):
    data = multidigits.load("train", root=mnist_root, n_digits=n_digits, max_overlap=max_overlap, size=400)
    mnist, labels = fake_mnist()
    assert data.images.shape == (400, 1, 32, 32) and data.masks.shape == (400, n_digits, 32, 32)
    # different classes, ascending, consistent with the multi-hot target and the source digits
    assert (data.digits.diff(dim=1) > 0).all()
    assert torch.equal(data.targets.sum(1), torch.full((400,), float(n_digits)))
    assert torch.equal(data.targets.nonzero()[:, 1].view(400, n_digits), data.digits)
    assert (torch.from_numpy(labels)[data.sources] == data.digits).all()
    # masks match the pixels: a pixel is lit exactly where some digit is
    assert torch.equal(data.images[:, 0] > 0, data.masks.any(1))
    assert data.masks.flatten(2).any(2).all(), "every digit is visible"
    # each mask and the image are the digits rendered one by one through F.interpolate
    for i in range(0, 400, 37):
        layers = [render_alone(mnist[data.sources[i, k], :, :, 0], data.boxes[i, k]) for k in range(n_digits)]
        assert all(np.array_equal(layer > 0, data.masks[i, k].numpy()) for k, layer in enumerate(layers))
        assert np.array_equal(np.minimum(sum(layers), 255), data.images[i, 0].numpy())
    # boxes lie on the canvas and respect the overlap bound pairwise
    boxes = data.boxes.numpy()
    assert (boxes[..., :2] >= 0).all() and (boxes[..., :2] + boxes[..., 2:] <= 50).all()
    overlaps = [box_overlap(boxes[:, a], boxes[:, b]) for a in range(n_digits) for b in range(a + 1, n_digits)]
    assert max(o.max() for o in overlaps) <= max_overlap
    if max_overlap > 0:
        assert max(o.max() for o in overlaps) > max_overlap / 2, "the bound is reached, not just respected"


def test_generation_is_deterministic_and_cached(mnist_root, tmp_path, monkeypatch):
    first = multidigits.load("test", root=mnist_root, size=200, seed=3)
    monkeypatch.setenv("NEUROZOO_CACHE", str(tmp_path / "fresh-cache"))
    again = multidigits.load("test", root=mnist_root, size=200, seed=3)  # generated anew
    for name in ("images", "targets", "masks", "boxes", "sources"):
        assert torch.equal(getattr(first, name), getattr(again, name))
    assert len(list((tmp_path / "fresh-cache" / "multidigits").glob("test-n2-o0-plain-seed3-size200-*.npz"))) == 1
    monkeypatch.setattr(multidigits, "generate", lambda *a, **k: pytest.fail("cached sets are not generated again"))
    cached = multidigits.load("test", root=mnist_root, size=200, seed=3)
    assert torch.equal(cached.images, first.images) and torch.equal(cached.masks, first.masks)
    monkeypatch.undo()
    other = multidigits.load("test", root=mnist_root, size=200, seed=4)
    assert not torch.equal(other.images, first.images)


def test_cifar_background_lies_under_the_same_digits(mnist_root, write_data_folder):
    rng = np.random.default_rng(0)
    cifar = rng.integers(0, 200, size=(20, 32, 32, 3), dtype=np.uint8)
    root = write_data_folder({"cifar10": {"train": (cifar, np.arange(20) % 10)}})
    plain = multidigits.load("train", root=root, size=100)
    background = multidigits.load("train", root=root, size=100, background="cifar10")
    assert torch.equal(plain.masks, background.masks) and torch.equal(plain.boxes, background.boxes)
    assert background.images.shape == (100, 1, 32, 32)
    assert (background.images >= plain.images).all()
    outside = ~plain.masks.any(1)
    luma = np.rint(cifar.astype(np.float64) @ [0.299, 0.587, 0.114])
    assert set(np.unique(background.images[:, 0][outside].numpy())) <= set(np.unique(luma).astype(int))


def test_registered_variants_and_batches(mnist_root):
    record = neurozoo.get_dataset("multimnist3")
    assert record.task == "multilabel" and record.input_size == (1, 32, 32) and record.num_classes == 10
    data = record.load("test", root=mnist_root, size=50, augment=True)
    images, targets, masks = next(iter(DataLoader(data, batch_size=16)))
    assert images.shape == (16, 1, 32, 32) and images.dtype == torch.float32 and images.max() <= 1
    assert targets.shape == (16, 10) and targets.dtype == torch.float32
    assert masks.shape == (16, 3, 32, 32) and masks.dtype == torch.bool
    assert torch.equal(images, data.images[:16].float() / 255), "augment=True leaves digit sets unchanged"
    for name in ("multimnist", "multimnist_o25", "multimnist_o50", "multimnist_cifar"):
        assert neurozoo.get_dataset(name).task == "multilabel"


@pytest.mark.parametrize(
    "options,message",
    [
        ({"n_digits": 4}, "n_digits must be 2 or 3"),
        ({"max_overlap": 1.5}, "max_overlap must be in"),
        ({"background": "svhn"}, "background must be one of"),
        ({"size": 0}, "size must be a positive"),
    ],
)
def test_bad_options_are_clear_errors(options, message):
    with pytest.raises(ValueError, match=message):
        multidigits.load("train", **options)


def test_resize_matrix_is_bilinear_interpolation_with_exact_weights():
    canvas = torch.rand(50, 50, dtype=torch.float64)
    matrix = torch.from_numpy(resize_matrix())
    expected = F.interpolate(canvas[None, None], size=(32, 32), mode="bilinear", align_corners=False)[0, 0]
    assert torch.allclose(matrix @ canvas @ matrix.T, expected, atol=1e-12)
    assert np.array_equal(resize_matrix() * 32, np.round(resize_matrix() * 32)), "weights are multiples of 1/32"


@pytest.mark.slow
def test_real_mnist_digits(shared_data):
    data = neurozoo.get_dataset("multimnist_o25").load("test", root=shared_data, size=2000)
    assert torch.equal(data.images[:, 0] > 0, data.masks.any(1))
    assert (data.digits.diff(dim=1) > 0).all()
    assert box_overlap(data.boxes[:, 0].numpy(), data.boxes[:, 1].numpy()).max() <= 0.25
