"""Multi-object digits (multi-MNIST) for the kuramoto method: a seeded, vectorised, cached generator.

Each image holds ``n_digits`` (2 or 3) MNIST digits of different classes, taken from the MNIST split
of the same name. A digit is cropped to its bounding box (its non-zero pixels) and placed uniformly at
random on a 50 x 50 canvas (the authors' ``int(28 * 1.8)``), each new digit redrawn until its box
overlaps every earlier box by at most ``max_overlap``, where

    overlap(a, b) = area(box_a & box_b) / min(area(box_a), area(box_b))

(the fraction of the smaller box covered: 0 = disjoint boxes, 0.5 = at most half of either box
covered). The authors' make_multi_mnist.py divides by the sum of the two box areas instead (and
counts the first box twice), so their 0.5 allows any overlap; this measure makes each bound bite.
An image whose digits cannot all be placed is redrawn as a whole.

The canvas is resized to 32 x 32 with bilinear interpolation (align_corners=False, no antialiasing,
as ``F.interpolate`` in the authors' code), applied per digit: the resize is linear, so resizing
each digit's layer and summing equals resizing the sum. All interpolation weights for 50 -> 32 are
multiples of 1/32, so every layer value is an exact float: the output is the same on every machine.
Each layer is rounded to uint8, the image is their sum clipped at 255, and the masks are the
non-zero pixels of each layer. With ``background="cifar10"`` a grayscale CIFAR-10 image of the same
split (ITU-R 601 luma) is added under the digits, again clipped at 255; images stay 1 x 32 x 32 so a
model trained on plain digits can be tested on backgrounds.

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
from neurozoo.hub import cache_dir

GENERATOR_VERSION = 1  # bump when the generated images change, so old caches are not reused
CANVAS = 50
SIZE = 32
DIGIT = 28
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
    ``boxes`` (N, n_digits, 4) = (top, left, height, width) of each digit on the 50 x 50 canvas."""

    def __init__(self, images, targets, masks, digits, sources, boxes):
        super().__init__(images, targets, masks)
        self.digits = digits
        self.sources = sources
        self.boxes = boxes


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


def box_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Overlap (see the module docstring) of boxes ``(..., 4)`` = (top, left, height, width)."""
    height = np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    width = np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = np.clip(height, 0, None) * np.clip(width, 0, None)
    return inter / np.minimum(a[..., 2] * a[..., 3], b[..., 2] * b[..., 3])


def _place(rng: np.random.Generator, sizes: np.ndarray, max_overlap: float) -> np.ndarray:
    """Positions (N, K, 2) for boxes of ``sizes`` (N, K, 2) with pairwise overlap <= ``max_overlap``."""
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
            high = CANVAS - size[:, j] + 1  # (m, 2): positions keep the whole box on the canvas
            candidates = rng.integers(0, high[:, None, :], size=(len(pending), tries, 2))
            box = np.concatenate([candidates, np.broadcast_to(size[:, None, j], candidates.shape)], -1)
            ok = np.ones(box.shape[:2], dtype=bool)
            for i in range(j):
                earlier = np.concatenate([positions[pending, i], size[:, i]], -1)[:, None]
                ok &= box_overlap(box, earlier) <= max_overlap
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
    backgrounds: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Generate ``size`` images from MNIST (N, 28, 28) uint8; optional RGB ``backgrounds`` (M, 3, 32, 32) uint8.

    Returns ``images`` (size, 1, 32, 32) uint8, ``digits`` (size, K) int64 ascending, ``sources``
    (size, K) MNIST indices, ``masks`` (size, K, 32, 32) bool and ``boxes`` (size, K, 4) on the canvas.
    Deterministic in ``seed``.
    """
    rng = np.random.default_rng(seed)
    order = np.argsort(mnist_labels, kind="stable")
    counts = np.bincount(mnist_labels, minlength=NUM_CLASSES)
    if (counts == 0).any():
        raise ValueError(f"the MNIST source lacks digits of classes {np.flatnonzero(counts == 0).tolist()}")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    crops = bounding_boxes(mnist_images)

    digits = np.sort(np.argsort(rng.random((size, NUM_CLASSES)), 1)[:, :n_digits], 1)
    picks = order[starts[digits] + rng.integers(0, counts[digits])]  # (size, K) MNIST indices
    sizes = crops[picks][..., 2:]
    positions = _place(rng, sizes, max_overlap)
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
    return {"images": images.numpy(), "digits": digits, "sources": picks, "masks": masks.numpy(), "boxes": boxes}


def _cache_path(split, size, n_digits, max_overlap, background, seed, source_digest) -> Path:
    name = (
        f"{split}-n{n_digits}-o{max_overlap:g}-{background or 'plain'}-seed{seed}-size{size}"
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
    background: str | None = None,
    seed: int = 0,
    size: int | None = None,
) -> MultiDigitDataset:
    """The multi-digit set for ``split`` (train/test); generated once per parameter set, then cached."""
    if split not in DEFAULT_SIZES:
        raise ValueError(f"multi-digit sets have splits {', '.join(DEFAULT_SIZES)}, not {split!r}")
    if n_digits not in (2, 3):
        raise ValueError(f"n_digits must be 2 or 3, got {n_digits!r}")
    if not 0 <= max_overlap <= 1:
        raise ValueError(f"max_overlap must be in [0, 1] (fraction of the smaller box), got {max_overlap!r}")
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {BACKGROUNDS}, got {background!r}")
    size = DEFAULT_SIZES[split] if size is None else size
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive number of images, got {size!r}")

    mnist_images, mnist_labels = load_arrays("mnist", split, root, download)
    mnist = mnist_images[:, 0].numpy()
    source_digest = hashlib.sha256(mnist.tobytes() + mnist_labels.numpy().tobytes()).hexdigest()[:12]
    path = _cache_path(split, size, n_digits, max_overlap, background, seed, source_digest)
    if path.exists():
        arrays = _read_cache(path)
    else:
        arrays = generate(
            mnist,
            mnist_labels.numpy(),
            size,
            n_digits=n_digits,
            max_overlap=max_overlap,
            # one stream per split, so train and test sets with the same seed are independent
            seed=zlib.crc32(f"{split}:{seed}".encode()),
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
    )
