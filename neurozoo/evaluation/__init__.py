"""Evaluation shared by every method: one code path for checkpoints, runs and ONNX models.

    import neurozoo
    result = neurozoo.evaluate("nmhebb-resnet18-cifar10", "cifar10", metrics=["top1", "nmi"])
    result["metrics"]["top1"]    # {"top1": 0.93}

Command line: ``neurozoo eval NAME_OR_RUN_OR_FOLDER_OR_ONNX --dataset D --metrics m1,m2 [--json F]``.

The metric protocol
-------------------
A metric is a :class:`neurozoo.Metric` record registered through the ``register_metrics`` hook::

    from neurozoo import Metric, hookimpl
    from neurozoo.evaluation import requires

    @requires(module=True)                     # optional; see Requires below
    def activation_sparsity(ctx, threshold=0.0):
        ...                                    # use ctx (below)
        return {"sparsity_layer1": 0.71, "sparsity_layer2": 0.64}

    @hookimpl
    def register_metrics(register):
        register(Metric("activation_sparsity", activation_sparsity, "fraction of zero activations",
                        higher_is_better=True, tasks=("multiclass",)))

``compute(ctx, **options) -> dict[str, float | None]``: named figures (unique across metrics; None
where a figure is undefined, e.g. an AUROC with one class present). Keyword options carry defaults;
``evaluate(..., options={"name": {...}})`` or ``neurozoo eval --set name.key=value`` override them,
and an option the function does not accept is rejected before any work. ``Metric.tasks`` lists the
dataset tasks ("multiclass", "multilabel") the metric applies to; others are rejected up front.

``ctx`` is an :class:`EvalContext`:

- ``ctx.outputs(split=None, limit=...) -> Outputs``: the single cached forward pass over the split
  (default: the evaluated one; ``limit`` defaults to the evaluation's, None means the whole
  split, e.g. ``ctx.outputs("train", limit=None)`` to fit class statistics): ``.logits`` (N, C)
  float32, ``.targets`` (N,) int64 or (N, C) multi-hot, ``.embeddings`` (N, D) penultimate
  features (None for ONNX), and derived ``.probabilities`` (softmax, or sigmoid for multi-label),
  ``.correct`` (top-1, or exact set for multi-label), ``.loss`` (per sample). All on the CPU in
  dataset order. Metrics that only need these arrays never touch the model, so they share one pass.
- ``ctx.model``: the model in eval mode; ``model(x)`` maps [0, 1] images (N, C, H, W) on
  ``ctx.device`` to logits (normalisation is inside); torch models also accept
  ``return_embedding=True``. ``ctx.is_torch`` is False for an ONNX model (no gradients, no modules).
- ``ctx.batches(split=None, limit=..., description=...)``: iterator of ``(images, targets)`` on
  ``ctx.device`` (a fresh pass each call, with a progress bar); ``ctx.data(split)`` the torch Dataset.
- ``ctx.predict(images, return_embedding=False)``: logits under ``torch.inference_mode`` and the
  same precision settings as the main pass. Metrics that need gradients call ``ctx.model``
  themselves (see ``neurozoo.evaluation.attacks.attack_scope``).
- ``ctx.dataset`` (the :class:`neurozoo.Dataset` record), ``ctx.num_classes``, ``ctx.split``,
  ``ctx.limit``, ``ctx.batch_size``, ``ctx.device``.
- ``ctx.add_curve(plot, label, x, y, x_label=..., y_label=...)``: a curve for the report; curves
  with the same ``plot`` share one PNG (``--plots DIR``).

Requirements (``@requires(...)``, see :class:`Requires`): ``gradients`` / ``module`` (needs a torch
model: attacks, layer hooks), ``embeddings`` (needs ``Outputs.embeddings``), ``min_classes``,
``splits`` (other dataset splits read, e.g. ``("train",)``). They are checked against the model
and dataset before any work is done, so a metric that cannot run fails at once with the reason.

Result
------
``evaluate`` returns (and ``--json`` writes) ``{"model", "dataset", "split", "limit",
"num_samples", "metrics": {metric: {figure: value}}, "curves": [...], "options" (as given),
"settings": {metric: {option: value}} (every option each metric ran with, defaults included),
"seconds": {metric: s}, "checkpoint_sha256", "command", "versions", "device", "bf16"}``.
"""

from neurozoo.evaluation.context import Curve, EvalContext, Outputs, Requires, requires
from neurozoo.evaluation.onnx_model import OnnxModel
from neurozoo.evaluation.runner import evaluate

__all__ = ["Curve", "EvalContext", "OnnxModel", "Outputs", "Requires", "evaluate", "requires"]
