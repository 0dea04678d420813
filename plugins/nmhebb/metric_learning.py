"""NM-Hebb phase 2: the pairwise metric-learning loss on the penultimate embeddings.

    L_pair = mean_{pairs i<j in batch} [ y_ij d_ij^2 + (1 - y_ij) max(0, m - d_ij)^2 ]
    d_ij = ||g(x_i) - g(x_j)||,  y_ij = 1 when x_i and x_j share a class

Pairs are sampled within the batch: every unordered pair of distinct images. ``pair_weighting``
"uniform" averages over them all (with 10 classes about 90 % of the pairs are different-class);
"balanced" averages the same-class and the different-class pairs separately and weighs the two
means equally, as sampling positives and negatives in equal numbers would.

The embedding head z -> g (``embedding_head``) [reading: the paper says "L2-normalised
embeddings", and its embeddings, like neurozoo's, are pooled post-ReLU features z >= 0]:

- ``"l2"``: g = z / ||z||, the paper's formula. As z >= 0, cos >= 0 and d <= sqrt 2: every pair
  starts close. In a freshly initialised CIFAR-10 resnet18, 98.8 % of the different-class pairs of
  a batch of 128 lie inside m = 1 (train mode; 100 % in eval mode), so the loss mostly pushes every
  pair apart.
- ``"centered"``: g = (z - mean_batch z) / ||z - mean_batch z||: unit vectors seen from the batch
  mean, no sign constraint, so d spans [0, 2] and unrelated images sit near sqrt 2 (5.6 % of those
  pairs inside m = 1 at initialisation).
- ``"standardized"``: g = (z - mean_batch z) / sqrt(mean_batch ||z - mean_batch z||^2): the batch
  centred and divided by one common scale, so a typical pair of images sits at d ~ sqrt 2 and the
  loss is blind to exactly the shift and the overall scale that k-means (the NMI metric) is blind
  to, while it sees each image's distance from the others as k-means does (per-image norms are kept).
  27 % of the different-class pairs inside m = 1 at initialisation (the same batch, train mode).

Neither batch head has parameters or can collapse every image onto one point (the centred
embeddings sum to zero, and "standardized" keeps their mean square norm at 1). Under DDP the batch
is each process's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PAIR_WEIGHTINGS = ("uniform", "balanced")
EMBEDDING_HEADS = ("l2", "centered", "standardized")


def embed(embeddings: torch.Tensor, head: str) -> torch.Tensor:
    """g(x) for a batch of penultimate embeddings z (N, D), float32."""
    z = embeddings.float()
    if head == "l2":
        return F.normalize(z, dim=1)
    z = z - z.mean(0, keepdim=True)
    if head == "centered":
        return F.normalize(z, dim=1)
    return z / z.pow(2).sum(1).mean().clamp_min(1e-12).sqrt()


def pairwise_contrastive_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 1.0, weighting: str = "uniform",
    head: str = "l2",
) -> torch.Tensor:
    """The contrastive pair loss over all pairs i < j of the batch, on ``embed(embeddings, head)``,
    averaged as ``weighting`` says (see the module docstring)."""
    if weighting not in PAIR_WEIGHTINGS:
        raise ValueError(f"nmhebb: pair_weighting must be one of {PAIR_WEIGHTINGS}, got {weighting!r}")
    if head not in EMBEDDING_HEADS:
        raise ValueError(f"nmhebb: embedding_head must be one of {EMBEDDING_HEADS}, got {head!r}")
    if embeddings.dim() != 2 or labels.shape != embeddings.shape[:1]:
        raise ValueError(
            f"nmhebb: pair loss needs (N, D) embeddings and (N,) labels, got {tuple(embeddings.shape)} "
            f"and {tuple(labels.shape)}"
        )
    n = embeddings.shape[0]
    if n < 2:
        raise ValueError("nmhebb: the pair loss needs at least 2 images per batch; raise the batch size")
    g = embed(embeddings, head)
    norms = g.pow(2).sum(1)
    squared = (norms[:, None] + norms[None, :] - 2.0 * g @ g.T).clamp_min(0.0)
    # clamp keeps the sqrt's gradient finite for coincident embeddings
    distance = squared.clamp_min(1e-12).sqrt()
    same = labels[:, None] == labels[None, :]
    per_pair = torch.where(same, squared, (margin - distance).clamp_min(0.0).pow(2))
    upper = torch.ones(n, n, dtype=torch.bool, device=embeddings.device).triu(1)
    if weighting == "uniform":
        return per_pair[upper].mean()
    terms = [per_pair[upper & mask].mean() for mask in (same, ~same) if (upper & mask).any()]
    return torch.stack(terms).mean()
