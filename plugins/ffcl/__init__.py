"""FFCL: improved forward-forward contrastive learning, no backpropagation across layers.

Gananath R, "Improved Forward-Forward Contrastive Learning", arXiv 2405.03432 (2024). See
README.md in this folder for the recipe, the documented choices and the measured experiment.
"""

from neurozoo import Architecture, Checkpoint, Method, hookimpl

from .method import FFCL, adapt_model
from .models import ffcl_mlp


@hookimpl
def register_architectures(register):
    register(Architecture(
        "ffcl_mlp", ffcl_mlp, (1, 28, 28),
        "twin MLPs A/B for FFCL, hidden=(64, 64); predict='mean'|'a'|'b'",
    ))


@hookimpl
def register_methods(register):
    register(Method(
        "ffcl",
        trainer=FFCL,
        adapt_model=adapt_model,
        description="twin networks, each layer trained by its own local loss (A/B cosine agreement, BCE output)",
        paper="Gananath R, Improved Forward-Forward Contrastive Learning, arXiv 2405.03432 (2024)",
        metrics=("top1", "nmi", "ece"),
    ))


@hookimpl
def register_checkpoints(register):
    # planned: the name is public, the weights are not published yet
    register(Checkpoint("ffcl", "ffcl_mlp", "mnist", description="FFCL twin MLP 784-64-64-10 on MNIST"))
