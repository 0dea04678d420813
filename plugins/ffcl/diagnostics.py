"""Collapse diagnostics for FFCL's label-free hidden layers.

The hidden layers only learn to make the twins agree, which a constant (collapsed) code satisfies
perfectly. So agreement alone is not progress: each epoch the method reports, on a fixed slice of
images, the A/B agreement of every layer AND how linearly decodable the class still is from each
hidden layer (a logistic-regression probe fitted on one half of the slice, scored on the other).
High agreement with a probe near chance is collapse. Three statistics of each twin's code say
how far it has collapsed, whatever the labels: the mean cosine between codes of different images
(1: one direction for every image), the spread (summed per-unit variance over the squared norm of
the mean code; 0: one code for every image) and the share of dead units (zero on every image).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .losses import recorded_outputs
from .models import TwinMLP


@torch.no_grad()
def layer_activations(model: torch.nn.Module, twin_net: TwinMLP, images: torch.Tensor,
                      batch_size: int = 1000) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(A_l, B_l)`` outputs of every layer (output layer last) for ``images``, in eval mode."""
    was_training = model.training
    model.eval()
    try:
        chunks = []
        for start in range(0, images.shape[0], batch_size):
            with recorded_outputs(twin_net.layer_pairs()) as outputs:
                model(images[start:start + batch_size])
            chunks.append(outputs)
    finally:
        model.train(was_training)
    return [(torch.cat([c[layer][0] for c in chunks]), torch.cat([c[layer][1] for c in chunks]))
            for layer in range(len(chunks[0]))]


def agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean cosine similarity of the twins' outputs (what the hidden-layer loss maximises)."""
    return float(F.cosine_similarity(a.float(), b.float(), dim=1).mean())


def probe_accuracy(features: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """Accuracy of a linear probe fitted on the first half of the samples, scored on the second half."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    half = len(labels) // 2
    if half < 1 or len(np.unique(labels[:half])) < 2:
        raise ValueError(f"the probe needs at least two classes in its fitting half; got {len(labels)} samples")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))
    probe.fit(features[:half], labels[:half])
    return float(probe.score(features[half:], labels[half:]))


def code_statistics(code: torch.Tensor) -> dict[str, float]:
    """``similarity`` (mean cosine between the codes of different images), ``spread`` and
    ``dead`` (share of units that are zero on every image) of one layer's code (N, D)."""
    code = code.double()
    n = code.shape[0]
    unit = F.normalize(code, dim=1)
    pair_sum = unit.sum(dim=0).pow(2).sum() - unit.pow(2).sum()  # sum over i != j of cos(i, j)
    mean = code.mean(dim=0)
    return {
        "similarity": float(pair_sum / (n * (n - 1))),
        "spread": float(code.var(dim=0).sum() / mean.pow(2).sum().clamp_min(1e-12)),
        "dead": float((code.abs().amax(dim=0) == 0).double().mean()),
    }


def diagnostics(model: torch.nn.Module, twin_net: TwinMLP, images: torch.Tensor,
                labels: torch.Tensor) -> dict[str, float]:
    """For each hidden layer k (from 1): ``agree_l<k>``, ``probe_l<k>`` and the code statistics
    averaged over the two twins (``sim_l<k>``, ``spread_l<k>``, ``dead_l<k>``); ``agree_out``
    for the output layer."""
    pairs = layer_activations(model, twin_net, images)
    y = labels.cpu().numpy()
    scalars: dict[str, float] = {}
    for k, (a, b) in enumerate(pairs[:-1], start=1):
        scalars[f"agree_l{k}"] = agreement(a, b)
        scalars[f"probe_l{k}"] = probe_accuracy(torch.cat([a, b], dim=1).float().cpu().numpy(), y)
        twins = [code_statistics(a), code_statistics(b)]
        for name, short in (("similarity", "sim"), ("spread", "spread"), ("dead", "dead")):
            scalars[f"{short}_l{k}"] = (twins[0][name] + twins[1][name]) / 2
    logits_a, logits_b = pairs[-1]
    scalars["agree_out"] = agreement(logits_a.softmax(dim=1), logits_b.softmax(dim=1))
    return scalars
