"""NM-Hebb: a neuromodulated Hebbian regulariser (phase 1), then pairwise metric learning (phase 2).

Miličević & Grbić, "NM-Hebb: Coupling Local Hebbian Plasticity with Metric Learning for More
Accurate and Interpretable CNNs", arXiv 2508.19896 (2025). The recipe, its defaults and the
choices neurozoo made where the paper is silent are in :mod:`.method` and the plugin README.
NM-Hebb changes no module: it trains the baseline plugin's architectures as they are.
"""

from neurozoo import Checkpoint, Method, hookimpl

from .method import NMHebb

PAPER = (
    "Miličević & Grbić, NM-Hebb: Coupling Local Hebbian Plasticity with Metric Learning for More "
    "Accurate and Interpretable CNNs, arXiv 2508.19896 (2025)"
)
# the paper's grid: five backbones with CIFAR-style stems on three datasets
PAPER_ARCHITECTURES = ("resnet18", "vgg11", "mobilenetv2", "efficientnetv2_s", "densenet121")
PAPER_DATASETS = ("cifar10", "cifar100", "tinyimagenet")


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
    for dataset in PAPER_DATASETS:
        for arch in PAPER_ARCHITECTURES:
            register(
                Checkpoint(
                    "nmhebb",
                    arch,
                    dataset,
                    description=f"NM-Hebb {arch} on {dataset} (planned: not trained or published yet)",
                )
            )
