"""DeepFool as its authors' reference implementation runs it (github LTS4/DeepFool, ``deepfool.py``).

The protocol of that code, which Sbailò & Ghiringhelli's binary_encoding uses for its robustness
score, differs from torchattacks' DeepFool (the shared ``deepfool`` metric's default) in four ways:

- the attack starts from the *predicted* label, so every image gets a perturbation (torchattacks
  starts from the true label and gives misclassified images r = 0);
- the perturbed input is never clamped (torchattacks clamps to [0, 1]);
- it works in the space the network is fed, here the model's normalised input
  ``model.normalize(x)`` (the authors normalise in their data pipeline), and the score is
  ||r|| / ||x|| there;
- each step adds 1e-4 to the distance to the nearest boundary, and the total is scaled by
  (1 + overshoot) once at the end as well as at every intermediate point.

One step, at x_i = x + (1 + overshoot) r: for each candidate class k (the classes ranked by the
clean logits, all of them by default) w_k = grad f_k - grad f_label and f_k = f_k - f_label at x_i;
the nearest boundary is the k with the smallest |f_k| / ||w_k|| (the first on ties), and r grows by
(|f_k| / ||w_k|| + 1e-4) w_k / ||w_k||. Steps stop when the prediction at x_i leaves the label, or
after ``steps``. Here the images of a batch are attacked together; each one stops on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

STEP_MARGIN = 1e-4  # added to each step's distance in the reference code, "for numerical stability"


@dataclass
class DeepFoolResult:
    """Per image: the final perturbation, the steps taken, the starting label, the final prediction."""

    perturbation: torch.Tensor
    steps: torch.Tensor
    label: torch.Tensor
    prediction: torch.Tensor


def deepfool_lts4(net: nn.Module, inputs: torch.Tensor, *, steps: int = 50, overshoot: float = 0.02,
                  candidates: int | None = None) -> DeepFoolResult:
    """DeepFool of ``net`` at ``inputs`` (already in the net's input space), from the predicted label;
    ``candidates``: how many of the top-ranked classes are tried (None: all)."""
    with torch.no_grad():
        clean = net(inputs)
    ranked = clean.argsort(dim=1, descending=True)[:, :candidates or clean.shape[1]]
    label = ranked[:, 0]
    total = torch.zeros_like(inputs)
    taken = torch.zeros(len(inputs), dtype=torch.long, device=inputs.device)
    active = torch.arange(len(inputs), device=inputs.device)
    per_image = (-1, *[1] * (inputs.dim() - 1))
    for step in range(steps):
        point = (inputs[active] + (1 + overshoot) * total[active]).detach().requires_grad_(True)
        logits = net(point)
        # step 0 is the clean input, predicted as its label by definition (as in the reference loop)
        going = logits.argmax(1) == label[active] if step else torch.ones_like(active, dtype=torch.bool)
        if not going.any():
            break
        active, logits = active[going], logits[going]
        order = ranked[active]
        own = logits.gather(1, order[:, :1]).squeeze(1)
        nearest = torch.full((len(active),), float("inf"), device=inputs.device)
        direction = torch.zeros_like(inputs[active])
        for k in range(1, order.shape[1]):
            gap = logits.gather(1, order[:, k:k + 1]).squeeze(1) - own
            (w,) = torch.autograd.grad(gap.sum(), point, retain_graph=k + 1 < order.shape[1])
            w = w[going]
            distance = gap.detach().abs() / w.flatten(1).norm(dim=1)
            closer = distance < nearest  # strict: the first of equally near classes, as the reference
            nearest = torch.where(closer, distance, nearest)
            direction[closer] = w[closer]
        length = torch.where(nearest.isfinite(), nearest + STEP_MARGIN, torch.zeros_like(nearest))
        unit = direction / direction.flatten(1).norm(dim=1).clamp_min(torch.finfo(direction.dtype).tiny).view(per_image)
        total[active] += length.view(per_image) * unit
        taken[active] += 1
    perturbation = (1 + overshoot) * total
    with torch.no_grad():
        prediction = net(inputs + perturbation).argmax(1)
    return DeepFoolResult(perturbation, taken, label, prediction)
