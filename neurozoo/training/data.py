"""Batches for training and test evaluation, reproducible from (seed, epoch) alone.

- The order of an epoch is ``DistributedSampler(seed=seed).set_epoch(epoch)`` (one replica when
  not distributed), so it depends on nothing but (seed, epoch, world size).
- Random augmentation draws from torch's CPU generator re-seeded with (seed, epoch, first index
  of the batch) for datasets that augment whole batches (``__getitems__``, as
  ``neurozoo.data`` does), or (seed, epoch, index) per sample otherwise, and restored afterwards.
  So it is the same with 0 or N loader workers and after a resume mid-epoch, and it never
  disturbs the random stream of the model (dropout, ...).

Together these let a run resume from any saved step and end with the same weights.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from neurozoo.training.distributed import DistInfo


class SeededAugmentation(Dataset):
    """``dataset[i]`` (or a batch of items) with torch's CPU random stream fixed by (seed, epoch, index)."""

    def __init__(self, dataset: Dataset, seed: int):
        self.dataset = dataset
        self.seed = seed
        self.epoch = 0  # set before each epoch's loader is created (workers copy it then)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        with self._seeded(index):
            return self.dataset[index]

    def __getitems__(self, indices: list[int]) -> list:
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems is None:
            return [self[i] for i in indices]
        with self._seeded(indices[0]):
            return getitems(indices)

    @contextlib.contextmanager
    def _seeded(self, index: int):
        sample_seed = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(1)[0]
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(int(sample_seed))
            yield


def first(dataset: Dataset, limit: int | None) -> Dataset:
    """The first ``limit`` samples (all when ``limit`` is None or larger than the set)."""
    if limit is None or limit >= len(dataset):
        return dataset
    return Subset(dataset, range(limit))


class TrainBatches:
    """The training batches of each epoch for this process; ``loader(epoch, start)`` skips
    the first ``start`` batches (a resume mid-epoch) without loading them."""

    def __init__(self, dataset: Dataset, *, batch_size: int, seed: int, info: DistInfo,
                 num_workers: int = 0, pin_memory: bool = False):
        self.data = SeededAugmentation(dataset, seed)
        self.sampler = DistributedSampler(dataset, num_replicas=info.world_size, rank=info.rank,
                                          shuffle=True, seed=seed)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        if len(self.sampler) < batch_size:
            raise ValueError(
                f"each process has {len(self.sampler)} training images, fewer than one batch of {batch_size}: "
                "lower --batch-size or raise --limit"
            )

    def __len__(self) -> int:
        """Batches per epoch (the last partial batch is dropped: BatchNorm needs > 1 sample)."""
        return len(self.sampler) // self.batch_size

    def loader(self, epoch: int, start: int = 0) -> DataLoader:
        self.sampler.set_epoch(epoch)
        self.data.epoch = epoch
        indices = list(self.sampler)[start * self.batch_size:]
        return DataLoader(
            self.data,
            batch_size=self.batch_size,
            sampler=indices,
            drop_last=True,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            # a private generator: creating a loader must not draw from the global random stream
            generator=torch.Generator(),
        )


def eval_loader(dataset: Dataset, *, batch_size: int, info: DistInfo, num_workers: int = 0,
                pin_memory: bool = False) -> DataLoader:
    """Every test sample exactly once over all processes (strided shards, no padding)."""
    shard = Subset(dataset, range(info.rank, len(dataset), info.world_size))
    return DataLoader(shard, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                      pin_memory=pin_memory)
