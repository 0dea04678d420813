"""An exported ONNX file seen as a model, so the deployed artefact (fp32 or int8) goes through the
same evaluation as its checkpoint.

The session and the metadata (labels, input size, dataset) come from the edge runtime's
:class:`neurozoo.runtime.OnnxClassifier`. onnxruntime gives no gradients and no modules, so
metrics that need them (attacks, layer hooks) are rejected for an ONNX model before any work.
"""

from __future__ import annotations

import os

import torch


class OnnxModel:
    """``OnnxModel("model.onnx")(images) -> logits``: [0, 1] float (N, C, H, W) in, torch logits out."""

    def __init__(self, path: str | os.PathLike, providers: list[str] | None = None):
        from neurozoo.runtime import OnnxClassifier

        self.runtime = OnnxClassifier(path, providers=providers, allow_resize=False)
        self.path = self.runtime.path
        self.metadata = self.runtime.metadata

    @property
    def num_classes(self) -> int:
        return len(self.metadata.class_names)

    def __call__(self, images: torch.Tensor, return_embedding: bool = False) -> torch.Tensor:
        if return_embedding:
            raise NotImplementedError(f"{self.path} (ONNX) gives logits only, no embedding")
        array = images.detach().to("cpu", torch.float32).contiguous().numpy()
        (logits,) = self.runtime.session.run(None, {self.runtime.input_name: array})
        return torch.from_numpy(logits).to(images.device)

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r})"
