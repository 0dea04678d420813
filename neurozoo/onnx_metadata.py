"""The neurozoo metadata of an exported ONNX model (``metadata_props``): what the edge runtime needs.

Export (torch side) writes it, :mod:`neurozoo.runtime` (no torch) reads it; both go through
:class:`OnnxMetadata`, so the key names live here only. Every value is a string (ONNX allows no
other); lists are JSON.

The graph takes ``input_layout`` = NCHW float32 pixels in [0, 1] of size ``input_size``. ``mean`` and
``std`` are recorded for reference only: the normalisation is ALREADY APPLIED inside the graph, so
callers must not normalise again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from neurozoo.errors import CheckpointError

MARKER_KEY = "neurozoo_version"  # present in every file neurozoo exports
INPUT_LAYOUT = "NCHW"
INPUT_DTYPE = "float32"
INPUT_RANGE = "[0, 1]"
NORMALIZATION_NOTE = "mean/std are applied inside the model: feed [0, 1] pixels, do not normalise"
PRECISIONS = ("fp32", "int8")
TASKS = ("multiclass", "multilabel")


@dataclass(frozen=True)
class OnnxMetadata:
    neurozoo_version: str
    class_names: tuple[str, ...]
    input_size: tuple[int, int, int]  # channels, height, width
    mean: tuple[float, ...]
    std: tuple[float, ...]
    task: str
    arch: str
    method: str
    dataset: str | None
    source_sha256: str  # sha256 of the model.safetensors the graph was exported from
    precision: str

    def to_props(self) -> dict[str, str]:
        return {
            MARKER_KEY: self.neurozoo_version,
            "class_names": json.dumps(list(self.class_names)),
            "input_size": json.dumps(list(self.input_size)),
            "input_layout": INPUT_LAYOUT,
            "input_dtype": INPUT_DTYPE,
            "input_range": INPUT_RANGE,
            "mean": json.dumps(list(self.mean)),
            "std": json.dumps(list(self.std)),
            "normalization": NORMALIZATION_NOTE,
            "task": self.task,
            "arch": self.arch,
            "method": self.method,
            "dataset": self.dataset or "",
            "source_sha256": self.source_sha256,
            "precision": self.precision,
        }

    @classmethod
    def from_props(cls, props: Mapping[str, str], source: str = "ONNX model") -> OnnxMetadata:
        """Parse ``metadata_props``; a file that neurozoo did not export is a :class:`CheckpointError`."""
        if MARKER_KEY not in props:
            raise CheckpointError(
                f"{source} has no neurozoo metadata (no {MARKER_KEY!r} in its metadata_props): export the "
                "model with `neurozoo export` or neurozoo.export_onnx, which records labels and input size"
            )
        try:
            metadata = cls(
                neurozoo_version=props[MARKER_KEY],
                class_names=tuple(str(c) for c in json.loads(props["class_names"])),
                input_size=tuple(int(v) for v in json.loads(props["input_size"])),
                mean=tuple(float(v) for v in json.loads(props["mean"])),
                std=tuple(float(v) for v in json.loads(props["std"])),
                task=props["task"],
                arch=props["arch"],
                method=props["method"],
                dataset=props["dataset"] or None,
                source_sha256=props["source_sha256"],
                precision=props["precision"],
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(
                f"{source} has damaged neurozoo metadata ({type(exc).__name__}: {exc}); re-export it with "
                "`neurozoo export`"
            ) from None
        problems = []
        if len(metadata.input_size) != 3:
            problems.append(f"input_size {list(metadata.input_size)} is not [channels, height, width]")
        if metadata.task not in TASKS:
            problems.append(f"task {metadata.task!r} is not one of {TASKS}")
        if metadata.precision not in PRECISIONS:
            problems.append(f"precision {metadata.precision!r} is not one of {PRECISIONS}")
        if not metadata.class_names:
            problems.append("class_names is empty")
        if problems:
            raise CheckpointError(f"{source} has invalid neurozoo metadata: {'; '.join(problems)}; re-export it")
        return metadata
