"""Real image datasets: find a split in the data root, decode it once, serve it from memory.

Sources, in order, all under the data root (see :func:`neurozoo.data.files.data_root`):

1. the ``.npz`` + ``manifest.json`` layout of the shared offline data (sha256-verified);
2. the dataset's standard torchvision layout (``MNIST/raw``, ``FashionMNIST/raw``,
   ``cifar-10-batches-py``, ``cifar-100-python``, ``<split>_32x32.mat``), read by the torchvision
   dataset class, which downloads only when ``download=True``; Tiny ImageNet has no torchvision
   class: its standard ``tiny-imagenet-200/`` folder is read directly;
3. Fashion-MNIST only: the IDX files of the Debian package ``dataset-fashion-mnist``
   (``/usr/share/datasets/fashion-mnist``).

A split found nowhere raises :class:`~neurozoo.data.files.DataNotFoundError` listing every path tried.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from neurozoo.data.files import (
    DataIntegrityError,
    DataNotFoundError,
    data_root,
    manifest_entry,
    read_idx_gz,
    read_npz,
)
from neurozoo.data.tensors import BatchAugment, ImageTensorDataset

FASHION_MNIST_DEBIAN = Path("/usr/share/datasets/fashion-mnist")

Arrays = tuple[torch.Tensor, torch.Tensor]  # images uint8 (N, C, H, W), labels int64 (N,)
# (data root, split, download) -> arrays, or a line saying what was looked for and why it failed
Source = Callable[[Path, str, bool], "Arrays | str"]


def _from_nhwc(images: np.ndarray, labels: np.ndarray) -> Arrays:
    # a copy: the decoded arrays are cached read-only and shared by every load of the same file
    return torch.from_numpy(images.transpose(0, 3, 1, 2).copy()), torch.from_numpy(labels.copy())


def _torchvision(class_name: str, layout: str, to_arrays: Callable[[object], Arrays]) -> Source:
    """A source reading torchvision's ``class_name`` from its standard ``layout`` under the root."""

    def load(root: Path, split: str, download: bool) -> Arrays | str:
        from torchvision import datasets

        cls = getattr(datasets, class_name)
        split_arg = {"split": split} if class_name == "SVHN" else {"train": split == "train"}
        try:
            dataset = cls(str(root), download=download, **split_arg)
        except (RuntimeError, OSError) as exc:  # files missing or corrupted; download failed
            what = "download failed" if download else "not found (pass download=True to fetch it)"
            return f"{root / layout.format(split=split)}: torchvision {class_name} layout {what}: {exc}"
        return to_arrays(dataset)

    return load


def _mnist_like(dataset) -> Arrays:
    return dataset.data.unsqueeze(1).contiguous(), dataset.targets.long()


def _cifar_like(dataset) -> Arrays:
    return _from_nhwc(dataset.data, np.asarray(dataset.targets, dtype=np.int64))


def _svhn(dataset) -> Arrays:
    return torch.from_numpy(dataset.data), torch.from_numpy(dataset.labels.astype(np.int64))


def _fashion_mnist_debian(root: Path, split: str, download: bool) -> Arrays | str:
    prefix = "train" if split == "train" else "t10k"
    images_path = FASHION_MNIST_DEBIAN / f"{prefix}-images-idx3-ubyte.gz"
    labels_path = FASHION_MNIST_DEBIAN / f"{prefix}-labels-idx1-ubyte.gz"
    if not (images_path.exists() and labels_path.exists()):
        return f"{images_path} (+ labels): not found (apt-get install dataset-fashion-mnist)"
    images = torch.from_numpy(read_idx_gz(images_path).copy()).unsqueeze(1)
    labels = torch.from_numpy(read_idx_gz(labels_path).astype(np.int64))
    return images, labels


def _tinyimagenet_folder(root: Path, split: str, download: bool) -> Arrays | str:
    """The standard ``tiny-imagenet-200`` folder: ``train/<wnid>/images/*.JPEG``; test = the labelled ``val``."""
    from PIL import Image

    from neurozoo.data.class_names import TINYIMAGENET_WNIDS

    folder = root / "tiny-imagenet-200"
    label_of = {wnid: i for i, wnid in enumerate(TINYIMAGENET_WNIDS)}
    if split == "train":
        files = sorted((folder / "train").glob("n*/images/*.JPEG"))
        labels = [label_of[f.parent.parent.name] for f in files]
    else:
        annotations = folder / "val" / "val_annotations.txt"
        if not annotations.exists():
            return f"{annotations}: not found (standard Tiny ImageNet folder, tiny-imagenet-200.zip)"
        rows = [line.split("\t") for line in annotations.read_text().splitlines() if line.strip()]
        files = [folder / "val" / "images" / row[0] for row in rows]
        labels = [label_of[row[1]] for row in rows]
    if not files:
        return f"{folder / 'train'}: no images found (standard Tiny ImageNet folder, tiny-imagenet-200.zip)"

    def rgb(path: Path) -> np.ndarray:
        with Image.open(path) as image:  # some Tiny ImageNet JPEGs are grayscale
            return np.asarray(image.convert("RGB"))

    images = np.stack([rgb(f) for f in files])
    return _from_nhwc(images, np.asarray(labels, dtype=np.int64))


FALLBACKS: dict[str, tuple[Source, ...]] = {  # sources after the .npz layout, in order
    "mnist": (_torchvision("MNIST", "MNIST/raw", _mnist_like),),
    "fashion_mnist": (_torchvision("FashionMNIST", "FashionMNIST/raw", _mnist_like), _fashion_mnist_debian),
    "cifar10": (_torchvision("CIFAR10", "cifar-10-batches-py", _cifar_like),),
    "cifar100": (_torchvision("CIFAR100", "cifar-100-python", _cifar_like),),
    "svhn": (_torchvision("SVHN", "{split}_32x32.mat", _svhn),),
    "tinyimagenet": (_tinyimagenet_folder,),
}


HOW_TO_TORCHVISION = "or the torchvision files (download=True fetches them there when a network is reachable)"
HOW_TO = {
    "fashion_mnist": HOW_TO_TORCHVISION + ", or apt-get install dataset-fashion-mnist",
    "tinyimagenet": "or unzip the standard tiny-imagenet-200.zip there (train and test = its val set)",
}


def load_arrays(name: str, split: str, root: str | os.PathLike | None = None, download: bool = False) -> Arrays:
    """``(images uint8 (N, C, H, W), labels int64)`` of ``name``/``split`` from the first source holding it."""
    folder = data_root(root)
    found = manifest_entry(folder, name, split)
    if isinstance(found, tuple):
        return _from_nhwc(*read_npz(*found))
    tried = [found]
    for source in FALLBACKS.get(name, ()):
        found = source(folder, split, download)
        if not isinstance(found, str):
            return found
        tried.append(found)
    origin = "root argument" if root is not None else (
        "$NEUROZOO_DATA" if os.environ.get("NEUROZOO_DATA") else "default; set $NEUROZOO_DATA or pass root=")
    raise DataNotFoundError(
        f"dataset {name!r} split {split!r} not found in data root {folder} ({origin}). Tried:\n  - "
        + "\n  - ".join(tried)
        + f"\nTo get it: put {name}_{split}.npz and its manifest.json entry in that folder (the layout of the "
        f"shared offline data), {HOW_TO.get(name, HOW_TO_TORCHVISION)}"
    )


def load_split(
    name: str,
    split: str,
    root: str | os.PathLike | None = None,
    download: bool = False,
    augment: bool = False,
    *,
    input_size: tuple[int, int, int],
    splits: Sequence[str],
    train_augment: BatchAugment | None,
) -> ImageTensorDataset:
    """A real dataset split as an :class:`ImageTensorDataset`; ``augment=True`` applies ``train_augment``."""
    if split not in splits:
        raise ValueError(f"dataset {name!r} has no split {split!r}; splits: {', '.join(splits)}")
    images, labels = load_arrays(name, split, root, download)
    if tuple(images.shape[1:]) != tuple(input_size):
        raise DataIntegrityError(
            f"dataset {name!r} split {split!r}: images are {tuple(images.shape[1:])} (C, H, W), expected "
            f"{tuple(input_size)}; the file holds another dataset or a resized copy"
        )
    return ImageTensorDataset(images, labels, augment=train_augment if augment else None)
