"""The edge runtime: no torch import, the same predictions as the torch model on real images,
preprocessing from the metadata, and clear errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

import neurozoo
from neurozoo.cli import main
from neurozoo.errors import CheckpointError
from neurozoo.export import export_onnx
from neurozoo.runtime import OnnxClassifier


@pytest.fixture(scope="module")
def cifar_model(tmp_path_factory):
    """A (randomly initialised) CIFAR-10 resnet18 and its fp32 ONNX export."""
    torch.manual_seed(0)
    model = neurozoo.create_model("resnet18", dataset="cifar10").eval()
    report = export_onnx(model, tmp_path_factory.mktemp("cifar_onnx"))
    return model, report.fp32_path


@pytest.fixture(scope="module")
def digit_model(tmp_path_factory):
    """A grayscale 28x28 MNIST mlp and its fp32 ONNX export."""
    torch.manual_seed(0)
    model = neurozoo.create_model("mlp", dataset="mnist", hidden=(16,)).eval()
    report = export_onnx(model, tmp_path_factory.mktemp("digit_onnx"))
    return model, report.fp32_path


@pytest.fixture(scope="module")
def cifar_test_images(shared_data):
    with np.load(shared_data / "cifar10_test.npz") as data:
        return data["images"][:16], data["labels"][:16]


def _torch_probabilities(model, images_uint8_nhwc: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(images_uint8_nhwc).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        return torch.softmax(model(x), dim=1).double().numpy()


def test_importing_and_running_the_runtime_needs_no_torch(cifar_model):
    _, path = cifar_model
    script = "\n".join([
        "import json, sys",
        "sys.modules['torch'] = None  # from here on, any `import torch` raises ImportError",
        "import numpy as np",
        "from neurozoo.runtime import OnnxClassifier",
        f"prediction = OnnxClassifier({str(path)!r}).predict(np.zeros((32, 32, 3), np.uint8), top_k=2)[0]",
        "heavy = [m for m in ('torch', 'torchvision', 'timm', 'pluggy') if sys.modules.get(m) is not None]",
        "print(json.dumps({'labels': prediction.labels, 'heavy': heavy}))",
    ])
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["heavy"] == []
    assert len(output["labels"]) == 2 and set(output["labels"]) <= set(neurozoo.get_dataset("cifar10").class_names)


def test_predictions_equal_the_torch_model_on_real_images(cifar_model, cifar_test_images):
    model, path = cifar_model
    images, _ = cifar_test_images
    classifier = OnnxClassifier(path)
    expected = _torch_probabilities(model, images)

    np.testing.assert_allclose(classifier.predict_proba(images), expected, atol=1e-5)
    predictions = classifier.predict(images, top_k=3)
    top3 = np.argsort(-expected, axis=1)[:, :3]
    assert [p.indices for p in predictions] == [tuple(row) for row in top3]
    assert predictions[0].labels == tuple(model.class_names[i] for i in top3[0])
    # the same images as PIL images, one uint8 HWC image, and float NCHW in [0, 1] agree
    pil_images = [Image.fromarray(image) for image in images]
    np.testing.assert_allclose(classifier.predict_proba(pil_images), expected, atol=1e-5)
    np.testing.assert_allclose(classifier.predict_proba(images[0]), expected[:1], atol=1e-5)
    floats = images.transpose(0, 3, 1, 2).astype(np.float32) / 255
    np.testing.assert_allclose(classifier.predict_proba(floats), expected, atol=1e-5)


def test_predict_file_resizes_like_the_torch_preprocess(cifar_model, cifar_test_images, tmp_path):
    model, path = cifar_model
    image = Image.fromarray(cifar_test_images[0][3]).resize((48, 40), Image.Resampling.BICUBIC)
    image.save(tmp_path / "image.png")
    classifier = OnnxClassifier(path)

    pixels = classifier.preprocess(image)
    # Pillow resizes the uint8 image, torchvision the float one: at most one grey level apart
    np.testing.assert_allclose(pixels[0], model.preprocess(image).numpy(), atol=1 / 255 + 1e-6, rtol=0)
    prediction = classifier.predict_file(tmp_path / "image.png", top_k=10)
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(pixels)), dim=1)[0].numpy()
    got = np.empty(10)
    got[list(prediction.indices)] = prediction.probabilities
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_grayscale_and_rgb_are_converted_to_the_models_channels(digit_model, cifar_model):
    rng = np.random.default_rng(0)
    digits, digits_path = digit_model
    rgb = rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)
    as_gray = np.asarray(Image.fromarray(rgb).convert("L"))  # what an RGB image means to a grayscale model
    with torch.no_grad():
        expected = torch.softmax(digits(torch.from_numpy(as_gray / 255).float()[None, None]), dim=1).numpy()
    np.testing.assert_allclose(OnnxClassifier(digits_path).predict_proba(rgb), expected, atol=1e-5)
    np.testing.assert_allclose(OnnxClassifier(digits_path).predict_proba(Image.fromarray(rgb)), expected, atol=1e-5)

    cifar, cifar_path = cifar_model
    gray = rng.integers(0, 256, (32, 32), dtype=np.uint8)  # (H, W): one grayscale image
    with torch.no_grad():
        expected = torch.softmax(cifar(torch.from_numpy(gray / 255).float().expand(1, 3, 32, 32)), dim=1).numpy()
    np.testing.assert_allclose(OnnxClassifier(cifar_path).predict_proba(gray), expected, atol=1e-5)


def test_multilabel_models_give_sigmoid_probabilities(tmp_path):
    torch.manual_seed(0)
    model = neurozoo.create_model("mlp", num_classes=4, input_size=(1, 28, 28), hidden=(8,)).eval()
    model.config["task"] = "multilabel"
    path = export_onnx(model, tmp_path).fp32_path
    images = np.random.default_rng(1).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    with torch.no_grad():
        expected = torch.sigmoid(model(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255)).double().numpy()
    np.testing.assert_allclose(OnnxClassifier(path).predict_proba(images), expected, atol=1e-5)


@pytest.mark.parametrize(("images", "message"), [
    (np.zeros((2, 32, 32, 2), np.uint8), "images have 2 channels"),
    (np.zeros((2, 1, 32, 32), np.float32), "images have 1 channels .* this model takes 3"),
    (np.full((1, 3, 32, 32), np.nan, np.float32), "NaN"),
    (np.full((1, 3, 32, 32), 255.0, np.float32), r"must be in \[0, 1\]"),
    (np.zeros((0, 32, 32, 3), np.uint8), "empty batch"),
    ([], "empty batch"),
    (np.zeros((1, 32, 32, 3), np.int64), "dtype int64 are not supported"),
    (np.zeros((2, 2, 32, 32, 3), np.uint8), "must be .* got shape"),
], ids=["channels-uint8", "channels-float", "nan", "range", "empty-array", "empty-list", "dtype", "rank"])
def test_bad_images_are_clear_errors(cifar_model, images, message):
    with pytest.raises(ValueError, match=message):
        OnnxClassifier(cifar_model[1]).predict(images)


def test_wrong_size_is_refused_when_resizing_is_off(cifar_model):
    strict = OnnxClassifier(cifar_model[1], allow_resize=False)
    with pytest.raises(ValueError, match="image size 40x48 .* differs from the model's input size 32x32"):
        strict.predict(np.zeros((40, 48, 3), np.uint8))
    with pytest.raises(ValueError, match="resizing is off"):
        strict.predict(np.zeros((1, 3, 16, 16), np.float32))
    assert len(OnnxClassifier(cifar_model[1]).predict(np.zeros((1, 3, 16, 16), np.float32))) == 1


def test_files_that_are_not_images_or_not_neurozoo_models_are_clear_errors(cifar_model, tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match="is not an image Pillow can read"):
        OnnxClassifier(cifar_model[1]).predict_file(tmp_path / "notes.png")

    bare = onnx.load(str(cifar_model[1]))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    with pytest.raises(CheckpointError, match="has no neurozoo metadata.*neurozoo export"):
        OnnxClassifier(tmp_path / "bare.onnx")
    with pytest.raises(CheckpointError, match="not an ONNX model onnxruntime can open"):
        OnnxClassifier(tmp_path / "notes.png")
    with pytest.raises(CheckpointError, match="no ONNX model at"):
        OnnxClassifier(tmp_path / "missing.onnx")


def test_predict_command_prints_top_k_labels(cifar_model, cifar_test_images, tmp_path, capsys):
    model, path = cifar_model
    Image.fromarray(cifar_test_images[0][0]).save(tmp_path / "a.png")
    (tmp_path / "b.txt").write_text("text")
    expected = _torch_probabilities(model, cifar_test_images[0][:1])[0]

    assert main(["predict", str(path), str(tmp_path / "a.png"), "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(tmp_path / "a.png") and len(lines) == 3
    assert lines[1].split()[1] == model.class_names[int(expected.argmax())]
    assert float(lines[1].split()[0]) == pytest.approx(expected.max(), abs=1e-4)

    assert main(["predict", str(path), str(tmp_path / "b.txt")]) == 2
    assert "is not an image Pillow can read" in capsys.readouterr().err
