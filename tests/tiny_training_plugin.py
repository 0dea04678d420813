"""A tiny dataset and conv net for the training-engine tests (no real data, a few ms per step).

Register in-process with ``neurozoo.plugins.register(TinyTrainingPlugin(), name=...)``, or run as a
script, which registers the plugin and then runs the ``neurozoo`` command line:

    python tests/tiny_training_plugin.py train baseline --arch tiny_cnn --dataset tiny_quadrants ...

Script-only environment variables: ``TINY_BATCH_DELAY`` (seconds to sleep per training batch, so a
test can signal a run mid-epoch) and ``TINY_DUMP_DIR`` (write this process's final weights to
``rank<RANK>.safetensors`` there, so a test can compare the ranks of a torchrun job).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import torch
from torch import nn

from neurozoo import Architecture, Dataset, hookimpl
from neurozoo.data.tensors import ImageTensorDataset, RandomCropFlip

ARCH = "tiny_cnn"
DATASET = "tiny_quadrants"
CLASSES = ("top_left", "top_right", "bottom_left", "bottom_right")
SIZE = 8
BUILT: list[nn.Module] = []  # every net built in this process (the script dumps the last one)


class TinyCNN(nn.Module):
    """conv-BN-ReLU, global pool, dropout (so resume must restore the random stream), linear."""

    def __init__(self, num_classes: int, in_chans: int = 3, width: int = 8):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_chans, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1, stride=2), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Dropout(0.1),
        )
        self.head = nn.Linear(width * 4, num_classes)
        BUILT.append(self)

    def embed(self, x):
        return self.body(x)

    def classify(self, z):
        return self.head(z)


class SlowDataset(ImageTensorDataset):
    def __getitems__(self, indices):
        time.sleep(float(os.environ.get("TINY_BATCH_DELAY", "0")))
        return super().__getitems__(indices)


def load(split: str, root=None, download: bool = False, augment: bool = False):
    """A bright 4x4 square in the quadrant named by the class, on noise; 256 train / 64 test images."""
    n = 256 if split == "train" else 64
    rng = np.random.default_rng(0 if split == "train" else 1)
    labels = rng.integers(0, len(CLASSES), n)
    images = rng.integers(0, 120, (n, 3, SIZE, SIZE))
    for i, label in enumerate(labels):
        top, left = 4 * (label // 2), 4 * (label % 2)
        images[i, :, top:top + 4, left:left + 4] += 120
    data = SlowDataset if split == "train" else ImageTensorDataset
    return data(torch.from_numpy(images.astype(np.uint8)), torch.from_numpy(labels),
                augment=RandomCropFlip(padding=1, flip=False) if augment else None)


class TinyTrainingPlugin:
    @hookimpl
    def register_architectures(self, register):
        register(Architecture(ARCH, TinyCNN, input_size=(3, SIZE, SIZE), description="test conv net"))

    @hookimpl
    def register_datasets(self, register):
        register(Dataset(DATASET, load, num_classes=len(CLASSES), class_names=CLASSES, mean=(0.5,) * 3,
                         std=(0.25,) * 3, input_size=(3, SIZE, SIZE), description="test images"))


if __name__ == "__main__":
    from safetensors.torch import save_file

    from neurozoo import cli, plugins

    plugins.register(TinyTrainingPlugin(), name="tiny_training")
    code = cli.main(sys.argv[1:])
    dump = os.environ.get("TINY_DUMP_DIR")
    if dump and BUILT:
        state = {k: v.detach().contiguous() for k, v in BUILT[-1].state_dict().items()}
        save_file(state, os.path.join(dump, f"rank{os.environ.get('RANK', '0')}.safetensors"))
    sys.exit(code)
