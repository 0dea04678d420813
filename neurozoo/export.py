"""ONNX export (torch side): an fp32 graph, an optional static int8 QDQ copy, and the checks on both.

    report = neurozoo.export_onnx("runs/baseline-resnet18-cifar10-...", int8=True)
    print(report.summary())

Writes ``model.onnx`` (fp32, dynamic batch, one self-contained file) in ``out_dir`` (default: the
current directory; never the repository's ``model_cards/`` nor the Hugging Face cache, which hold
verified published files); with ``int8=True`` also ``model.int8.onnx`` (QDQ, int8 weights, uint8
activations: the onnxruntime recommendation for x86 CPUs with VNNI), calibrated on images of the
dataset's train split. Both carry :class:`neurozoo.onnx_metadata.OnnxMetadata`, which is all that
:mod:`neurozoo.runtime` needs to run them without torch.

Export validates itself: the fp32 graph must match torch to ``FP32_ATOL`` on a batch size other
than the traced one (else :class:`ExportError` and nothing is written). The int8 graph is gated:
its accuracy on held-out images (the test split) may fall at most ``max_int8_drop_pp`` percentage
points below the fp32 graph's. Weights are quantised per channel first; when that fails the gate,
per tensor (per-channel int8 is known to break depthwise convolutions in onnxruntime); when both
fail, ``model.int8.onnx`` is not written and :class:`ExportError` gives both drops. A model whose own
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurozoo import __version__
from neurozoo.checkpoint import WEIGHTS_NAME, _weights_bytes, atomic_write_bytes, sha256_file
from neurozoo.errors import ConfigError, NeurozooError
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
MAX_INT8_DROP_PP = 1.0  # default gate: int8 accuracy at most this many percentage points below fp32
GRANULARITIES = ("per-channel", "per-tensor")  # int8 weight quantisation, in the order tried


class ExportError(NeurozooError):
    """A model that cannot be exported, or whose exported graph disagrees with torch."""


@dataclass(frozen=True)
class Int8Attempt:
    """One int8 quantisation checked on the held-out images."""

    granularity: str  # "per-channel" or "per-tensor" weights
    accuracy: float
    agreement: float  # fraction of held-out images where int8 and fp32 decide the same


@dataclass
class ExportReport:
    fp32_path: Path
    fp32_max_abs_diff: float  # |onnxruntime - torch| on CHECK_BATCH images, fp32 logits
    fp32_limit: float = FP32_ATOL  # FP32_ATOL, or twice the model's own fp32 noise when that is larger
    int8_path: Path | None = None
    calibration_images: int = 0
    held_out_images: int = 0
    fp32_accuracy: float | None = None  # of the fp32 graph on the held-out images
    int8_accuracy: float | None = None  # of the int8 graph written
    int8_agreement: float | None = None  # fraction of held-out images where int8 and fp32 agree
    int8_granularity: str | None = None  # weights of the int8 graph written: "per-channel" or "per-tensor"
    int8_attempts: list[Int8Attempt] = field(default_factory=list)  # every quantisation tried, in order
    max_int8_drop_pp: float | None = MAX_INT8_DROP_PP

    @property
    def accuracy_drop_pp(self) -> float | None:
        """fp32 minus int8 accuracy on the held-out images, in percentage points."""
        if self.int8_accuracy is None or self.fp32_accuracy is None:
            return None
        return _drop_pp(self.fp32_accuracy, self.int8_accuracy)

    def summary(self) -> str:
        lines = [
            f"fp32: {self.fp32_path}  (onnxruntime vs torch at batch {CHECK_BATCH}, traced at "
            f"{TRACE_BATCH}: max abs diff {self.fp32_max_abs_diff:.2e}, limit {self.fp32_limit:.1e})"
        ]
        rejected = [a for a in self.int8_attempts if a.granularity != self.int8_granularity]
        lines += [f"int8 {a.granularity}: drop {_drop_pp(self.fp32_accuracy, a.accuracy):+.2f} pp on "
                  f"{self.held_out_images} held-out images, above the {self.max_int8_drop_pp} pp limit: not written"
                  for a in rejected]
        if self.int8_path is not None:
            lines += [
                f"int8: {self.int8_path}  (static QDQ, {self.int8_granularity}, {self.calibration_images} "
                "calibration images)",
                f"held-out accuracy on {self.held_out_images} images: fp32 {100 * self.fp32_accuracy:.2f}%, "
                f"int8 {100 * self.int8_accuracy:.2f}% (drop {self.accuracy_drop_pp:+.2f} pp; "
                f"int8 agrees with fp32 on {100 * self.int8_agreement:.2f}%)",
            ]
        return "\n".join(lines)


def _drop_pp(fp32_accuracy: float, int8_accuracy: float) -> float:
    return 100.0 * (fp32_accuracy - int8_accuracy)


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
    held_out_size: int | None = None,
    seed: int = 0,
    max_int8_drop_pp: float | None = MAX_INT8_DROP_PP,
) -> ExportReport:
    """Export a model (or the checkpoint a name, run folder or checkpoint folder names) to ONNX.

    ``out_dir`` defaults to the current directory for a checkpoint (required for an in-memory model).
    ``max_int8_drop_pp``: the largest int8 accuracy drop (percentage points below fp32 on the
    held-out images) for which ``model.int8.onnx`` is written; None writes it whatever the drop.
    ``calibration``: int8 calibration images, (N, C, H, W) in [0, 1]; default ``calibration_size``
    random images of the dataset's train split. ``held_out``: ``(images, targets)`` for the int8
    gate; default ``held_out_size`` random images of the test split, all of them when None (on 1,000
    images, the drop of an int8 graph that disagrees with fp32 on 10 % of them is known to about
    +-1 pp, the size of the gate itself). ``data_dir`` is the dataset root (default
    ``$NEUROZOO_DATA``). ``opset`` defaults to the exporter's choice.
    """
    model, source = _resolve(model_or_name)
    if out_dir is None and source is None:
        raise ValueError("export_onnx(model) of an in-memory model needs out_dir=: the folder to write model.onnx to")
    out = Path(out_dir) if out_dir is not None else Path.cwd()
    _refuse_published_folders(out)
    if int8:  # the data first: a missing dataset should fail before the export work
        calibration, held_out = _int8_data(
            model.config, calibration, held_out, data_dir, calibration_size, held_out_size, seed
        )
    metadata = _metadata(model, source)
    fp32_bytes, diff, limit = _validated_fp32(model, metadata, opset, seed)
    out.mkdir(parents=True, exist_ok=True)
    report = ExportReport(fp32_path=out / FP32_NAME, fp32_max_abs_diff=diff, fp32_limit=limit,
                          max_int8_drop_pp=max_int8_drop_pp)
    atomic_write_bytes(report.fp32_path, fp32_bytes)
    if int8:
        report.calibration_images = len(calibration)
        _gated_int8(report, replace(metadata, precision="int8"), calibration, *held_out,
                    model.config.get("task", "multiclass"))
    return report


def _refuse_published_folders(out: Path) -> None:
    """Published files are verified against their records: an export must not add files among them."""
    from huggingface_hub import constants

    from neurozoo import hub

    target = out.expanduser().resolve()
    protected = (
        (hub.MODEL_CARDS_DIR, "the repository's published checkpoints (model_cards/)"),
        (Path(hub._hf_cache_dir() or constants.HF_HUB_CACHE), "the Hugging Face cache"),
    )
    for folder, what in protected:
        folder = folder.expanduser().resolve()
        if target == folder or folder in target.parents:
            raise ExportError(f"{out} is inside {what}; export to another folder with --out DIR (out_dir=)")


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
    if not diff <= limit:  # (also NaN) within twice the model's own fp32 noise, a graph cannot do better
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
    """The model's own fp32 rounding noise on ``images``, the larger of two measures (max abs logit):
    torch fp32 against torch float64 (0 if the model has no float64 path), and torch fp32 in the
    contiguous against the channels_last layout, two valid fp32 evaluations through different
    convolution kernels. The exported graph is one more such evaluation. Chained dynamics (KomplexNet's
    15 Kuramoto steps) amplify rounding: there the two layouts alone differ by up to 4e-4."""
    x = torch.from_numpy(images)
    with torch.no_grad():
        layouts = [copy.deepcopy(model).to(memory_format=layout)(x.contiguous(memory_format=layout)).numpy()
                   for layout in (torch.contiguous_format, torch.channels_last)]
    noise = float(np.abs(layouts[0] - layouts[1]).max())
    try:
        with torch.no_grad():
            exact = copy.deepcopy(model).double()(x.double()).numpy()
    except (RuntimeError, TypeError):  # a layer fixed to float32: no float64 reference
        return noise
    return max(noise, float(np.abs(fp32_logits - exact).max()))


def _int8_data(config: dict, calibration, held_out, data_dir, calibration_size: int, held_out_size: int | None,
               seed: int):
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


def _gated_int8(report: ExportReport, metadata: OnnxMetadata, calibration: np.ndarray, images: np.ndarray,
                targets: np.ndarray, task: str) -> None:
    """Quantise per channel, else per tensor; write the first graph within the drop limit, else raise."""
    import onnxruntime

    def logits(graph) -> np.ndarray:
        return _run(onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"]), images)

    fp32 = logits(str(report.fp32_path))
    report.held_out_images = len(images)
    report.fp32_accuracy = _accuracy(fp32, targets, task)
    for granularity in GRANULARITIES:
        graph = _stamp(_quantize(report.fp32_path, calibration, per_channel=granularity == "per-channel"), metadata)
        int8 = logits(graph)
        attempt = Int8Attempt(granularity, _accuracy(int8, targets, task), _agreement(fp32, int8, task))
        report.int8_attempts.append(attempt)
        limit = report.max_int8_drop_pp
        if limit is None or _drop_pp(report.fp32_accuracy, attempt.accuracy) <= limit:
            report.int8_path = report.fp32_path.parent / INT8_NAME
            atomic_write_bytes(report.int8_path, graph)
            report.int8_granularity, report.int8_accuracy, report.int8_agreement = (
                granularity, attempt.accuracy, attempt.agreement)
            return
    drops = ", ".join(f"{_drop_pp(report.fp32_accuracy, a.accuracy):+.2f} pp {a.granularity}"
                      for a in report.int8_attempts)
    raise ExportError(
        f"int8 accuracy on {len(images)} held-out images falls {drops} below fp32 "
        f"({100 * report.fp32_accuracy:.2f}%), above the {limit} pp limit: {INT8_NAME} was not written "
        f"({report.fp32_path} was). Calibrate on more images (--calibration-size) or accept a larger drop "
        "(--max-int8-drop PP)"
    )


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
        sha = hashlib.sha256(_weights_bytes(model, config["dtype"])).hexdigest()
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
        refusal = _model_refusal(exc)
        if refusal is not None:  # the model itself said why it cannot be exported: that line is the error
            raise ExportError(str(refusal)) from exc
        raise ExportError(
            f"torch.onnx.export failed for arch {model.config['arch']!r} (method {model.config['method']!r}): "
            f"{type(exc).__name__}: {exc}. Every layer must be traceable by torch.export with a dynamic "
            "batch: complex values as real pairs, no data-dependent Python control flow"
        ) from exc
    return program.model_proto


def _model_refusal(exc: BaseException) -> ConfigError | None:
    """The ConfigError a model raised under export, from the exporter's chain of wrapped errors."""
    while exc is not None:
        if isinstance(exc, ConfigError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _stamp(model_proto, metadata: OnnxMetadata) -> bytes:
    """The serialised model with ``metadata`` as its only metadata_props."""
    del model_proto.metadata_props[:]
    for key, value in metadata.to_props().items():
        entry = model_proto.metadata_props.add()
        entry.key, entry.value = key, value
    return model_proto.SerializeToString()


def _quantize(fp32_path: Path, calibration: np.ndarray, per_channel: bool):
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
        # shape inference + graph optimisation first: the onnxruntime-recommended order. Its symbolic
        # shape inference fails on some graphs (FFCL's twin log-sum-exp head: a shape it cannot type);
        # ONNX's own shape inference then does the job.
        try:
            quant_pre_process(str(fp32_path), str(prepared))
        except (TypeError, ValueError, KeyError):
            quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(quantized),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        return onnx.load(str(quantized))


def _dataset_sample(config: dict, split: str, count: int | None, data_dir, seed: int, argument: str):
    """``count`` random (seeded) images and targets of the model's dataset split (all when None), as numpy."""
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
