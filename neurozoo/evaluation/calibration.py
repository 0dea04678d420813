"""Confidence quality: expected calibration error and misclassification-detection AUROC."""

from __future__ import annotations

import torch


def expected_calibration_error(confidence: torch.Tensor, correct: torch.Tensor, n_bins: int = 15) -> float:
    """ECE with ``n_bins`` equal-width confidence bins (Guo et al. 2017):
    sum over bins of (bin size / N) * |accuracy in bin - mean confidence in bin|.

    Bins are right-closed, (k/n, (k+1)/n]; a confidence of exactly 0 falls in the first bin.
    Hand-written because scikit-learn has no multiclass ECE and torchmetrics is not a dependency.
    """
    if n_bins < 1:
        raise ValueError(f"ece: n_bins must be >= 1, got {n_bins}")
    confidence = confidence.double()
    correct = correct.double()
    bins = (torch.ceil(confidence * n_bins).long() - 1).clamp(0, n_bins - 1)
    count = torch.bincount(bins, minlength=n_bins)
    gap = torch.bincount(bins, weights=correct - confidence, minlength=n_bins).abs()
    return (gap.sum() / count.sum()).item()


def ece(ctx, n_bins: int = 15) -> dict[str, float]:
    out = ctx.outputs()
    confidence = out.probabilities.max(dim=1).values
    return {"ece": expected_calibration_error(confidence, out.correct, n_bins)}


def misclassification_auroc(ctx) -> dict[str, float | None]:
    """AUROC of the maximum softmax probability for telling correct from misclassified inputs
    (Hendrycks & Gimpel 2017); undefined (None) when all samples are right, or all wrong."""
    from sklearn.metrics import roc_auc_score

    out = ctx.outputs()
    is_correct = out.correct.numpy()
    if is_correct.all() or not is_correct.any():
        return {"misclassification_auroc": None}
    score = out.probabilities.max(dim=1).values.numpy()
    return {"misclassification_auroc": float(roc_auc_score(is_correct, score))}
