"""Checkpoint records of the kuramoto plugin (declarative; ``tests/test_checkpoint_records.py`` checks
every published record against its files, evaluation JSON and card in ``model_cards/<name>/``).

The three names of issue 20 are planned until ``scripts/zoo/kuramoto_multimnist.sh`` has trained and
evaluated all five arms. The paper's claims are stated here before any figure of those runs exists: both
Kuramoto models above the parameter-matched real-valued net (their record's baseline) and the complex net
with random phases (the ``komplexnet_random`` arm beside the card), on the two-digit test set, under
noise and on the three out-of-distribution sets. The paper's tables are not reachable here, so each
claim is of direction only (the card's verdict then also asks a gain beyond sampling noise).
"""

import math

from neurozoo import Checkpoint, Claim

PAPER = (
    "S. Muzellec, A. Alamia, T. Serre, R. VanRullen. Enhancing deep neural networks through complex-valued "
    "representations and Kuramoto synchronization dynamics. TMLR 2025, arXiv:2502.21077"
)
DATASET = "multimnist_o25"  # the authors' two-digit data (their overlap measure <= 0.25)
BASELINE = f"kuramoto-realnet-{DATASET}"
CLAIMS = tuple(
    Claim(figure, 0.0, math.inf, f"the paper's headline (METHODS.md section 2): both Kuramoto models beat the "
                                 f"real-valued and random-phase baselines {where}", over=("komplexnet_random",))
    for figure, where in (
        ("exact_set", "on overlapping two-digit images"),
        ("noise_sigma_0.316228", "under Gaussian noise of variance 0.1"),
        ("multimnist_o50/exact_set", "out of distribution (more overlap)"),
        ("multimnist3/exact_set", "out of distribution (three digits)"),
        ("multimnist_cifar/exact_set", "out of distribution (CIFAR-10 backgrounds)"),
    )
)
PLANNED = "the authors' recipe; not yet published"

CHECKPOINTS = (
    Checkpoint("kuramoto", "realnet", DATASET, paper=PAPER,
               description=f"the paper's parameter-matched real-valued net on {DATASET}, {PLANNED}"),
    Checkpoint("kuramoto", "komplexnet", DATASET, paper=PAPER, baseline=BASELINE, claims=CLAIMS,
               description=f"KomplexNet (15 Kuramoto steps) on {DATASET}, {PLANNED}"),
    Checkpoint("kuramoto", "komplexnet_fb", DATASET, paper=PAPER, baseline=BASELINE, claims=CLAIMS,
               description=f"KomplexNet with top-down feedback on {DATASET}, {PLANNED}"),
)
