"""Checkpoint records of the binenc plugin (declarative; ``tests/test_checkpoint_records.py`` checks
every published record against its files, evaluation JSON and card in ``model_cards/<name>/``).

Issue 24's pair, drafted by ``neurozoo record`` from ``scripts/zoo/binenc_resnet18_cifar10.sh``'s run
folders: BinEnc and its NoPen twin (the same network, recipe, budget and seed without the code layer and
penalty, the method's own baseline variant). The paper's claims were stated here before any figure of the
pair existed. Its tables are not reachable here, so each is of direction only: BinEnc above NoPen in
accuracy, in DeepFool robustness (the shared protocol and the authors') and in misclassification detection
by Mahalanobis distance in z. The slice study (plugins/binenc/README.md) tests the same claims over two seeds.
"""

import math

from neurozoo import Checkpoint, Claim, License, Recipe

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


def pair_recipe(variant: str) -> Recipe:
    """The full-data pair's recipe (scripts/zoo/binenc_resnet18_cifar10.sh): one command, budget and host for
    both arms, which differ in ``variant`` only."""
    return Recipe(
        command=(
            "neurozoo train binenc --arch resnet18 --dataset cifar10 --data-dir DATA --epochs 20 --lr 3e-3 "
            f"--seed 0 --val-fraction 0.1 --select last --eval-limit 0 --device cpu --set variant={variant} --out RUN"
        ),
        epochs=20,
        images_seen=900000,
        batch_size=128,
        precision="bf16 autocast of the forward pass, fp32 weights, gradients and optimiser state, channels_last",
        hardware="CPU: 2 cores of an AMD EPYC (Zen 5, cpu family 26), OMP_NUM_THREADS=2",
    )


# DeepFool (both protocols) runs on the first 1,000 test images; every other figure on all 10,000
DEEPFOOL_IMAGES = {figure: 1000 for figure in ("deepfool_score", "deepfool_fooled", "deepfool_lts4_score",
                                               "deepfool_lts4_fooled")}

CHECKPOINTS = (
    Checkpoint(
        method="binenc",
        arch="resnet18",
        dataset="cifar10",
        repo_id="neurozoo/binenc-resnet18-cifar10",
        files={
            "model.safetensors": "16b2686fe704b394b7a7d81093d97193e2e1c0e48877d64a1fb9bbbae5a13bac",
            "config.json": "f76530574757a213de5b2465d872881c2fa48e495702522bc6cfc2e0af1af7c6",
        },
        file_sizes={"model.safetensors": 22393556, "config.json": 610},
        dtype="float16",
        params=11170934,
        gflops=1.111,
        recipe=pair_recipe("binenc"),
        license=License(weights="mit"),
        paper=PAPER,
        metrics={
            "top1": 0.8819,
            "binarity": 3.3520904080322214,
            "sign_pattern_fraction": 0.8318,
            "final_train_acc": 0.9383235398860399,
            "epochs": 20.0,
            "deepfool_score": 0.014984023809432983,
            "deepfool_fooled": 0.985,
            "deepfool_lts4_score": 0.0331134204864502,
            "deepfool_lts4_fooled": 1.0,
            "mahalanobis_auroc": 0.8575344262383225,
        },
        metric_images=DEEPFOOL_IMAGES,
        headline="deepfool_lts4_score",
        baseline="binenc-resnet18-cifar10.nopen",
        int8_metrics={"top1": 0.8825},
        claims=CLAIMS,
        description="BinEnc (d=4, v3 penalty at gamma x1.224 per epoch, SiLU backbone) ResNet-18 on CIFAR-10: "
                    "20 epochs on 45,000 images (the paper trains 200)",
    ),
    Checkpoint(
        method="binenc",
        arch="resnet18",
        dataset="cifar10",
        tag="nopen",
        repo_id="neurozoo/binenc-resnet18-cifar10.nopen",
        files={
            "model.safetensors": "b0004cc9f4cff21f8e809abe6c33c07219ea7fc93655585f8e09e41b78b9aa7a",
            "config.json": "afbe8a7bdfea88c26a7173fd74a211a0db05a88691527182e995d5b694051079",
        },
        file_sizes={"model.safetensors": 22398348, "config.json": 609},
        dtype="float16",
        params=11173962,
        gflops=1.111,
        recipe=pair_recipe("nopen"),
        license=License(weights="mit"),
        paper=PAPER,
        metrics={
            "top1": 0.8929,
            "binarity": 2.065253848075675,
            "sign_pattern_fraction": 0.001,
            "final_train_acc": 0.9491408475783476,
            "epochs": 20.0,
            "deepfool_score": 0.005595732927322388,
            "deepfool_fooled": 0.968,
            "deepfool_lts4_score": 0.012617599487304688,
            "deepfool_lts4_fooled": 1.0,
            "mahalanobis_auroc": 0.6853260585975534,
        },
        metric_images=DEEPFOOL_IMAGES,
        headline="deepfool_lts4_score",
        int8_metrics={"top1": 0.8925},
        description="NoPen twin of binenc-resnet18-cifar10: the same SiLU ResNet-18, recipe (AdamW lr 3e-3) "
                    "and 20 epochs without the code layer and penalty (its same-budget baseline)",
    ),
)
