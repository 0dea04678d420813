"""A validation split held out of the training set, and the choice of the published weights.

The split is drawn once per run from (seed, number of training images, fraction): the same
seed gives the same split, so arms of a comparison trained with one seed see the same training
and validation images. It is applied after ``limit`` (``--limit 10000 --val-fraction 0.1`` trains
on 9,000 of the first 10,000 images and validates on the other 1,000), is never drawn from the
test set, and its images are read without augmentation.

``select="best"`` publishes the weights of the epoch with the best validation score (top-1 for
multiclass sets, exact-set accuracy for multi-label sets; the earliest epoch wins a tie) instead
of the last epoch's.
"""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset, Subset

from neurozoo.errors import ConfigError

SELECTIONS = ("last", "best")
# the per-epoch validation metric that "best" maximises, per dataset task
CRITERION = {"multiclass": "val_top1", "multilabel": "val_exact_set"}
# a fixed word mixed into the seed, so the split does not reuse the stream of the data order
_SPLIT_STREAM = 0x5EED_0F_5A1


def check_validation(val_fraction: float | None, select: str | None) -> None:
    """Refuse values that cannot make a split or a choice, before any data is read."""
    if val_fraction is not None and (
        isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1
    ):
        raise ConfigError(f"val_fraction must be a number between 0 and 1 (e.g. 0.1), got {val_fraction!r}")
    if select is not None and select not in SELECTIONS:
        raise ConfigError(f"select must be one of {SELECTIONS}, got {select!r}")
    if select == "best" and val_fraction is None:
        raise ConfigError("select='best' picks the epoch by its validation score: also give val_fraction "
                          "(e.g. --val-fraction 0.1)")


def split_indices(size: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, validation) indices of a set of ``size`` images, each sorted, disjoint, seeded."""
    count = round(size * fraction)
    if not 0 < count < size:
        raise ConfigError(f"val_fraction {fraction} of {size} training images leaves an empty split; "
                          "choose a fraction that keeps images on both sides")
    order = np.random.default_rng([seed, size, _SPLIT_STREAM]).permutation(size)
    return sorted(order[count:].tolist()), sorted(order[:count].tolist())


def split_train_val(train: Dataset, plain: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """The training part of ``train`` (augmented) and the validation part of ``plain`` (the same
    images without augmentation)."""
    if len(train) != len(plain):
        raise ValueError(f"augmented and plain training sets differ in size ({len(train)} vs {len(plain)})")
    train_indices, val_indices = split_indices(len(train), fraction, seed)
    return Subset(train, train_indices), Subset(plain, val_indices)


class BestEpoch:
    """The best validation score so far and its epoch (resumable through ``state_dict``)."""

    def __init__(self, criterion: str, epoch: int | None = None, score: float | None = None):
        self.criterion = criterion
        self.epoch = epoch
        self.score = score

    def offer(self, epoch: int, record: dict) -> bool:
        """True when ``record`` (one epoch's metrics) beats every earlier epoch."""
        score = record[self.criterion]
        if self.score is not None and score <= self.score:
            return False
        self.epoch, self.score = epoch, score
        return True

    def state_dict(self) -> dict:
        return {"criterion": self.criterion, "epoch": self.epoch, "score": self.score}

    @classmethod
    def from_state(cls, state: dict) -> BestEpoch:
        return cls(state["criterion"], state["epoch"], state["score"])
