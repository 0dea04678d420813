"""BinEnc: latent binary encoding / latent point collapse.

Sbailo & Ghiringhelli, arXiv 2310.08224 (v5: "latent point collapse"). See README.md in this
folder for the recipe, the documented choices and the measured experiment.
"""

from neurozoo import Method, Metric, hookimpl

from . import metrics
from .checkpoints import CHECKPOINTS, PAPER
from .method import BinEnc
from .models import adapt_model


@hookimpl
def register_methods(register):
    register(Method(
        "binenc",
        trainer=BinEnc,
        adapt_model=adapt_model,
        description="narrow linear penultimate code z with an epoch-growing penalty gamma_e * mean(z^2)",
        paper=PAPER,
        metrics=("top1", "binarity", "sign_pattern_fraction", "mahalanobis_auroc", "deepfool", "binenc_deepfool",
                 "convergence_epoch"),
    ))


@hookimpl
def register_metrics(register):
    register(Metric("binarity", metrics.binarity,
                    "mean over code dimensions of the peak separation of a 2-component GMM",
                    reading=metrics.read_binarity))
    register(Metric("sign_pattern_fraction", metrics.sign_pattern_fraction,
                    "fraction of samples sharing the most common sign pattern of their predicted class"))
    register(Metric("mahalanobis_auroc", metrics.mahalanobis_auroc,
                    "AUROC of the Mahalanobis distance in z (class Gaussians from correct training "
                    "points) for detecting misclassified inputs"))
    register(Metric("binenc_deepfool", metrics.binenc_deepfool,
                    "DeepFool score as the authors measure it: shared deepfool, protocol lts4 (from the "
                    "predicted label, unclamped, normalised input space)"))
    register(Metric("convergence_epoch", metrics.convergence_epoch,
                    "first epoch whose training accuracy exceeds the threshold, from the run's metrics.jsonl "
                    "(--set convergence_epoch.run=RUN)", higher_is_better=False, reading=metrics.read_convergence))


@hookimpl
def register_checkpoints(register):
    for checkpoint in CHECKPOINTS:
        register(checkpoint)
