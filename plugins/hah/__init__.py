"""Hebbian/anti-Hebbian learning with divisive normalisation and sparse, strong activations.

Cekic, Bakiskan, Madhow, "Neuro-inspired deep neural networks with sparse, strong activations",
arXiv 2202.13074 (ICIP 2022); authors' code: github.com/metehancekic/HaH (``hahtorch``).
See plugins/hah/README.md for the recipe, its options and the measured short experiment.
"""

from neurozoo import Architecture, Checkpoint, Method, hookimpl

from .method import HaHMethod
from .models import adapt_model, hah_vgg16

PAPER = (
    "M. Cekic, C. Bakiskan, U. Madhow. Neuro-inspired deep neural networks with sparse, strong "
    "activations. ICIP 2022, arXiv:2202.13074"
)


@hookimpl
def register_architectures(register):
    register(Architecture(
        "hah_vgg16", hah_vgg16, (3, 32, 32),
        "VGG-16 whose first 6 convs are HaH blocks (weight-normalised conv, ReLU, divisive "
        "normalisation, top-20% spatial threshold), the rest conv-ReLU-BatchNorm; option hah_layers",
    ))


@hookimpl
def register_methods(register):
    register(Method(
        "hah",
        trainer=HaHMethod,
        adapt_model=adapt_model,
        description="cross-entropy plus a layer-local Hebbian/anti-Hebbian cost on each HaH block",
        paper=PAPER,
        metrics=("top1", "hah_sparsity", "hah_disparity", "hah_snr"),
    ))


@hookimpl
def register_checkpoints(register):
    # planned: the name is public, weights are published once trained with the full recipe
    register(Checkpoint("hah", "hah_vgg16", "cifar10",
                        description="HaH-VGG16, CIFAR-10, authors' recipe (100 epochs); not yet published"))
