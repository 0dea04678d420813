"""ONNX export (torch side): an fp32 graph, an optional static int8 QDQ copy, and the checks on both.

    report = neurozoo.export_onnx("runs/baseline-resnet18-cifar10-...", int8=True)
    print(report.summary())

Writes ``model.onnx`` (fp32, dynamic batch, one self-contained file) next to the checkpoint, or in
``out_dir``; with ``int8=True`` also ``model.int8.onnx`` (QDQ, per-channel int8 weights, uint8
activations: the onnxruntime recommendation for x86 CPUs with VNNI), calibrated on images of the
dataset's train split. Both carry :class:`neurozoo.onnx_metadata.OnnxMetadata`, which is all that
:mod:`neurozoo.runtime` needs to run them without torch.

Export validates itself: the fp32 graph must match torch to ``FP32_ATOL`` on a batch size other
than the traced one (else :class:`ExportError` and nothing is written), and the int8 graph's
accuracy on held-out images (the test split) is measured against the fp32 graph's. A model whose own
float32 rounding noise exceeds ``FP32_ATOL`` (iterated dynamics such as the Kuramoto nets' 15 phase
steps amplify it) cannot be matched closer than that noise by any fp32 implementation; for such a
model the limit is twice the noise, measured as torch fp32 vs a float64 copy of the model.
"""

from __future__ import annotations

import copy
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurozoo import __version__
from neurozoo.checkpoint import WEIGHTS_NAME, _weights_bytes, atomic_write_bytes, sha256_file
from neurozoo.errors import NeurozooError
from neurozoo.model import NeurozooModel
from neurozoo.onnx_metadata import OnnxMetadata

FP32_NAME = "model.onnx"
INT8_NAME = "model.int8.onnx"
INPUT_NAME = "images"
OUTPUT_NAME = "logits"
TRACE_BATCH = 2
CHECK_BATCH = 3  # differs from TRACE_BATCH: proves the batch dimension really is dynamic
FP32_ATOL = 1e-4
RUN_BATCH = 64  # batch size for calibration and held-out passes through onnxruntime


class ExportError(NeurozooError):
    """A model that cannot be exported, or whose exported graph disagrees with torch."""


@dataclass
class ExportReport:
    fp32_path: Path
    fp32_max_abs_diff: float  # |onnxruntime - torch| on CHECK_BATCH images, fp32 logits
    fp32_limit: float = FP32_ATOL  # FP32_ATOL, or twice the model's own fp32 noise when that is larger
    int8_path: Path | None = None
    calibration_images: int = 0
    held_out_images: int = 0
    fp32_accuracy: float | None = None  # of the fp32 graph on the held-out images
    int8_accuracy: float | None = None
    int8_agreement: float | None = None  # fraction of held-out images where int8 and fp32 agree

    @property
    def accuracy_drop_pp(self) -> float | None:
        """fp32 minus int8 accuracy on the held-out images, in percentage points."""
        if self.int8_accuracy is None or self.fp32_accuracy is None:
            return None
        return 100.0 * (self.fp32_accuracy - self.int8_accuracy)

    def summary(self) -> str:
        lines = [
            f"fp32: {self.fp32_path}  (onnxruntime vs torch at batch {CHECK_BATCH}, traced at "
            f"{TRACE_BATCH}: max abs diff {self.fp32_max_abs_diff:.2e}, limit {self.fp32_limit:.1e})"
        ]
        if self.int8_path is not None:
            lines += [
                f"int8: {self.int8_path}  (static QDQ, per-channel, {self.calibration_images} calibration images)",
                f"held-out accuracy on {self.held_out_images} images: fp32 {100 * self.fp32_accuracy:.2f}%, "
                f"int8 {100 * self.int8_accuracy:.2f}% (drop {self.accuracy_drop_pp:+.2f} pp; "
                f"int8 agrees with fp32 on {100 * self.int8_agreement:.2f}%)",
            ]
        return "\n".join(lines)


def export_onnx(
    model_or_name: NeurozooModel | str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    *,
    int8: bool = False,
    calibration: Any = None,
    held_out: tuple[Any, Any] | None = None,
    opset: int | None = None,
    data_dir: str | os.PathLike | None = None,
    calibration_size: int = 256,
    held_out_size: int = 1000,
    seed: int = 0,
) -> ExportReport:
    """Export a model (or the checkpoint a name, run folder or checkpoint folder names) to ONNX.

    ``out_dir`` defaults to the checkpoint folder (required for an in-memory model).
    ``calibration``: int8 calibration images, (N, C, H, W) in [0, 1]; default ``calibration_size``
    random images of the dataset's train split. ``held_out``: ``(images, targets)`` for the int8
    accuracy check; default ``held_out_size`` random images of the test split. ``data_dir`` is the
    dataset root (default ``$NEUROZOO_DATA``). ``opset`` defaults to the exporter's choice.
    """
    model, source = _resolve(model_or_name)
    if out_dir is None and source is None:
        raise ValueError("export_onnx(model) of an in-memory model needs out_dir=: the folder to write model.onnx to")
    if int8:  # the data first: a missing dataset should fail before the export work
        calibration, held_out = _int8_data(
            model.config, calibration, held_out, data_dir, calibration_size, held_out_size, seed
        )
    metadata = _metadata(model, source)
    fp32_bytes, diff, limit = _validated_fp32(model, metadata, opset, seed)
    out = Path(out_dir) if out_dir is not None else source
    out.mkdir(parents=True, exist_ok=True)
    report = ExportReport(fp32_path=out / FP32_NAME, fp32_max_abs_diff=diff, fp32_limit=limit)
    atomic_write_bytes(report.fp32_path, fp32_bytes)
    if int8:
        report.int8_path = out / INT8_NAME
        int8_model = _quantize(report.fp32_path, calibration)
        atomic_write_bytes(report.int8_path, _stamp(int8_model, replace(metadata, precision="int8")))
        report.calibration_images = len(calibration)
        _check_int8(report, *held_out, model.config.get("task", "multiclass"))
    return report


def _validated_fp32(model: NeurozooModel, metadata: OnnxMetadata, opset: int | None, seed: int):
    """(stamped fp32 graph, max abs logit diff from torch, the limit it passed); ExportError past the limit."""
    import onnxruntime

    graph = _stamp(_export_fp32(model, opset), metadata)
    session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
    images = np.random.default_rng(seed).random((CHECK_BATCH, *model.config["input_size"]), dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(images)).numpy()
    diff = float(np.abs(_run(session, images) - expected).max())
    limit = FP32_ATOL
    if not diff <= limit:  # (also NaN) within the model's own fp32 noise, a graph cannot do better
        noise = _fp32_noise(model, images, expected)
        limit = max(limit, 2 * noise)
    if not diff <= limit:
        raise ExportError(
            f"the exported graph of {model.config['arch']!r} (method {model.config['method']!r}) disagrees "
            f"with torch: max abs logit diff {diff:.3g} > {limit:.3g} at batch {CHECK_BATCH}; nothing was "
            "written. A layer the exporter translates differently is the usual cause: export with "
            "torch.onnx.export(..., report=True) to see the translated graph"
        )
    return graph, diff, limit


def _fp32_noise(model: NeurozooModel, images: np.ndarray, fp32_logits: np.ndarray) -> float:
    """max |torch fp32 - torch float64| logits: the model's own rounding noise (0 if it has no float64 path)."""
    reference = copy.deepcopy(model).double()
    try:
        with torch.no_grad():
            exact = reference(torch.from_numpy(images).double()).numpy()
    except (RuntimeError, TypeError):  # a layer fixed to float32: no noise estimate, the plain limit holds
        return 0.0
    return float(np.abs(fp32_logits - exact).max())


def _int8_data(config: dict, calibration, held_out, data_dir, calibration_size: int, held_out_size: int, seed: int):
    """(calibration images, (held-out images, targets)) as checked numpy arrays; dataset splits by default."""
    if calibration is None:
        calibration, _ = _dataset_sample(config, "train", calibration_size, data_dir, seed, "calibration=")
    calibration = _images(calibration, config, "calibration")
    if held_out is None:
        held_out = _dataset_sample(config, "test", held_out_size, data_dir, seed, "held_out=")
    images, targets = _images(held_out[0], config, "held_out images"), np.asarray(held_out[1])
    if len(targets) != len(images):
        raise ValueError(f"held_out has {len(images)} images but {len(targets)} targets")
    return calibration, (images, targets)


def _check_int8(report: ExportReport, images: np.ndarray, targets: np.ndarray, task: str) -> None:
    """Fill the report's held-out accuracy of the fp32 and int8 graphs."""
    import onnxruntime

    fp32, int8 = (
        _run(onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]), images)
        for path in (report.fp32_path, report.int8_path)
    )
    report.held_out_images = len(images)
    report.fp32_accuracy = _accuracy(fp32, targets, task)
    report.int8_accuracy = _accuracy(int8, targets, task)
    report.int8_agreement = _agreement(fp32, int8, task)


def _resolve(model_or_name) -> tuple[NeurozooModel, Path | None]:
    """The model (switched to eval mode) and its checkpoint folder (None for an in-memory model)."""
    if isinstance(model_or_name, NeurozooModel):
        device = model_or_name.normalize.mean.device
        if device.type != "cpu":
            raise ValueError(f"export_onnx traces on the CPU but the model is on {device}: pass model.cpu()")
        return model_or_name.eval(), None
    if isinstance(model_or_name, torch.nn.Module):
        raise TypeError(
            f"export_onnx needs a model from neurozoo.create_model or neurozoo.load (it reads labels and "
            f"input size from model.config), got {type(model_or_name).__name__}"
        )
    from neurozoo.checkpoint import load_folder
    from neurozoo.zoo import resolve

    folder = resolve(model_or_name)
    return load_folder(folder), folder


def _metadata(model: NeurozooModel, source: Path | None) -> OnnxMetadata:
    """The fp32 graph's metadata (``dataclasses.replace`` it for the int8 graph)."""
    config = model.config
    if source is not None:
        sha = sha256_file(source / WEIGHTS_NAME)
    else:  # the file neurozoo.save would write for this model
        sha = hashlib.sha256(_weights_bytes(model)).hexdigest()
    return OnnxMetadata(
        neurozoo_version=__version__,
        class_names=tuple(config["class_names"]),
        input_size=tuple(config["input_size"]),
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
        task=config.get("task", "multiclass"),
        arch=config["arch"],
        method=config["method"],
        dataset=config.get("dataset"),
        source_sha256=sha,
        precision="fp32",
    )


def _export_fp32(model: NeurozooModel, opset: int | None):
    """The fp32 graph (onnx.ModelProto) with a dynamic batch dimension, weights inside."""
    example = torch.rand(TRACE_BATCH, *model.config["input_size"])
    try:
        program = torch.onnx.export(
            model,
            (example,),
            dynamo=True,
            external_data=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
            verbose=False,
        )
    except Exception as exc:  # the exporter raises many types; all mean "this graph does not export"
        raise ExportError(
            f"torch.onnx.export failed for arch {model.config['arch']!r} (method {model.config['method']!r}): "
            f"{type(exc).__name__}: {exc}. Every layer must be traceable by torch.export with a dynamic "
            "batch: complex values as real pairs, no data-dependent Python control flow"
        ) from exc
    return program.model_proto


def _stamp(model_proto, metadata: OnnxMetadata) -> bytes:
    """The serialised model with ``metadata`` as its only metadata_props."""
    del model_proto.metadata_props[:]
    for key, value in metadata.to_props().items():
        entry = model_proto.metadata_props.add()
        entry.key, entry.value = key, value
    return model_proto.SerializeToString()


def _quantize(fp32_path: Path, calibration: np.ndarray):
    """Static QDQ int8 quantisation of the graph at ``fp32_path``; returns the onnx.ModelProto."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches: Iterator[np.ndarray] = _batches(calibration)

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    with tempfile.TemporaryDirectory(prefix="neurozoo-int8-") as tmp:
        prepared, quantized = Path(tmp) / "prepared.onnx", Path(tmp) / "quantized.onnx"
        # shape inference + graph optimisation first: the onnxruntime-recommended order
        quant_pre_process(str(fp32_path), str(prepared))
        quantize_static(
            str(prepared),
            str(quantized),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        return onnx.load(str(quantized))


def _dataset_sample(config: dict, split: str, count: int, data_dir, seed: int, argument: str):
    """``count`` random (seeded) images and targets of the model's dataset split, as numpy."""
    if not config.get("dataset"):
        raise ValueError(
            f"the model's config names no dataset, so there are no {split} images for int8 calibration "
            f"and checking: pass {argument} explicitly"
        )
    from torch.utils.data import DataLoader, Subset

    from neurozoo.registry import get_dataset

    data = get_dataset(config["dataset"]).load(split, root=data_dir)
    indices = np.random.default_rng(seed).permutation(len(data))[:count].tolist()
    images, targets, *_ = next(iter(DataLoader(Subset(data, indices), batch_size=len(indices))))
    return images.numpy(), targets.numpy()


def _images(images: Any, config: dict, name: str) -> np.ndarray:
    array = np.ascontiguousarray(np.asarray(images, dtype=np.float32))
    expected = tuple(config["input_size"])
    if array.ndim != 4 or array.shape[1:] != expected or len(array) == 0:
        raise ValueError(f"{name} must be a non-empty (N, {', '.join(map(str, expected))}) array, got {array.shape}")
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise ValueError(f"{name} must be finite pixels in [0, 1] (the model normalises inside)")
    return array


def _batches(images: np.ndarray) -> Iterator[np.ndarray]:
    for start in range(0, len(images), RUN_BATCH):
        yield images[start:start + RUN_BATCH]


def _run(session, images: np.ndarray) -> np.ndarray:
    return np.concatenate([session.run(None, {INPUT_NAME: batch})[0] for batch in _batches(images)])


def _decisions(logits: np.ndarray, task: str) -> np.ndarray:
    """Predicted class per image (multiclass) or predicted label set (multilabel, logit > 0)."""
    return logits > 0 if task == "multilabel" else logits.argmax(1)


def _accuracy(logits: np.ndarray, targets: np.ndarray, task: str) -> float:
    """Top-1 accuracy (multiclass) or mean per-label accuracy (multilabel)."""
    truth = targets > 0.5 if task == "multilabel" else targets
    return float((_decisions(logits, task) == truth).mean())


def _agreement(a: np.ndarray, b: np.ndarray, task: str) -> float:
    return float((_decisions(a, task) == _decisions(b, task)).mean())
