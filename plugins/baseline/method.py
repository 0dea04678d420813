"""The baseline recipe: cross-entropy with the standard CIFAR training settings.

SGD with Nesterov momentum 0.9, one-cycle learning rate peaking at 0.1 (batch 128), weight
decay 5e-4 (not on biases and norm layers unless ``weight_decay_all``), label smoothing 0.1.
Random crop + flip come with the dataset (``augment=True`` in ``neurozoo.data``). The loss and
the loop are the protocol's plain behaviour (:class:`~neurozoo.training.method.TrainingMethod`);
only the defaults differ.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from neurozoo.options import Option
from neurozoo.training.method import Phase, TrainingMethod


class Baseline(TrainingMethod):
    name: ClassVar[str] = "baseline"
    options: ClassVar[dict[str, Any]] = {
        **TrainingMethod.options,
        "lr": 0.1,
        "optimizer": "sgd",
        "schedule": "onecycle",
        "label_smoothing": 0.1,
        "milestones": (),
    }
    extendable: ClassVar[bool] = True  # its milestones are epochs, not fractions of the budget
    option_docs: ClassVar[dict[str, str]] = {
        **TrainingMethod.option_docs,
        "milestones": 'with schedule "step": epochs where lr is multiplied by 0.1 (e.g. HaH\'s recipe)',
    }
    option_checks: ClassVar[dict[str, Option]] = {
        **TrainingMethod.option_checks, "milestones": Option(list, item=int, ge=1),
    }

    def phases(self) -> list[Phase]:
        return [replace(super().phases()[0], milestones=tuple(self.recipe["milestones"]), gamma=0.1)]
