"""komplexnet, komplexnet_fb and the real baseline export to plain ONNX (real inputs and outputs) and match torch."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

import neurozoo
from neurozoo.export import export_onnx


@pytest.mark.parametrize("arch", ["komplexnet", "komplexnet_fb", "realnet"])
def test_export_matches_torch(arch, tmp_path):
    torch.manual_seed(0)
    # two steps exercise the whole unrolled loop (coupling, feedback from the previous step) cheaply
    model = neurozoo.create_model(arch, num_classes=10, input_size=(1, 32, 32), method="kuramoto",
                                  method_kwargs={"timesteps": 2}).eval()
    report = export_onnx(model, out_dir=tmp_path)  # validates itself against torch at another batch size
    assert report.fp32_max_abs_diff <= 1e-4

    graph = onnx.load(report.fp32_path)
    complex_types = {onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128}
    values = [*graph.graph.input, *graph.graph.output, *graph.graph.value_info]
    assert not [v.name for v in values if v.type.tensor_type.elem_type in complex_types]

    # digit-like images at a third batch size: deterministic phases in eval mode make outputs reproducible
    images = np.zeros((5, 1, 32, 32), np.float32)
    images[:, :, 6:16, 8:12] = 1.0
    images[:, :, 18:28, 20:24] = np.linspace(0.2, 1.0, 5, dtype=np.float32)[:, None, None, None]
    session = onnxruntime.InferenceSession(str(report.fp32_path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {session.get_inputs()[0].name: images})
    with torch.no_grad():
        expected = model(torch.from_numpy(images)).numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)
