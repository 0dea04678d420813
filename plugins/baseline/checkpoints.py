"""Checkpoint records of the baseline plugin (declarative; ``tests/test_checkpoint_records.py``
checks every record against its files, evaluation JSON and card in ``model_cards/<name>/``)."""

from neurozoo import Checkpoint

CHECKPOINTS = (
    Checkpoint(
        method="baseline",
        arch="resnet18",
        dataset="cifar10",
        repo_id="neurozoo/baseline-resnet18-cifar10",
        files={
            "model.safetensors": "804720531a1859520970f879c114da0434461e84b2d7aed9ca7863a7536951a1",
            "config.json": "37c550170c3b62802ffa28187c5bb8d4a6c3a0ce156a70bfca316373e51cf5a1",
        },
        metrics={"top1": 0.4733},
        description=(
            "1 epoch of the default recipe on CIFAR-10 (CPU); the weights ship in this repository's "
            "model_cards/ folder and are not on the Hub yet"
        ),
    ),
)
