"""Checkpoint records of the hah plugin (declarative; ``tests/test_checkpoint_records.py`` checks every
published record against its files, evaluation JSON and card in ``model_cards/<name>/``).

The published record was drafted by ``neurozoo record`` from the HaH arm of the issue-23 pair
(``scripts/zoo/hah_vgg16_cifar10.sh``); its baseline, the authors' standard VGG-16 trained with the
same recipe, is a record of the baseline plugin.
"""

from neurozoo import Checkpoint, Claim, License, Recipe

PAPER = (
    "M. Cekic, C. Bakiskan, U. Madhow. Neuro-inspired deep neural networks with sparse, strong "
    "activations. ICIP 2022, arXiv:2202.13074"
)
# The authors' CIFAR-10 table (README of metehancekic/SparseStrongActivations; ../shared/METHODS.md section 4):
# standard VGG-16 92.5 / 26.6 / 10.4 / 13.9 %, HaH VGG-16 87.3 / 64.0 / 21.5 / 27.6 % (clean / Gaussian noise
# sigma 0.1 / APGD-CE + APGD-T at Linf 2/255 / at L2 0.25), after 100 epochs.
PAPER_TABLE = "the authors' README (metehancekic/SparseStrongActivations), CIFAR-10 VGG-16 table, 100 epochs"

CHECKPOINTS = (
    Checkpoint("hah", "hah_vgg16", "cifar10",
               description="HaH-VGG16, CIFAR-10, authors' recipe (100 epochs); not yet published"),
)
