"""The ``hah`` training method: cross-entropy end to end plus each HaH layer's local HaH cost.

Recipe [code] (authors' HaH repository, cifar.yaml / train_hah.py): Adam lr 1e-3, no weight
decay, batch 128, 100 epochs, lr x0.1 at 3/5 and 4/5 of the epochs (60 and 80 of 100).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import torch.nn.functional as F

from neurozoo.training.method import Phase, StepContext, TrainingMethod

from .layers import hah_blocks
from .losses import DEFAULT_ALPHAS, capture_local_outputs, hah_loss

# [code] train_hah.py: MultiStepLR(milestones=[int(epochs * 3 / 5), int(epochs * 4 / 5)], gamma=0.1)
MILESTONE_FRACTIONS = (3 / 5, 4 / 5)


class HaHMethod(TrainingMethod):
    """Options (defaults from ../shared/METHODS.md section 4):

    - ``alphas``: per-HaH-layer weights of the HaH cost, in block order.
    - ``hah_lambda``: anti-Hebbian weight lambda. 1.0 (default) is what the paper's code
      (SparseStrongActivations) runs: its config says 0.1 but passes it under a name the cost
      ignores, so the cost's default 1.0 applies. 0.1 is the documented alternative: the
      ``hahtorch`` training script does pass the config's 0.1 to the cost.
    - ``hah_ratio``: fraction K/C of channels promoted per position (0.1).
    - ``milestones``: epochs where lr is multiplied by 0.1; ``None`` = 3/5 and 4/5 of ``epochs``
      (rounded down as the authors do; none for a 1-epoch run).
    - model options (stored in the checkpoint, applied by ``adapt_model``): ``hah_layers``
      (0 = keep the architecture's own HaH blocks; N = convert the first N convs of a plain CNN),
      ``sigma`` (divisive normalisation, 0.1), ``keep_ratio`` (spatial top fraction kept, 0.2).
    """

    name: ClassVar[str] = "hah"
    options: ClassVar[dict[str, Any]] = {
        "epochs": 100,
        "lr": 1e-3,
        "optimizer": "adam",
        "weight_decay": 0.0,
        "schedule": "step",
        "milestones": None,
        "label_smoothing": 0.0,
        "grad_clip": None,
        "alphas": DEFAULT_ALPHAS,
        "hah_lambda": 1.0,
        "hah_ratio": 0.1,
        "hah_layers": 0,
        "sigma": 0.1,
        "keep_ratio": 0.2,
    }
    model_options: ClassVar[tuple[str, ...]] = ("hah_layers", "sigma", "keep_ratio")
    # fp32 throughout: bf16 ties most values at the hard top-k cuts, so a bf16 forward selects
    # other units than the fp32 one (issue 23); the engine's test evaluation follows the run's
    # precision and `neurozoo eval` is fp32 by default. --precision bf16 still runs the HaH blocks
    # in fp32 (their precision policy) and the rest in bf16.
    engine_defaults: ClassVar[dict[str, Any]] = {"precision": "fp32"}
    option_docs: ClassVar[dict[str, str]] = {
        **TrainingMethod.option_docs,
        "milestones": "epochs where lr is multiplied by 0.1; None: 3/5 and 4/5 of epochs",
        "alphas": "weight of the HaH cost of each HaH layer, in block order",
        "hah_lambda": "anti-Hebbian weight lambda of the HaH cost",
        "hah_ratio": "fraction K/C of channels promoted per position",
        "hah_layers": "0: the architecture's own HaH blocks; N: convert the first N convs of a plain CNN",
        "sigma": "divisive normalisation constant of the HaH blocks",
        "keep_ratio": "fraction of spatial positions kept by the top-K threshold",
    }

    def __init__(self, **recipe: Any):
        super().__init__(**recipe)
        alphas = self.recipe["alphas"]
        if isinstance(alphas, (int, float)) or any(float(a) < 0 for a in alphas):
            raise ValueError(f"alphas must be a sequence of non-negative floats (one per HaH layer), got {alphas!r}")
        self.recipe["alphas"] = tuple(float(a) for a in alphas)

    def milestones(self) -> tuple[int, ...]:
        explicit = self.recipe["milestones"]
        if explicit is not None:
            return tuple(int(m) for m in explicit)
        # a milestone at epoch 0 (runs shorter than 2 epochs) would decay the lr before training starts
        return tuple(m for m in (int(self.recipe["epochs"] * f) for f in MILESTONE_FRACTIONS) if m > 0)

    def phases(self) -> list[Phase]:
        return [replace(super().phases()[0], milestones=self.milestones(), gamma=0.1)]

    def training_step(self, ctx: StepContext, batch):
        images, targets = batch[0], batch[1]
        blocks = hah_blocks(ctx.net)
        with capture_local_outputs(blocks) as captured:
            logits = ctx.model(images)
        ce = F.cross_entropy(logits, targets, label_smoothing=self.recipe["label_smoothing"])
        hah = hah_loss(captured, self.recipe["alphas"], self.recipe["hah_ratio"], self.recipe["hah_lambda"])
        return {"loss": ce + hah, "ce": ce.detach(), "hah": hah.detach()}
