"""Multi-object digits: deterministic, different classes, masks match the pixels, overlap bound, cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import neurozoo
from neurozoo.data import multidigits
from neurozoo.data.multidigits import authors_overlap, resize_matrix, smaller_box_overlap


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


def placed(boxes: np.ndarray, order: np.ndarray, j: int) -> np.ndarray:
    """The boxes (N, 4) of the digits placed j-th."""
    return np.take_along_axis(boxes, order[:, j, None, None], 1)[:, 0]


@pytest.mark.parametrize(
    "n_digits,max_overlap,overlap",
    [(2, 0.0, "authors"), (2, 0.25, "authors"), (3, 0.25, "authors"), (2, 0.0, "smaller_box"),
     (2, 0.5, "smaller_box")],
)
def test_digits_masks_and_overlap(mnist_root, n_digits, max_overlap, overlap):
    data = multidigits.load("train", root=mnist_root, n_digits=n_digits, max_overlap=max_overlap, overlap=overlap,
                            size=400)
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
    # boxes lie on the canvas, corners in the authors' ranges: [0, 21] for the first digit, [0, 29] after
    boxes, order = data.boxes.numpy(), data.order.numpy()
    assert (np.sort(order, 1) == np.arange(n_digits)).all(), "order is a permutation of the digits"
    assert (boxes[..., :2] >= 0).all() and (boxes[..., :2] + boxes[..., 2:] <= 50).all()
    assert placed(boxes, order, 0)[:, :2].max() <= 21 and boxes[..., :2].max() <= 29
    # each digit respects the bound against every digit placed before it (the measure is asymmetric)
    measure = {"authors": authors_overlap, "smaller_box": smaller_box_overlap}[overlap]
    overlaps = np.stack([measure(placed(boxes, order, i), placed(boxes, order, j))
                         for j in range(n_digits) for i in range(j)])
    assert overlaps.max() <= max_overlap
    if max_overlap > 0:
        assert overlaps.max() > max_overlap / 2, "the bound is reached, not just respected"


def test_generation_is_deterministic_and_cached(mnist_root, tmp_path, monkeypatch):
    first = multidigits.load("test", root=mnist_root, size=200, seed=3)
    monkeypatch.setenv("NEUROZOO_CACHE", str(tmp_path / "fresh-cache"))
    again = multidigits.load("test", root=mnist_root, size=200, seed=3)  # generated anew
    for name in ("images", "targets", "masks", "boxes", "sources", "order"):
        assert torch.equal(getattr(first, name), getattr(again, name))
    assert len(list((tmp_path / "fresh-cache" / "multidigits").glob("test-n2-authors0-plain-seed3-size200-*.npz"))) == 1
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
        ({"overlap": "iou"}, "overlap must be one of"),
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
    boxes, order = data.boxes.numpy(), data.order.numpy()
    assert authors_overlap(placed(boxes, order, 0), placed(boxes, order, 1)).max() <= 0.25


FIRST = np.array([0, 0, 10, 10])  # (top, left, height, width): rows and columns [0, 10), area 100


@pytest.mark.parametrize(
    "second,authors,smaller_box",
    [
        # gaps (rows, cols) = (max of tops - min of bottoms, same for columns); authors = product / 200
        ((5, 5, 10, 10), 25 / 200, 25 / 100),  # intersect 5 x 5: gaps (-5, -5)
        ((0, 0, 10, 10), 100 / 200, 1.0),  # the same box: the authors' maximum is 0.5
        ((2, 3, 4, 5), 20 / 200, 1.0),  # inside the first box: gaps (-4, -5)
        ((12, 13, 10, 10), 6 / 200, 0.0),  # diagonal, apart: gaps (2, 3), positive, "overlap 0" rejects it
        ((5, 14, 10, 10), -20 / 200, 0.0),  # side by side, shared rows: gaps (-5, 4), negative
        ((16, 2, 8, 6), -36 / 200, 0.0),  # stacked, shared columns: gaps (6, -6), negative
        ((10, 4, 10, 10), 0.0, 0.0),  # touching along a row edge: gaps (0, -6)
        ((30, 30, 5, 5), 400 / 200, 0.0),  # far apart on the diagonal: gaps (20, 20), above any bound
    ],
)
def test_overlap_measures_match_hand_computed_cases(second, authors, smaller_box):
    second = np.array(second)
    assert authors_overlap(FIRST, second) == pytest.approx(authors)
    assert smaller_box_overlap(FIRST, second) == pytest.approx(smaller_box)
    assert smaller_box_overlap(second, FIRST) == pytest.approx(smaller_box)
    # vectorised over leading dimensions
    np.testing.assert_allclose(authors_overlap(np.stack([FIRST, FIRST]), np.stack([second, second])), [authors] * 2)


def test_authors_overlap_divides_by_the_first_box_twice():
    small = np.array([2, 3, 4, 5])  # area 20, inside FIRST: intersection 20
    assert authors_overlap(FIRST, small) == pytest.approx(20 / (2 * 100))
    assert authors_overlap(small, FIRST) == pytest.approx(20 / (2 * 20))


def test_authors_overlap_zero_allows_side_by_side_and_rejects_diagonal(mnist_root):
    data = multidigits.load("train", root=mnist_root, max_overlap=0.0, size=400)
    boxes = data.boxes.numpy()
    first, second = boxes[:, 0], boxes[:, 1]
    rows, cols = (np.maximum(first[:, a], second[:, a]) - np.minimum(first[:, a] + first[:, a + 2],
                                                                       second[:, a] + second[:, a + 2]) for a in (0, 1))
    assert not ((rows > 0) & (cols > 0)).any(), "no diagonally separated pair"
    assert not ((rows < 0) & (cols < 0)).any(), "no intersecting pair"
    assert ((rows < 0) & (cols > 0)).any() and ((rows > 0) & (cols < 0)).any(), "side by side and stacked pairs"
