"""In-memory image datasets: uint8 tensors decoded once, augmented per batch, served as float [0, 1].

A ``DataLoader`` with automatic batching calls :meth:`ImageTensorDataset.__getitems__` with a whole
batch of indices (``torch.utils.data.Subset`` forwards it too), so augmentation and the uint8 ->
float conversion run once per batch instead of once per image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.utils.data import Dataset as TorchDataset
from torchvision.transforms import v2

# images (B, C, H, W) uint8 -> augmented images (B, C, H, W) uint8
BatchAugment = Callable[[torch.Tensor], torch.Tensor]


class RandomCropFlip:
    """Per-image ``v2.RandomCrop(size, padding, fill=0)`` + optional ``v2.RandomHorizontalFlip()`` on a batch.

    torchvision.transforms.v2 draws one set of parameters per call, so applied to a batch it crops
    every image the same way, and called image by image it costs about 0.1 ms each (too slow to feed
    a GPU from two workers). This draws an offset and a flip per image from torch's global generator
    (seeded per DataLoader worker) and crops all images with one gather.
    """

    def __init__(self, padding: int, flip: bool = True):
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        self.padding = padding
        self.flip = flip

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        n, c, h, w = images.shape
        p = self.padding
        padded = torch.nn.functional.pad(images, (p, p, p, p))
        top = torch.randint(0, 2 * p + 1, (n, 1, 1))
        left = torch.randint(0, 2 * p + 1, (n, 1, 1))
        cols = torch.arange(w).expand(n, 1, w)
        if self.flip:
            cols = torch.where(torch.rand(n, 1, 1) < 0.5, cols.flip(2), cols)
        # flat index into each padded (h + 2p) x (w + 2p) plane; one gather is ~6x faster than
        # advanced indexing with four broadcast index tensors
        index = (top + torch.arange(h).view(1, h, 1)) * (w + 2 * p) + left + cols
        index = index.view(n, 1, h * w).expand(n, c, h * w)
        return padded.view(n, c, -1).gather(2, index).view(n, c, h, w)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(padding={self.padding}, flip={self.flip})"


class Cutout:
    """Blanks one random ``size`` x ``size`` square per image (DeVries & Taylor 2017, arXiv:1708.04552).

    As in the paper the square's centre is uniform over the image, so near a border only part of it
    falls inside, and it is filled with the dataset mean (``fill``, one uint8 value per channel), which
    is 0 after the model's normalisation. Drawn per image from torch's global generator, for the
    reason given in :class:`RandomCropFlip` (``v2.RandomErasing`` draws one box per call).
    """

    def __init__(self, size: int, fill: Sequence[int]):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"cutout size must be a positive int, got {size!r}")
        self.size = size
        self.fill = tuple(fill)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        n, c, h, w = images.shape
        if len(self.fill) != c:
            raise ValueError(f"cutout fill has {len(self.fill)} value(s) for {c}-channel images")
        top = torch.randint(0, h, (n, 1, 1)) - self.size // 2
        left = torch.randint(0, w, (n, 1, 1)) - self.size // 2
        rows = torch.arange(h).view(1, h, 1) - top
        cols = torch.arange(w).view(1, 1, w) - left
        square = (rows >= 0) & (rows < self.size) & (cols >= 0) & (cols < self.size)  # (n, h, w)
        fill = torch.tensor(self.fill, dtype=images.dtype).view(1, c, 1, 1)
        return torch.where(square.unsqueeze(1), fill, images)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, fill={self.fill})"


class ImageTensorDataset(TorchDataset):
    """Images held as one uint8 (N, C, H, W) tensor, with targets and optional per-object masks.

    Items are ``(image float32 (C, H, W) in [0, 1], target)`` or, with masks,
    ``(image, target, masks)``. ``images``, ``targets`` and ``masks`` stay public so evaluation
    code can work on whole tensors.
    """

    def __init__(
        self,
        images: torch.Tensor,
        targets: torch.Tensor,
        masks: torch.Tensor | None = None,
        augment: BatchAugment | None = None,
    ):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if len(targets) != len(images) or (masks is not None and len(masks) != len(images)):
            raise ValueError(
                f"{len(images)} images but {len(targets)} targets"
                + ("" if masks is None else f" and {len(masks)} masks")
            )
        self.images = images
        self.targets = targets
        self.masks = masks
        self.augment = augment

    def __len__(self) -> int:
        return len(self.images)

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, ...]]:
        index = torch.as_tensor(indices, dtype=torch.long)
        images = self.images[index]
        if self.augment is not None:
            images = self.augment(images)
        columns = [images.float().div_(255), self.targets[index]]
        if self.masks is not None:
            columns.append(self.masks[index])
        return list(zip(*(column.unbind(0) for column in columns)))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        return self.__getitems__([index])[0]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n={len(self)}, image_shape={tuple(self.images.shape[1:])}, "
            f"masks={self.masks is not None}, augment={self.augment!r})"
        )


def with_cutout(dataset: TorchDataset, size: int, mean: Sequence[float]) -> ImageTensorDataset:
    """``dataset`` (an augmented :class:`ImageTensorDataset`) with :class:`Cutout` after its augmentation;
    ``mean`` is the dataset's per-channel mean in [0, 1], the fill."""
    if not isinstance(dataset, ImageTensorDataset) or dataset.augment is None:
        raise ValueError(f"cutout needs a dataset that augments whole batches of images, got {dataset!r}; "
                         "train without --cutout")
    side = min(dataset.images.shape[2:])
    if size > side:
        raise ValueError(f"cutout {size} is larger than the {side}-pixel images; give --cutout {side} or less")
    cutout = Cutout(size, fill=[round(m * 255) for m in mean])
    dataset.augment = v2.Compose([dataset.augment, cutout])  # calls plain callables in turn
    return dataset
