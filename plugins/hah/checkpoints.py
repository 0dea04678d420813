"""Checkpoint records of the hah plugin (declarative; ``tests/test_checkpoint_records.py`` checks every
published record against its files, evaluation JSON and card in ``model_cards/<name>/``).

``hah-hah_vgg16-cifar10`` stays planned until the issue-23 pair (``scripts/zoo/hah_vgg16_cifar10.sh``) has
been evaluated and exported; its baseline, the authors' standard VGG-16 trained with the same recipe, is
``baseline-vgg16_std-cifar10`` of the baseline plugin.
"""

from neurozoo import Checkpoint

PAPER = (
    "M. Cekic, C. Bakiskan, U. Madhow. Neuro-inspired deep neural networks with sparse, strong "
    "activations. ICIP 2022, arXiv:2202.13074"
)

CHECKPOINTS = (
    Checkpoint("hah", "hah_vgg16", "cifar10",
               description="HaH-VGG16, CIFAR-10, authors' recipe (100 epochs); not yet published"),
)
