"""NM-Hebb: a neuromodulated Hebbian regulariser (phase 1), then pairwise metric learning (phase 2).

Miličević & Grbić, "NM-Hebb: Coupling Local Hebbian Plasticity with Metric Learning for More
Accurate and Interpretable CNNs", arXiv 2508.19896 (2025). The recipe, its defaults and the
choices neurozoo made where the paper is silent are in :mod:`.method` and the plugin README.
NM-Hebb changes no module: it trains the baseline plugin's architectures as they are.
"""

from neurozoo import Method, hookimpl

from .checkpoints import CHECKPOINTS, PAPER
from .method import NMHebb


@hookimpl
def register_methods(register):
    register(
        Method(
            "nmhebb",
            trainer=NMHebb,
            description="CE + gated Hebbian regulariser on one conv layer, then pairwise metric learning",
            paper=PAPER,
            metrics=("top1", "nmi"),
        )
    )


@hookimpl
def register_checkpoints(register):
    for checkpoint in CHECKPOINTS:
        register(checkpoint)
