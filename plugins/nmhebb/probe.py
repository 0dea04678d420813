"""A fixed slice of training images on which NM-Hebb logs how its embeddings cluster, every epoch.

``probe_nmi`` is the shared ``nmi`` metric's measure (k-means with k = the number of classes on
the penultimate embeddings, 10 inits, seed 0; normalised mutual information with the labels)
computed on the first ``probe_samples`` training images the run sees, in eval mode. Those images
are the same for every arm trained with the same seed (the data order and the augmentation are
functions of the seed), and the slice is kept in the method state as uint8 pixels, so a resumed
run measures the same images. They are training images: the held-out figure is the shared
``nmi`` metric on the test set (``neurozoo eval RUN --metrics nmi``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class ProbeSlice:
    """The first ``size`` images (and labels) passed to :meth:`keep`; 0 keeps nothing."""

    def __init__(self, size: int):
        self.size = size
        self.pixels: torch.Tensor | None = None  # (N, C, H, W) uint8 on the CPU
        self.labels: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.labels is None else len(self.labels)

    def keep(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        """Add images in [0, 1] (decoded from uint8, so the round trip is exact) until the slice is full."""
        missing = self.size - len(self)
        if missing <= 0:
            return
        pixels = (images[:missing].detach().float() * 255).round().to("cpu", torch.uint8).contiguous()
        labels = labels[:missing].detach().to("cpu")
        self.pixels = pixels if self.pixels is None else torch.cat([self.pixels, pixels])
        self.labels = labels if self.labels is None else torch.cat([self.labels, labels])

    @torch.inference_mode()
    def nmi(self, model: nn.Module, num_classes: int, batch_size: int = 256) -> float:
        """NMI of k-means clusters of ``model``'s embeddings of the slice (model left in its mode)."""
        from sklearn.cluster import KMeans
        from sklearn.metrics import normalized_mutual_info_score

        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        try:
            embeddings = torch.cat([
                model(chunk.to(device).float() / 255, return_embedding=True)[1].float().cpu()
                for chunk in self.pixels.split(batch_size)
            ])
        finally:
            model.train(was_training)
        clusters = KMeans(n_clusters=num_classes, n_init=10, random_state=0).fit_predict(embeddings.numpy())
        return float(normalized_mutual_info_score(self.labels.numpy(), clusters))

    def state_dict(self) -> dict[str, Any]:
        return {"pixels": self.pixels, "labels": self.labels}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pixels, self.labels = state["pixels"], state["labels"]
