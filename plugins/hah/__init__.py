"""Hebbian/anti-Hebbian learning with divisive normalisation and sparse, strong activations.

Cekic, Bakiskan, Madhow, "Neuro-inspired deep neural networks with sparse, strong activations",
arXiv 2202.13074 (ICIP 2022); authors' code: github.com/metehancekic/HaH (``hahtorch``).
See plugins/hah/README.md for the recipe, its options and the measured short experiment.
"""

from neurozoo import Architecture, Method, Metric, hookimpl

from .checkpoints import CHECKPOINTS, PAPER
from .method import HaHMethod
from .metrics import hah_disparity, hah_snr, hah_sparsity
from .models import adapt_model, hah_vgg16


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
        metrics=("top1", "corruption", "hah_sparsity", "hah_disparity", "hah_snr", "apgd_ce", "apgd_t", "apgd"),
    ))


@hookimpl
def register_metrics(register):
    register(Metric("hah_sparsity", hah_sparsity, "per activation layer: fraction of nonzero activations",
                    higher_is_better=False))
    register(Metric("hah_disparity", hah_disparity,
                    "per activation layer: mean of the top 10% channels / mean of the others, per position"))
    register(Metric("hah_snr", hah_snr, "per activation layer: SNR (dB) of activations under Gaussian noise 0.1"))


@hookimpl
def register_checkpoints(register):
    for checkpoint in CHECKPOINTS:
        register(checkpoint)
