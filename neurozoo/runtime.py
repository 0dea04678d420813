"""Edge inference for exported neurozoo models: numpy, Pillow and onnxruntime only, never torch.

    from neurozoo.runtime import OnnxClassifier
    classifier = OnnxClassifier("model.onnx")           # or model.int8.onnx
    classifier.predict_file("cat.png", top_k=3)         # Prediction(labels=('cat', ...), ...)
    classifier.predict(images)                          # one Prediction per image

Labels, input size and task come from the model's neurozoo metadata (:mod:`neurozoo.onnx_metadata`).
Images may be PIL images, uint8 arrays (H, W), (H, W, C) or (N, H, W, C), or float arrays
(C, H, W) or (N, C, H, W) already in [0, 1]. They are converted to the model's channel count
(grayscale <-> RGB, with Pillow), resized to its input size (Pillow bilinear with antialiasing,
like torchvision's ``Resize(antialias=True)``; refused when ``allow_resize=False``) and scaled to
[0, 1]. Mean/std normalisation is inside the graph. Probabilities are softmax for multiclass
models and per-label sigmoid for multilabel ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime
from PIL import Image, UnidentifiedImageError

from neurozoo.errors import CheckpointError
from neurozoo.onnx_metadata import OnnxMetadata

PIL_MODES = {1: "L", 3: "RGB"}  # channel counts Pillow converts between


@dataclass(frozen=True)
class Prediction:
    """The top-k classes of one image, most probable first."""

    labels: tuple[str, ...]
    probabilities: tuple[float, ...]
    indices: tuple[int, ...]


class OnnxClassifier:
    """An exported neurozoo model (``neurozoo export``) run by onnxruntime."""

    def __init__(self, path: str | os.PathLike, providers: list[str] | None = None, allow_resize: bool = True):
        self.path = Path(path)
        if not self.path.is_file():
            raise CheckpointError(f"no ONNX model at {self.path}; create one with `neurozoo export`")
        try:
            self.session = onnxruntime.InferenceSession(
                str(self.path), providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises untyped errors for unreadable graphs
            raise CheckpointError(
                f"{self.path} is not an ONNX model onnxruntime can open ({exc}); export it with `neurozoo export`"
            ) from None
        self.metadata = OnnxMetadata.from_props(self.session.get_modelmeta().custom_metadata_map, str(self.path))
        self.allow_resize = allow_resize
        self.input_name = self.session.get_inputs()[0].name

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.metadata.class_names

    @property
    def input_size(self) -> tuple[int, int, int]:
        return self.metadata.input_size

    def preprocess(self, images) -> np.ndarray:
        """``images`` as the graph's input: float32 (N, C, H, W) in [0, 1] at the input size."""
        if isinstance(images, (Image.Image, np.ndarray)):
            batch = self._pil_batch([images]) if isinstance(images, Image.Image) else self._array_batch(images)
        elif isinstance(images, (list, tuple)):
            if not images:
                raise ValueError("empty batch: pass at least one image")
            batch = np.concatenate([self.preprocess(image) for image in images])
        else:
            raise TypeError(
                f"images must be a PIL image, a numpy array or a list of them, got {type(images).__name__}"
            )
        return batch

    def predict_proba(self, images) -> np.ndarray:
        """Class probabilities (N, classes): softmax (multiclass) or sigmoid per label (multilabel)."""
        (logits,) = self.session.run(None, {self.input_name: self.preprocess(images)})
        logits = logits.astype(np.float64)
        if self.metadata.task == "multilabel":
            return 1.0 / (1.0 + np.exp(-logits))
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predict(self, images, top_k: int = 5) -> list[Prediction]:
        """The ``top_k`` most probable classes of each image."""
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be a positive int, got {top_k!r}")
        probabilities = self.predict_proba(images)
        top = np.argsort(-probabilities, axis=1, kind="stable")[:, :top_k]
        return [
            Prediction(
                labels=tuple(self.class_names[i] for i in row),
                probabilities=tuple(float(p) for p in probs[row]),
                indices=tuple(int(i) for i in row),
            )
            for row, probs in zip(top, probabilities)
        ]

    def predict_file(self, path: str | os.PathLike, top_k: int = 5) -> Prediction:
        """Predict one image file (any format Pillow reads)."""
        try:
            with Image.open(path) as image:
                image.load()
        except UnidentifiedImageError:
            raise ValueError(f"{path} is not an image Pillow can read (PNG, JPEG, ...); pass an image file") from None
        return self.predict(image, top_k)[0]

    def _pil_batch(self, images: list[Image.Image]) -> np.ndarray:
        channels, height, width = self.input_size
        if channels not in PIL_MODES:
            raise ValueError(
                f"this model takes {channels}-channel input, which Pillow images cannot carry; pass a float "
                f"(N, {channels}, H, W) array"
            )
        arrays = []
        for image in images:
            image = image.convert(PIL_MODES[channels])
            if image.size != (width, height):
                self._check_resize((image.height, image.width))
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.float32) / 255.0
            arrays.append(array[None] if channels == 1 else array.transpose(2, 0, 1))
        return np.stack(arrays)

    def _array_batch(self, array: np.ndarray) -> np.ndarray:
        if array.size == 0:
            raise ValueError(f"empty batch (array of shape {array.shape}): pass at least one image")
        if array.dtype == np.uint8:
            return self._uint8_batch(array)
        if array.dtype in (np.float32, np.float64):
            return self._float_batch(array)
        raise ValueError(
            f"images of dtype {array.dtype} are not supported: pass uint8 pixels (H, W, C) / (N, H, W, C) or "
            "float32 pixels in [0, 1] (C, H, W) / (N, C, H, W)"
        )

    def _uint8_batch(self, array: np.ndarray) -> np.ndarray:
        """uint8 (H, W), (H, W, C) or (N, H, W, C) -> the graph's input."""
        if array.ndim == 2:
            array = array[..., None]
        if array.ndim == 3:
            array = array[None]
        if array.ndim != 4:
            raise ValueError(f"uint8 images must be (H, W), (H, W, C) or (N, H, W, C), got shape {array.shape}")
        channels, height, width = self.input_size
        given = array.shape[3]
        if given == channels and array.shape[1:3] == (height, width):
            return array.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        if given not in PIL_MODES:
            raise ValueError(
                f"images have {given} channels (uint8 layout is N, H, W, C); this model takes {channels} "
                f"(grayscale and RGB are converted)"
            )
        return self._pil_batch([Image.fromarray(image[..., 0] if given == 1 else image) for image in array])

    def _float_batch(self, array: np.ndarray) -> np.ndarray:
        """float (C, H, W) or (N, C, H, W) in [0, 1] -> the graph's input (float32)."""
        if array.ndim == 3:
            array = array[None]
        if array.ndim != 4:
            raise ValueError(f"float images must be (C, H, W) or (N, C, H, W), got shape {array.shape}")
        if not np.isfinite(array).all():
            raise ValueError("images contain NaN or infinite values; check the decoding step before predicting")
        if array.min() < 0 or array.max() > 1:
            raise ValueError(
                f"float images must be in [0, 1] (got {array.min():.3g}..{array.max():.3g}); divide 0-255 "
                "pixels by 255, or pass uint8; do not normalise (the model does)"
            )
        channels, height, width = self.input_size
        if array.shape[1] != channels:
            raise ValueError(
                f"images have {array.shape[1]} channels (float layout is N, C, H, W); this model takes {channels}"
            )
        if array.shape[2:] != (height, width):
            self._check_resize(array.shape[2:])
            array = np.stack([
                [np.asarray(Image.fromarray(plane).resize((width, height), Image.Resampling.BILINEAR))
                 for plane in image.astype(np.float32)]
                for image in array
            ]).clip(0.0, 1.0)
        return np.ascontiguousarray(array, dtype=np.float32)

    def _check_resize(self, size: tuple[int, int]) -> None:
        if not self.allow_resize:
            _, height, width = self.input_size
            raise ValueError(
                f"image size {size[0]}x{size[1]} (HxW) differs from the model's input size {height}x{width} "
                "and resizing is off: resize the images first or use allow_resize=True"
            )
