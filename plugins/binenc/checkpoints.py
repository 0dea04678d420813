"""Checkpoint records of the binenc plugin (declarative; ``tests/test_checkpoint_records.py`` checks
every published record against its files, evaluation JSON and card in ``model_cards/<name>/``).

Issue 24's pair is planned until ``scripts/zoo/binenc_resnet18_cifar10.sh`` has trained and evaluated it:
BinEnc and its NoPen twin (the same network and recipe without the code layer and penalty, the method's
own baseline variant). The paper's claims are stated here before any figure of the pair exists. Its
tables are not reachable here, so each is of direction only: BinEnc above NoPen in accuracy, in DeepFool
robustness (the shared protocol and the authors') and in misclassification detection by Mahalanobis
distance in z. The slice study (plugins/binenc/README.md) tests the same claims over two seeds.
"""

import math

from neurozoo import Checkpoint, Claim

PAPER = "Sbailo & Ghiringhelli, latent binary encoding / latent point collapse, arXiv 2310.08224"
CLAIMS = tuple(
    Claim(figure, 0.0, math.inf, f"the paper's headline (METHODS.md section 5): {what} than NoPen, LinPen, NonlinPen")
    for figure, what in (
        ("top1", "higher accuracy"),
        ("deepfool_lts4_score", "much higher DeepFool robustness (here: the authors' protocol)"),
        ("deepfool_score", "much higher DeepFool robustness (here: the shared protocol)"),
        ("mahalanobis_auroc", "better misclassification-detection AUROC"),
    )
)

CHECKPOINTS = (
    Checkpoint("binenc", "resnet18", "cifar10", paper=PAPER, baseline="binenc-resnet18-cifar10.nopen",
               claims=CLAIMS, description="BinEnc (d=4, v3 penalty, SiLU backbone) ResNet-18 on CIFAR-10"),
    Checkpoint("binenc", "resnet18", "cifar10", tag="nopen", paper=PAPER,
               description="NoPen twin of binenc-resnet18-cifar10: the same SiLU ResNet-18 and recipe "
                           "without the code layer and penalty (its same-budget baseline)"),
)
