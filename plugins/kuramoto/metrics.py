"""Metrics of the kuramoto plugin (exact-set accuracy and noise accuracy are shared, see neurozoo.evaluation).

- ``per_label_f1``: F1 of the per-label decisions logit > 0 (sigmoid > 0.5, the authors'
  ``BinaryF1Score``), micro (all labels pooled, the authors' figure) and macro (mean over classes).
- ``synchrony``: after each Kuramoto step, the normalised mask-based synchrony loss of the first-layer
  phases (lower = objects more internally coherent and mutually apart) and the Kuramoto order
  parameter within objects, |mean of exp(i phase)| over each object's active units, averaged over
  objects and channels (1 = every object in one phase per channel; the loss's coherence term is one
  minus it); KomplexNets only.
"""

from __future__ import annotations

import torch

from neurozoo.errors import ConfigError
from neurozoo.evaluation import requires

from .losses import synchrony_terms
from .models import KomplexNet


def per_label_f1(ctx) -> dict[str, float]:
    from sklearn.metrics import f1_score

    out = ctx.outputs()
    present = (out.targets > 0.5).numpy()
    predicted = (out.logits > 0).numpy()
    return {
        "label_f1_micro": float(f1_score(present, predicted, average="micro", zero_division=0)),
        "label_f1_macro": float(f1_score(present, predicted, average="macro", zero_division=0)),
    }


@requires(module=True)
def synchrony(ctx) -> dict[str, float]:
    """Figures ``synchrony_loss_step_<t>`` and ``order_parameter_step_<t>`` for t = 1..T, and a curve of each
    over the steps."""
    net = ctx.model.net
    if not isinstance(net, KomplexNet):
        raise ConfigError(
            "synchrony needs a KomplexNet (komplexnet, komplexnet_fb, komplexnet_random, komplexnet_oracle), "
            f"got {type(net).__name__}"
        )
    loader = torch.utils.data.DataLoader(ctx.data(), batch_size=ctx.batch_size)
    totals = torch.zeros(net.timesteps, dtype=torch.float64)
    incoherence = torch.zeros(net.timesteps, dtype=torch.float64)
    count = 0
    with torch.inference_mode(), ctx.autocast():
        for batch in loader:
            if len(batch) < 3:
                raise ConfigError(
                    f"synchrony needs per-object masks and dataset {ctx.dataset.name!r} yields none: "
                    "evaluate on a multi-object digit set (multimnist*)"
                )
            images, masks = batch[0].to(ctx.device), batch[2].to(ctx.device)
            with net.given_masks(masks):
                trace = net.run(ctx.model.normalize(images), all_steps=False)
            amplitude = trace.amplitude.float()
            for step, phase in enumerate(trace.phases):
                loss, synch, _ = synchrony_terms(phase.float(), amplitude, masks)
                totals[step] += loss.sum().item()
                incoherence[step] += synch.sum().item()
            count += len(images)
    losses = (totals / count).tolist()
    orders = (1 - incoherence / count).tolist()
    steps = range(1, net.timesteps + 1)
    ctx.add_curve("synchrony", "synchrony_loss", list(steps), losses,
                  x_label="Kuramoto step", y_label="synchrony loss (lower = more synchronised objects)")
    ctx.add_curve("order_parameter", "order_parameter", list(steps), orders,
                  x_label="Kuramoto step", y_label="order parameter within objects (1 = one phase each)")
    return {**{f"synchrony_loss_step_{t}": loss for t, loss in zip(steps, losses)},
            **{f"order_parameter_step_{t}": order for t, order in zip(steps, orders)}}
