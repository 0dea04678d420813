"""Datasets: real data from .npz folders or torchvision layouts, multi-object digits, corruptions.

Datasets are registered records (``neurozoo.get_dataset(name)``, listed in :mod:`neurozoo.data.catalog`);
``record.load(split, root=None, download=False, augment=False, **options)`` returns an
:class:`ImageTensorDataset` (uint8 images decoded once, served as float [0, 1] tensors). Where files
are looked for: :mod:`neurozoo.data.real`; multi-object digits: :mod:`neurozoo.data.multidigits`;
corruptions for robustness tests: :mod:`neurozoo.data.corruptions`.
"""

from neurozoo.data.corruptions import CORRUPTIONS, SEVERITIES, corrupt
from neurozoo.data.files import DataIntegrityError, DataNotFoundError, data_root
from neurozoo.data.tensors import ImageTensorDataset, RandomCropFlip

__all__ = [
    "CORRUPTIONS",
    "SEVERITIES",
    "DataIntegrityError",
    "DataNotFoundError",
    "ImageTensorDataset",
    "RandomCropFlip",
    "corrupt",
    "data_root",
]
