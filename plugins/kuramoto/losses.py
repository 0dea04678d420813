"""KomplexNet losses: BCE averaged over timesteps and the mask-based synchrony loss.

Synchrony loss (authors' ``synch_loss``), for K objects with exclusive masks, on the first-layer
phases phi (N, C, H, W):

    R[k, c]  = |sum_{i in object k, channel c, active} exp(i phi_i)| / count      # order parameter
    synch    = 1 - mean_{k, c} R[k, c]                                           # 0: every object coherent
    theta_k  = arg sum_c sum_i exp(i phi_i)        (each object's mean phase, channel sums averaged)
    desynch  = sum_{m=1}^{floor(K/2)} 1 / (2 K m^2) |sum_k exp(i m theta_k)|^2   # 0: mean phases spread
    loss     = (synch + desynch) / (1 + K/2 sum_{m=1}^{floor(K/2)} 1/m^2)        # normalised to [0, 1]

Units count only where the first layer is active (amplitude > 0). The authors instead set inactive
units' phase to 0 and still count them, which pulls every object towards phase 0; we leave them out
(a documented choice, see the plugin README). Pixels that belong to more than one object (digit
overlap) are left out, as the authors' overlap mask class is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .complex_layers import complex_abs


def timestep_bce(logits: list[torch.Tensor], targets: torch.Tensor) -> torch.Tensor:
    """Mean over timesteps of BCE-with-logits against the multi-hot ``targets``."""
    targets = targets.to(logits[0].dtype)
    return torch.stack([F.binary_cross_entropy_with_logits(step, targets) for step in logits]).mean()


def exclusive_masks(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Per-object masks (N, K, H, W) -> float masks at ``size`` with shared (overlap) pixels removed."""
    if masks.dim() != 4:
        raise ValueError(f"object masks must be (N, objects, H, W), got shape {tuple(masks.shape)}")
    masks = (masks > 0).float()
    if tuple(masks.shape[-2:]) != tuple(size):
        masks = F.interpolate(masks, size=size, mode="nearest-exact")
    return masks * (masks.sum(dim=1, keepdim=True) == 1)


def synchrony_terms(phase: torch.Tensor, amplitude: torch.Tensor, masks: torch.Tensor):
    """Per-image (loss, synch, desynch), each of shape (N,); see the module docstring."""
    objects = exclusive_masks(masks, tuple(phase.shape[-2:]))  # (N, K, H, W)
    num_objects = objects.shape[1]
    weight = objects[:, :, None] * (amplitude > 0).to(phase.dtype)[:, None]  # (N, K, C, H, W)
    sum_cos = (weight * torch.cos(phase)[:, None]).sum(dim=(-2, -1))  # (N, K, C)
    sum_sin = (weight * torch.sin(phase)[:, None]).sum(dim=(-2, -1))
    count = weight.sum(dim=(-2, -1)).clamp(min=1.0)
    order = complex_abs(sum_cos, sum_sin) / count
    synch = 1.0 - order.mean(dim=(1, 2))

    mean_cos, mean_sin = sum_cos.mean(dim=-1), sum_sin.mean(dim=-1)  # (N, K)
    empty = (mean_cos == 0) & (mean_sin == 0)  # an object with no active unit: angle 0, as atan2(0, 0)
    theta = torch.atan2(mean_sin, torch.where(empty, torch.ones_like(mean_cos), mean_cos))
    desynch = torch.zeros_like(synch)
    bound = 1.0
    for m in range(1, num_objects // 2 + 1):
        spread = torch.cos(m * theta).sum(dim=-1) ** 2 + torch.sin(m * theta).sum(dim=-1) ** 2
        desynch = desynch + spread / (2 * num_objects * m**2)
        bound += 0.5 * num_objects / m**2
    return (synch + desynch) / bound, synch, desynch


def synchrony_loss(phase: torch.Tensor, amplitude: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Batch mean of the normalised synchrony loss (lower = objects internally coherent, mutually apart)."""
    return synchrony_terms(phase, amplitude, masks)[0].mean()
