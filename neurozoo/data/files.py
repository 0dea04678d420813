"""Where dataset files live and how they are read: the data root, the ``.npz`` + manifest layout, IDX.

The data root is ``root`` when given, else ``$NEUROZOO_DATA``, else ``<neurozoo cache>/data`` (where
``download=True`` puts torchvision's files). The preferred layout in it is the one of the shared
offline data: ``manifest.json`` maps ``<dataset>`` -> ``splits`` -> ``<split>`` -> ``{"file", "sha256"}``
and each file is an ``.npz`` with ``images`` (uint8, N x H x W x C) and ``labels`` (int64, N).

Every file is checked against its manifest sha256 before its first use; :func:`neurozoo.hub.file_sha256`
remembers verified hashes keyed by the file's stat, so the 140 MB CIFAR-10 archive is hashed once,
not on every load.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
from pathlib import Path

import numpy as np

from neurozoo.errors import NeurozooError, OfflineError
from neurozoo.hub import cache_dir, file_sha256

ENV_DATA = "NEUROZOO_DATA"
MANIFEST_NAME = "manifest.json"


class DataNotFoundError(OfflineError, FileNotFoundError):
    """No source holds the requested dataset split; the message lists every path tried."""


class DataIntegrityError(NeurozooError):
    """A dataset file whose sha256, shape or dtype differs from what its manifest promises."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder datasets are read from: ``root``, else ``$NEUROZOO_DATA``, else ``<cache>/data``."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get(ENV_DATA):
        return Path(os.environ[ENV_DATA]).expanduser()
    return cache_dir() / "data"


def manifest_entry(root: Path, dataset: str, split: str) -> tuple[Path, str] | str:
    """``(file, sha256)`` of ``dataset``/``split`` in ``root``'s manifest, or why there is none."""
    manifest_path = root / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        return f"{manifest_path}: not found"
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataIntegrityError(f"{manifest_path} is not valid JSON ({exc}); restore the file") from None
    entry = manifest.get(dataset, {}).get("splits", {}).get(split)
    if entry is None:
        return f"{manifest_path}: no entry for {dataset!r} split {split!r}"
    path = root / entry["file"]
    if not path.exists():
        return f"{path}: listed in {manifest_path} but missing"
    return path, entry["sha256"]


def read_npz(path: Path, sha256: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images NHWC uint8, labels int64)`` of a verified ``.npz``; decoded once per process."""
    actual = file_sha256(path)
    if actual != sha256:
        raise DataIntegrityError(
            f"{path} has sha256 {actual}, but {path.parent / MANIFEST_NAME} expects {sha256} (truncated, "
            "modified or replaced file); copy the file again from its source or fix the manifest entry"
        )
    st = path.stat()
    return _read_npz_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read_npz_cached(path: str, size: int, mtime_ns: int) -> tuple[np.ndarray, np.ndarray]:
    # size and mtime are part of the key so that a replaced file is read again
    with np.load(path, allow_pickle=False) as archive:
        missing = {"images", "labels"} - set(archive.files)
        if missing:
            raise DataIntegrityError(f"{path} lacks the arrays {sorted(missing)}; it needs 'images' and 'labels'")
        images, labels = archive["images"], archive["labels"]
    if images.dtype != np.uint8 or images.ndim != 4:
        raise DataIntegrityError(
            f"{path}: 'images' must be uint8 N x H x W x C, got {images.dtype} with shape {images.shape}"
        )
    if labels.ndim != 1 or len(labels) != len(images) or not np.issubdtype(labels.dtype, np.integer):
        raise DataIntegrityError(
            f"{path}: 'labels' must be {len(images)} integers, got {labels.dtype} with shape {labels.shape}"
        )
    images.flags.writeable = False  # shared between datasets loaded from the same file
    return images, labels.astype(np.int64)


def read_idx_gz(path: Path) -> np.ndarray:
    """A gzipped IDX file (the original MNIST / Fashion-MNIST format) of unsigned bytes."""
    data = gzip.decompress(path.read_bytes())
    magic = int.from_bytes(data[:4], "big")
    if magic >> 8 != 0x08:  # 0x00 0x00 0x08 <ndim>: unsigned byte data
        raise DataIntegrityError(f"{path} is not an unsigned-byte IDX file (magic number {magic:#010x})")
    ndim = magic & 0xFF
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise DataIntegrityError(f"{path} holds {array.size} bytes for shape {shape} (truncated file?)")
    return array.reshape(shape)
