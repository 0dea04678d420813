"""An ONNX file seen as a model: the deployed artefact (fp32 or int8) goes through the same evaluation.

onnxruntime gives no gradients and no modules, so metrics that need them (attacks, layer hooks)
are rejected for an ONNX model before any work is done.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from neurozoo.errors import CheckpointError


class OnnxModel:
    """``OnnxModel("model.onnx")(images) -> logits``: [0, 1] float (N, C, H, W) in, torch logits out."""

    def __init__(self, path: str | os.PathLike, providers: list[str] | None = None):
        import onnxruntime

        self.path = Path(path)
        try:
            self.session = onnxruntime.InferenceSession(
                str(self.path), providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors for unreadable graphs
            raise CheckpointError(
                f"{self.path} could not be opened by onnxruntime ({exc}); re-export it with `neurozoo export`"
            ) from None
        graph_input = self.session.get_inputs()[0]
        graph_output = self.session.get_outputs()[0]
        self.input_name = graph_input.name
        self.output_name = graph_output.name
        # fixed dimensions are ints; dynamic ones (the batch) are names or None
        self.input_size = tuple(d if isinstance(d, int) else None for d in graph_input.shape[1:])
        classes = graph_output.shape[-1]
        self.num_classes = classes if isinstance(classes, int) else None
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def __call__(self, images: torch.Tensor, return_embedding: bool = False) -> torch.Tensor:
        if return_embedding:
            raise NotImplementedError(f"{self.path} (ONNX) gives logits only, no embedding")
        array = images.detach().to("cpu", torch.float32).contiguous().numpy()
        (logits,) = self.session.run([self.output_name], {self.input_name: array})
        return torch.from_numpy(logits).to(images.device)

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r})"
