"""NM-Hebb phase 2: the pairwise metric-learning loss on L2-normalised penultimate embeddings.

    L_pair = mean_{pairs i<j in batch} [ y_ij d_ij^2 + (1 - y_ij) max(0, m - d_ij)^2 ]
    d_ij = ||g(x_i) - g(x_j)||,  g(x) = z / ||z||,  y_ij = 1 when x_i and x_j share a class

Pairs are sampled within the batch: every unordered pair of distinct images. On unit vectors
d^2 = 2 - 2 cos, so the distances lie in [0, 2] and a margin m = 1 separates classes by 60 degrees.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PAIR_WEIGHTINGS = ("uniform", "balanced")


def pairwise_contrastive_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 1.0, weighting: str = "uniform"
) -> torch.Tensor:
    """The contrastive pair loss over all pairs i < j of the batch.

    ``weighting="uniform"`` averages over every pair (the formula above); ``"balanced"`` averages
    the same-class and the different-class pairs separately and takes the mean of the two, so
    with many classes (few same-class pairs per batch) the pull term is not swamped.
    """
    if weighting not in PAIR_WEIGHTINGS:
        raise ValueError(f"nmhebb: pair_weighting must be one of {PAIR_WEIGHTINGS}, got {weighting!r}")
    if embeddings.dim() != 2 or labels.shape != embeddings.shape[:1]:
        raise ValueError(
            f"nmhebb: pair loss needs (N, D) embeddings and (N,) labels, got {tuple(embeddings.shape)} "
            f"and {tuple(labels.shape)}"
        )
    n = embeddings.shape[0]
    if n < 2:
        raise ValueError("nmhebb: the pair loss needs at least 2 images per batch; raise the batch size")
    g = F.normalize(embeddings.float(), dim=1)
    squared = (2.0 - 2.0 * g @ g.T).clamp_min(0.0)
    # clamp keeps the sqrt's gradient finite for coincident embeddings
    distance = squared.clamp_min(1e-12).sqrt()
    same = labels[:, None] == labels[None, :]
    per_pair = torch.where(same, squared, (margin - distance).clamp_min(0.0).pow(2))
    upper = torch.ones(n, n, dtype=torch.bool, device=embeddings.device).triu(1)
    if weighting == "uniform":
        return per_pair[upper].mean()
    terms = [per_pair[upper & mask].mean() for mask in (same, ~same) if (upper & mask).any()]
    return torch.stack(terms).mean()
