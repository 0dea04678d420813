"""The training engine: ``train`` runs a method's phases into a resumable run folder.

- :mod:`~neurozoo.training.method`: what a method gives the engine (the protocol).
- :mod:`~neurozoo.training.run`: ``train()``, epochs, checkpoints, resume, signals.
- :mod:`~neurozoo.training.engine`: one process's model, optimiser and training step.
- :mod:`~neurozoo.training.runfolder`: the run folder layout.
- :mod:`~neurozoo.training.precision`: what runs in bf16 and what stays float32 (methods and
  architectures declare it); :mod:`~neurozoo.training.fidelity`: ``gradient_fidelity``, the check
  of the engine's gradients against float64.

``train`` is imported on first access, so the ``neurozoo`` command starts without torch.
"""

import importlib

__all__ = ["TrainingInterrupted", "gradient_fidelity", "train"]
_LAZY = {"train": "neurozoo.training.run", "TrainingInterrupted": "neurozoo.training.interrupts",
         "gradient_fidelity": "neurozoo.training.fidelity"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'neurozoo.training' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
