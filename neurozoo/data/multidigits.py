"""Multi-object digits (multi-MNIST) for the kuramoto method: a seeded, vectorised, cached generator.

Each image holds ``n_digits`` (2 or 3) MNIST digits of different classes, taken from the MNIST split
of the same name. A digit is cropped to its bounding box (its non-zero pixels) and placed on a
50 x 50 canvas (the authors' ``int(28 * 1.8)``) as the authors' make_multi_mnist.py places it: the
digits go down in a random order; the first one's top-left corner is uniform in [0, 21]^2
(``range(50 - 28)``), every later one's uniform in [0, 29]^2 (``range(50 - 20)``) among the corners
that keep its box on the canvas, redrawn until ``overlap(earlier, later) <= max_overlap`` for every
earlier digit. Two overlap measures (``overlap=``), on boxes [top, top + height) x [left, left + width):

``"authors"`` (the default; make_multi_mnist.py's ``place_d2``)::

    gap_rows = max(top_1, top_2) - min(bottom_1, bottom_2)      # < 0: the boxes share rows
    gap_cols = max(left_1, left_2) - min(right_1, right_2)      # < 0: the boxes share columns
    overlap  = gap_rows * gap_cols / (2 * area(box_1))          # box_1: the digit placed first

    The product is signed. Boxes that intersect give + intersection / (2 area_1), at most 0.5;
    boxes that share rows but not columns (side by side) or columns but not rows (stacked) give a
    negative value, always accepted; diagonally separated boxes give + the product of the two gaps,
    so "overlap 0" rejects them; touching boxes give 0. The authors' denominator counts the first
    box twice (their ``active_pixels``), so their 0.25 allows intersections up to half the first
    box, and any max_overlap >= 0.5 allows any intersection.

``"smaller_box"`` (this package's first definition)::

    overlap = area(box_1 & box_2) / min(area_1, area_2)          # 0: disjoint boxes, in any direction

For three digits the authors' code has no generator (it "only works with 2 digits"); each new
digit is checked against every earlier one, the earlier one as box_1. An image whose digits cannot
all be placed gets new positions, all of its digits at once.

The canvas is resized to 32 x 32 with bilinear interpolation (align_corners=False, no antialiasing,
as ``F.interpolate`` in the authors' code), applied per digit: the resize is linear, so resizing
each digit's layer and summing equals resizing the sum. All interpolation weights for 50 -> 32 are
multiples of 1/32, so every layer value is an exact float: the output is the same on every machine.
Each layer is rounded to uint8, the image is their sum clipped at 255, and the masks are the
non-zero pixels of each layer. (The authors clip the canvas before the resize, and set every sum
above 250 to 255; where digits overlap, pixels may differ by a few grey levels.) With
``background="cifar10"`` a grayscale CIFAR-10 image of the same split (ITU-R 601 luma) is added
under the digits, again clipped at 255; images stay 1 x 32 x 32 so a model trained on plain digits
can be tested on backgrounds.

Items are ``(image float32 (1, 32, 32) in [0, 1], multi_hot float32 (10,), masks bool (n_digits, 32, 32))``;
``masks[k]`` is the digit of the k-th class present, classes in ascending order (the k-th non-zero
entry of ``multi_hot``); where digits overlap, several masks are true. Without background a pixel is
non-zero exactly where some mask is true.

Generated sets are cached in ``<neurozoo cache>/multidigits/`` (written atomically), keyed by every
parameter and a digest of the source digits, so they are generated once and bit-identical across
runs. ``augment=True`` changes nothing: positions are already random, and any crop would have to
move the masks with the pixels.
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from pathlib import Path

import numpy as np
import torch

from neurozoo.checkpoint import atomic_write_bytes
from neurozoo.data.real import load_arrays
from neurozoo.data.tensors import ImageTensorDataset
from neurozoo.hub import ENV_CACHE, cache_dir
from neurozoo.outputs import writable_folder

GENERATOR_VERSION = 2  # bump when the generated images change, so old caches are not reused
CANVAS = 50
SIZE = 32
DIGIT = 28
FIRST_CORNERS = CANVAS - DIGIT  # the first digit's corner: the authors' range(im_size - 28)
LATER_CORNERS = CANVAS - 20  # every later digit's corner: the authors' range(im_size - 20)
NUM_CLASSES = 10
BACKGROUNDS = (None, "cifar10")
DEFAULT_SIZES = {"train": 60000, "test": 10000}  # the sizes of the MNIST splits
CANDIDATES = 32  # positions tried at once per digit and round
MAX_ROUNDS = 200
CHUNK = 4096
LUMA_PERMILLE = np.array([299, 587, 114])  # ITU-R 601 luma in integers: exact on every machine


class MultiDigitDataset(ImageTensorDataset):
    """An :class:`ImageTensorDataset` with masks, plus, per image and digit (classes in ascending order):
    ``digits`` (N, n_digits) the classes, ``sources`` (N, n_digits) the MNIST indices they come from,
    ``boxes`` (N, n_digits, 4) = (top, left, height, width) of each digit on the 50 x 50 canvas;
    ``order`` (N, n_digits) the placement order: ``order[i, 0]`` is the index of the digit placed first."""

    def __init__(self, images, targets, masks, digits, sources, boxes, order):
        super().__init__(images, targets, masks)
        self.digits = digits
        self.sources = sources
        self.boxes = boxes
        self.order = order


def resize_matrix(source: int = CANVAS, target: int = SIZE) -> np.ndarray:
    """(target, source) matrix of 1-D bilinear interpolation, ``align_corners=False``, no antialiasing."""
    matrix = np.zeros((target, source))
    for i in range(target):
        position = max((i + 0.5) * source / target - 0.5, 0.0)
        low = int(position)
        high = min(low + 1, source - 1)
        matrix[i, low] += 1 - (position - low)
        matrix[i, high] += position - low
    return matrix


def bounding_boxes(digits: np.ndarray) -> np.ndarray:
    """(N, 4) = (top, left, height, width) of the non-zero pixels of (N, H, W) images."""
    rows, cols = digits.any(2), digits.any(1)
    top, left = rows.argmax(1), cols.argmax(1)
    bottom = digits.shape[1] - rows[:, ::-1].argmax(1)
    right = digits.shape[2] - cols[:, ::-1].argmax(1)
    return np.stack([top, left, bottom - top, right - left], 1)


def _gaps(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis gaps between boxes ``(..., 4)`` = (top, left, height, width): negative = shared extent."""
    rows = np.maximum(a[..., 0], b[..., 0]) - np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2])
    cols = np.maximum(a[..., 1], b[..., 1]) - np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3])
    return rows, cols


def authors_overlap(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The authors' signed overlap (module docstring): gap_rows * gap_cols / (2 area(first))."""
    rows, cols = _gaps(first, second)
    return rows * cols / (2 * first[..., 2] * first[..., 3])


def smaller_box_overlap(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Intersection over the smaller box's area (module docstring); symmetric."""
    rows, cols = _gaps(first, second)
    inter = np.clip(-rows, 0, None) * np.clip(-cols, 0, None)
    return inter / np.minimum(first[..., 2] * first[..., 3], second[..., 2] * second[..., 3])


OVERLAPS = {"authors": authors_overlap, "smaller_box": smaller_box_overlap}


def _place(rng: np.random.Generator, sizes: np.ndarray, max_overlap: float, measure) -> np.ndarray:
    """Corners (N, K, 2) for boxes of ``sizes`` (N, K, 2), placed in the order k = 0, 1, ..., with
    ``measure(box_i, box_j) <= max_overlap`` for every i < j."""
    n, k = sizes.shape[:2]
    positions = np.zeros((n, k, 2), dtype=np.int64)
    pending = np.arange(n)
    for _ in range(MAX_ROUNDS):
        if len(pending) == 0:
            return positions
        size = sizes[pending]
        placed = np.ones(len(pending), dtype=bool)
        for j in range(k):
            tries = 1 if j == 0 else CANDIDATES
            # (m, 2): the authors' corner range, within the corners that keep the whole box on the canvas
            high = np.minimum(FIRST_CORNERS if j == 0 else LATER_CORNERS, CANVAS - size[:, j] + 1)
            candidates = rng.integers(0, high[:, None, :], size=(len(pending), tries, 2))
            box = np.concatenate([candidates, np.broadcast_to(size[:, None, j], candidates.shape)], -1)
            ok = np.ones(box.shape[:2], dtype=bool)
            for i in range(j):
                earlier = np.concatenate([positions[pending, i], size[:, i]], -1)[:, None]
                ok &= measure(earlier, box) <= max_overlap
            first = ok.argmax(1)
            placed &= ok.any(1)
            positions[pending, j] = candidates[np.arange(len(pending)), first]
        pending = pending[~placed]
    raise RuntimeError(
        f"could not place the digits of {len(pending)} images with max_overlap={max_overlap} in {MAX_ROUNDS} "
        "rounds; use fewer digits or a larger max_overlap"
    )


def generate(
    mnist_images: np.ndarray,
    mnist_labels: np.ndarray,
    size: int,
    *,
    n_digits: int,
    max_overlap: float,
    seed: int,
    overlap: str = "authors",
    backgrounds: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Generate ``size`` images from MNIST (N, 28, 28) uint8; optional RGB ``backgrounds`` (M, 3, 32, 32) uint8.

    Returns ``images`` (size, 1, 32, 32) uint8, ``digits`` (size, K) int64 ascending, ``sources``
    (size, K) MNIST indices, ``masks`` (size, K, 32, 32) bool, ``boxes`` (size, K, 4) on the canvas
    and ``order`` (size, K) the placement order. Deterministic in ``seed``.
    """
    rng = np.random.default_rng(seed)
    by_class = np.argsort(mnist_labels, kind="stable")
    counts = np.bincount(mnist_labels, minlength=NUM_CLASSES)
    if (counts == 0).any():
        raise ValueError(f"the MNIST source lacks digits of classes {np.flatnonzero(counts == 0).tolist()}")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    crops = bounding_boxes(mnist_images)

    drawn = np.argsort(rng.random((size, NUM_CLASSES)), 1)[:, :n_digits]  # classes, in placement order
    drawn_picks = by_class[starts[drawn] + rng.integers(0, counts[drawn])]  # their MNIST indices
    corners = _place(rng, crops[drawn_picks][..., 2:], max_overlap, OVERLAPS[overlap])
    # from here on, digits in ascending class order (the layout of the masks and the multi-hot target)
    ascending = np.argsort(drawn, 1)
    digits = np.take_along_axis(drawn, ascending, 1)
    picks = np.take_along_axis(drawn_picks, ascending, 1)
    positions = np.take_along_axis(corners, ascending[..., None], 1)
    sizes = crops[picks][..., 2:]
    background_index = rng.integers(0, len(backgrounds), size) if backgrounds is not None else None

    # Digit k's 28 x 28 image shifted by (position - crop corner) on the canvas, then resized:
    # layer = A_y @ digit @ A_x^T with A = the resize matrix's columns for those 28 canvas rows.
    padded = torch.from_numpy(np.pad(resize_matrix(), ((0, 0), (DIGIT, DIGIT)))).float()  # (32, 106)
    shifts = torch.from_numpy(positions - crops[picks][..., :2] + DIGIT)  # (size, K, 2), >= 0 after padding
    window = torch.arange(DIGIT)
    luma = torch.tensor(LUMA_PERMILLE, dtype=torch.int32).view(1, 3, 1, 1)
    images = torch.empty((size, 1, SIZE, SIZE), dtype=torch.uint8)
    masks = torch.empty((size, n_digits, SIZE, SIZE), dtype=torch.bool)
    for start in range(0, size, CHUNK):
        part = slice(start, start + CHUNK)
        a_y = padded[:, shifts[part, :, 0, None] + window].permute(1, 2, 0, 3)  # (n, K, 32, 28)
        a_x = padded[:, shifts[part, :, 1, None] + window].permute(1, 2, 0, 3)
        sources = torch.from_numpy(mnist_images[picks[part]]).float()
        # exact values (see the module docstring), so rounding (half to even) gives the same bytes everywhere
        layers = (a_y @ sources @ a_x.transpose(2, 3)).round().to(torch.int32)
        masks[part] = layers > 0
        total = layers.sum(1)
        if backgrounds is not None:
            rgb = torch.from_numpy(backgrounds[background_index[part]]).to(torch.int32)
            total += ((rgb * luma).sum(1) + 500) // 1000
        images[part, 0] = total.clamp_(max=255).to(torch.uint8)
    boxes = np.concatenate([positions, sizes], -1)
    return {"images": images.numpy(), "digits": digits, "sources": picks, "masks": masks.numpy(), "boxes": boxes,
            "order": np.argsort(ascending, 1)}


def _cache_path(split, size, n_digits, max_overlap, overlap, background, seed, source_digest) -> Path:
    name = (
        f"{split}-n{n_digits}-{overlap}{max_overlap:g}-{background or 'plain'}-seed{seed}-size{size}"
        f"-src{source_digest}-v{GENERATOR_VERSION}.npz"
    )
    return cache_dir() / "multidigits" / name


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    # uncompressed (fast to read) with the masks packed to bits (8x smaller)
    buffer = io.BytesIO()
    np.savez(buffer, **{**arrays, "masks": np.packbits(arrays["masks"], axis=-1)})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())


def _read_cache(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["masks"] = np.unpackbits(arrays["masks"], axis=-1, count=SIZE).astype(bool)
    return arrays


def load(
    split: str,
    root: str | os.PathLike | None = None,
    download: bool = False,
    augment: bool = False,
    *,
    n_digits: int = 2,
    max_overlap: float = 0.0,
    overlap: str = "authors",
    background: str | None = None,
    seed: int = 0,
    size: int | None = None,
) -> MultiDigitDataset:
    """The multi-digit set for ``split`` (train/test); generated once per parameter set, then cached.

    ``size``: how many images to generate (default: as many as the MNIST split has). A smaller set is
    a draw of its own (the digit positions are drawn for all images together), not the first images
    of the full set: for those, take the first items of the full split (as ``neurozoo eval --limit``).
    """
    if split not in DEFAULT_SIZES:
        raise ValueError(f"multi-digit sets have splits {', '.join(DEFAULT_SIZES)}, not {split!r}")
    if n_digits not in (2, 3):
        raise ValueError(f"n_digits must be 2 or 3, got {n_digits!r}")
    if overlap not in OVERLAPS:
        raise ValueError(f"overlap must be one of {tuple(OVERLAPS)} (the overlap measure), got {overlap!r}")
    if not 0 <= max_overlap <= 1:
        raise ValueError(f"max_overlap must be in [0, 1] (a bound on the overlap measure), got {max_overlap!r}")
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {BACKGROUNDS}, got {background!r}")
    size = DEFAULT_SIZES[split] if size is None else size
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive number of images, got {size!r}")

    mnist_images, mnist_labels = load_arrays("mnist", split, root, download)
    mnist = mnist_images[:, 0].numpy()
    source_digest = hashlib.sha256(mnist.tobytes() + mnist_labels.numpy().tobytes()).hexdigest()[:12]
    path = _cache_path(split, size, n_digits, max_overlap, overlap, background, seed, source_digest)
    if path.exists():
        arrays = _read_cache(path)
    else:
        # checked before generating (a minute for a training set), not when the result is written
        writable_folder(path.parent, "the multi-digit cache", f"set {ENV_CACHE} to a writable folder")
        arrays = generate(
            mnist,
            mnist_labels.numpy(),
            size,
            n_digits=n_digits,
            max_overlap=max_overlap,
            # one stream per split, so train and test sets with the same seed are independent
            seed=zlib.crc32(f"{split}:{seed}".encode()),
            overlap=overlap,
            backgrounds=load_arrays(background, split, root, download)[0].numpy() if background else None,
        )
        _write_cache(path, arrays)
    digits = torch.from_numpy(arrays["digits"])
    multi_hot = torch.zeros(len(digits), NUM_CLASSES).scatter_(1, digits, 1.0)
    return MultiDigitDataset(
        torch.from_numpy(arrays["images"]),
        multi_hot,
        torch.from_numpy(arrays["masks"]),
        digits,
        torch.from_numpy(arrays["sources"]),
        torch.from_numpy(arrays["boxes"]),
        torch.from_numpy(arrays["order"]),
    )
