"""KomplexNet: complex-valued nets whose phases bind objects through Kuramoto synchrony.

Muzellec, Alamia, Serre, VanRullen, "Enhancing deep neural networks through complex-valued
representations and Kuramoto synchronization dynamics", TMLR 2025, arXiv 2502.21077; authors' code:
github.com/S4b1n3/KomplexNet (MIT). See plugins/kuramoto/README.md for the recipe, the documented
choices and the measured short experiment.
"""

from neurozoo import Architecture, Method, Metric, hookimpl

from .checkpoints import CHECKPOINTS, PAPER
from .method import KuramotoMethod, adapt_model
from .metrics import per_label_f1, synchrony
from .models import komplexnet, komplexnet_fb, komplexnet_oracle, komplexnet_random, realnet


@hookimpl
def register_architectures(register):
    register(Architecture(
        "komplexnet", komplexnet, (1, 32, 32),
        "KomplexNet: Gabor amplitude conv, 15 Kuramoto steps on its phases, complex conv 8->8, "
        "complex linear 2048->50->classes, readout |out| - max|out|/3",
    ))
    register(Architecture(
        "komplexnet_fb", komplexnet_fb, (1, 32, 32),
        "KomplexNet with feedback: the conv, hidden and output layers' phases also pull the first layer's",
    ))
    register(Architecture(
        "komplexnet_random", komplexnet_random, (1, 32, 32),
        "ablation: KomplexNet whose phases keep their uniform random draw (no Kuramoto steps)",
    ))
    register(Architecture(
        "komplexnet_oracle", komplexnet_oracle, (1, 32, 32),
        "upper bound: KomplexNet whose phases are set from the ground-truth object masks (authors' phase_mode "
        "'ideal'); needs the masks in its forward pass",
    ))
    register(Architecture(
        "realnet", realnet, (1, 32, 32),
        "parameter-matched real-valued baseline of KomplexNet: Gabor conv, conv 8->9, linear 2304->46->classes",
    ))


@hookimpl
def register_methods(register):
    register(Method(
        "kuramoto",
        trainer=KuramotoMethod,
        adapt_model=adapt_model,
        description="multi-label BCE over Kuramoto timesteps plus a mask-based phase synchrony loss",
        paper=PAPER,
        metrics=("exact_set", "per_label_f1", "corruption", "synchrony"),
    ))


@hookimpl
def register_metrics(register):
    register(Metric("per_label_f1", per_label_f1, "F1 of per-label decisions logit > 0 (micro and macro)",
                    tasks=("multilabel",)))
    register(Metric("synchrony", synchrony,
                    "mask-based synchrony loss of the first-layer phases after each Kuramoto step (KomplexNets)",
                    higher_is_better=False, tasks=("multilabel",)))


@hookimpl
def register_checkpoints(register):
    for checkpoint in CHECKPOINTS:
        register(checkpoint)
