"""ONNX export: every registered architecture (with the method that trains it) exports and validates;
int8 export calibrates on the dataset's train split and reports its held-out accuracy; failures are clear."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from torch import nn

import neurozoo
from neurozoo import registry
from neurozoo.checkpoint import sha256_file
from neurozoo.cli import main
from neurozoo.export import CHECK_BATCH, FP32_ATOL, ExportError, export_onnx
from neurozoo.model import NeurozooModel, build_config
from neurozoo.onnx_metadata import OnnxMetadata

# Shallower variants of the deep timm nets: the same layer types, a fraction of the export time.
TEST_ARCH_KWARGS = {
    "resnet18": {"layers": (1, 1, 1, 1)},
    "mobilenetv2": {"depth_multiplier": 0.1},  # one block per stage
    "densenet121": {"block_config": (1, 1, 1, 1)},
    "efficientnetv2_s": {"depth_multiplier": 0.1},
    "komplexnet": {"timesteps": 2},  # the Kuramoto loop unrolls into the graph once per step
    "komplexnet_fb": {"timesteps": 2},
}
# Architectures whose forward needs more than the image (komplexnet_oracle reads ground-truth masks):
# export refuses them with this reason.
NOT_EXPORTABLE = {"komplexnet_oracle": "ground-truth object masks"}
# Methods that change the structure of a backbone they do not ship: which backbone to test them on.
METHOD_TEST_BACKBONE = {"hah": ("vgg11", {"hah_layers": 2})}


def export_cases() -> list[tuple[str, str, dict]]:
    """(arch, method, method_kwargs) for every architecture, plus every structure-changing method.

    An architecture shipped by a method plugin is exported with that plugin's method (the module tree
    its checkpoints have); the others with ``baseline``. A method with ``adapt_model`` whose plugin
    ships no architecture is exported on a backbone (``METHOD_TEST_BACKBONE``, default resnet18).
    """
    methods = set(neurozoo.list_methods())
    cases = []
    for arch in neurozoo.list_architectures():
        owner = registry.owner("architecture", arch)
        cases.append((arch, owner if owner in methods else "baseline", {}))
    covered = {method for _, method, _ in cases}
    for method in sorted(methods - covered):
        if neurozoo.get_method(method).adapt_model is not None:
            arch, method_kwargs = METHOD_TEST_BACKBONE.get(method, ("resnet18", {}))
            cases.append((arch, method, method_kwargs))
    return cases


@pytest.mark.parametrize(("arch", "method", "method_kwargs"), export_cases(), ids=lambda v: str(v) if v else "")
def test_every_architecture_exports_and_matches_torch(tmp_path, arch, method, method_kwargs):
    model = neurozoo.create_model(
        arch, num_classes=7, method=method, method_kwargs=method_kwargs, **TEST_ARCH_KWARGS.get(arch, {})
    )
    if arch in NOT_EXPORTABLE:
        with pytest.raises(ExportError, match=f"^{arch} cannot be exported: .*{NOT_EXPORTABLE[arch]}") as info:
            export_onnx(model, tmp_path)
        assert "\n" not in str(info.value) and not list(tmp_path.iterdir())  # one line, nothing written
        return
    report = export_onnx(model, tmp_path)

    assert report.fp32_max_abs_diff <= report.fp32_limit
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # one file, no external data
    graph = onnx.load(str(report.fp32_path))
    batch_dim = graph.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.dim_value  # dynamic batch
    metadata = OnnxMetadata.from_props({p.key: p.value for p in graph.metadata_props})
    assert (metadata.arch, metadata.method, metadata.precision) == (arch, method, "fp32")
    assert metadata.input_size == tuple(model.config["input_size"])
    # a batch of one, neither the traced nor the validated size
    session = onnxruntime.InferenceSession(str(report.fp32_path), providers=["CPUExecutionProvider"])
    image = torch.rand(1, *model.config["input_size"])
    with torch.no_grad():
        expected = model(image).numpy()
    (logits,) = session.run(None, {"images": image.numpy()})
    assert logits.shape == (1, 7)
    np.testing.assert_allclose(logits, expected, atol=report.fp32_limit, rtol=0)


def _separable_digits(rng, count: int) -> tuple[np.ndarray, np.ndarray]:
    """28x28 grayscale uint8 images whose class k is a bright 7x7 block at grid cell k, plus noise."""
    labels = rng.integers(0, 10, count)
    images = rng.integers(0, 60, (count, 28, 28, 1), dtype=np.uint8)
    for image, label in zip(images, labels):
        row, col = divmod(int(label), 4)
        image[row * 7:(row + 1) * 7, col * 7:(col + 1) * 7] = 255
    return images, labels


def _trained_mlp(images: np.ndarray, labels: np.ndarray) -> NeurozooModel:
    torch.manual_seed(0)
    model = neurozoo.create_model("mlp", dataset="mnist", hidden=(32,))
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    y = torch.from_numpy(labels)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model.eval()


@pytest.fixture
def digits_checkpoint(tmp_path, write_data_folder):
    """(checkpoint folder of an MLP trained on separable digits, data folder holding them as mnist)."""
    rng = np.random.default_rng(0)
    train, test = _separable_digits(rng, 400), _separable_digits(rng, 200)
    data = write_data_folder({"mnist": {"train": train, "test": test}})
    return neurozoo.save(_trained_mlp(*train), tmp_path / "ckpt"), data


def test_int8_export_of_a_checkpoint_folder_calibrates_on_its_dataset(tmp_path, digits_checkpoint, capsys,
                                                                      monkeypatch):
    folder, data = digits_checkpoint
    monkeypatch.chdir(tmp_path / "ckpt")  # the default output folder is the current directory

    code = main(["export", str(folder), "--int8", "--data-dir", str(data),
                 "--calibration-size", "64", "--held-out", "200"])
    out = capsys.readouterr().out

    assert code == 0
    assert "per-channel, 64 calibration images" in out
    assert "64 calibration images" in out
    fp32_accuracy, int8_accuracy, drop, agreement = map(float, re.search(
        r"held-out accuracy on 200 images: fp32 (\S+)%, int8 (\S+)% \(drop (\S+) pp; int8 agrees with fp32 on (\S+)%",
        out).groups())
    assert fp32_accuracy >= 90  # the task is easy: a broken pipeline would not get here
    assert drop == pytest.approx(fp32_accuracy - int8_accuracy, abs=0.02) and drop <= 5
    assert agreement >= 90
    int8 = onnx.load(str(folder / "model.int8.onnx"))
    ops = {node.op_type for node in int8.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    first_weight = next(n for n in int8.graph.node if n.op_type == "DequantizeLinear" and
                        any(a.name == "axis" for a in n.attribute))  # per-channel weights carry an axis
    scales = next(i for i in int8.graph.initializer if i.name == first_weight.input[1])
    assert scales.dims[0] > 1
    for path, precision in ((folder / "model.onnx", "fp32"), (folder / "model.int8.onnx", "int8")):
        metadata = OnnxMetadata.from_props({p.key: p.value for p in onnx.load(str(path)).metadata_props})
        assert metadata.precision == precision
        assert metadata.source_sha256 == sha256_file(folder / "model.safetensors")
        assert metadata.dataset == "mnist" and metadata.class_names == tuple(str(i) for i in range(10))


def test_in_memory_export_records_the_sha256_that_save_writes(tmp_path):
    model = neurozoo.create_model("mlp", num_classes=3, hidden=(8,))
    report = export_onnx(model, tmp_path / "onnx")
    folder = neurozoo.save(model, tmp_path / "ckpt")
    metadata = OnnxMetadata.from_props({p.key: p.value for p in onnx.load(str(report.fp32_path)).metadata_props})
    assert metadata.source_sha256 == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


class _ExportOnlyOffset(nn.Module):
    """A net that computes something else while torch.export traces it: the validation must notice."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(4, 2)

    def embed(self, x):
        z = x.flatten(1)
        return z + 1e-2 if torch.compiler.is_exporting() else z

    def classify(self, z):
        return self.head(z)


def test_a_graph_that_disagrees_with_torch_fails_and_writes_nothing(tmp_path):
    config = build_config("mlp", num_classes=2, input_size=(1, 2, 2), mean=[0.0], std=[1.0], class_names=["a", "b"])
    with pytest.raises(ExportError, match=rf"max abs logit diff .* at batch {CHECK_BATCH}; nothing was written"):
        export_onnx(NeurozooModel(_ExportOnlyOffset(), config), tmp_path)
    assert list(tmp_path.iterdir()) == []


class _Iterated(nn.Module):
    """An iterated map that amplifies float32 rounding to ~1e-3, offset by 2e-4 in the exported graph."""

    def embed(self, x):
        z = x.flatten(1)
        for _ in range(10):
            z = z + 1.5 * torch.sin(3 * z)
        return z + 2e-4 if torch.compiler.is_exporting() else z

    def classify(self, z):
        return z[:, :2]


def test_a_model_noisier_than_the_limit_is_checked_against_its_own_fp32_noise(tmp_path):
    config = build_config("mlp", num_classes=2, input_size=(1, 2, 2), mean=[0.0], std=[1.0], class_names=["a", "b"])
    model = NeurozooModel(_Iterated(), config)
    images = torch.from_numpy(np.random.default_rng(0).random((CHECK_BATCH, 1, 2, 2), dtype=np.float32))
    with torch.no_grad():
        noise = (model(images).double() - model(images.double())).abs().max().item()

    report = export_onnx(model, tmp_path)

    assert noise > FP32_ATOL
    assert FP32_ATOL < report.fp32_max_abs_diff <= report.fp32_limit == pytest.approx(2 * noise)
    assert f"limit {report.fp32_limit:.1e}" in report.summary()


class _LayoutSensitive(nn.Module):
    """Logits 3e-4 apart in the channels_last layout (as convolution kernels of another layout round
    differently), 5e-4 apart in the exported graph."""

    def embed(self, x):
        z = x.flatten(1)[:, :2]
        if torch.compiler.is_exporting():
            return z + 5e-4
        return z + 3e-4 if not x.is_contiguous() else z

    def classify(self, z):
        return z


def test_the_noise_of_a_model_includes_the_disagreement_of_its_two_layouts(tmp_path):
    config = build_config("mlp", num_classes=2, input_size=(2, 2, 2), mean=[0.0, 0.0], std=[1.0, 1.0],
                          class_names=["a", "b"])
    report = export_onnx(NeurozooModel(_LayoutSensitive(), config), tmp_path)

    assert report.fp32_max_abs_diff == pytest.approx(5e-4, rel=1e-3)
    assert report.fp32_limit == pytest.approx(6e-4, rel=1e-3)  # twice the layouts' 3e-4


def test_bad_export_requests_are_clear_errors(tmp_path):
    model = neurozoo.create_model("mlp", num_classes=3, hidden=(8,))
    with pytest.raises(ValueError, match="needs out_dir="):
        export_onnx(model)
    with pytest.raises(TypeError, match="neurozoo.create_model or neurozoo.load"):
        export_onnx(nn.Linear(2, 2), tmp_path)
    with pytest.raises(ValueError, match="names no dataset.*pass calibration="):
        export_onnx(model, tmp_path, int8=True)
    with pytest.raises(ValueError, match=r"calibration must be .*\(N, 1, 28, 28\)"):
        export_onnx(model, tmp_path, int8=True, calibration=np.zeros((4, 3, 32, 32)), held_out=([], []))
    assert list(tmp_path.iterdir()) == []


def test_export_command_honours_opset_and_out(tmp_path, capsys):
    folder = neurozoo.save(neurozoo.create_model("mlp", num_classes=3, hidden=(8,)), tmp_path / "ckpt")

    assert main(["export", str(folder), "--opset", "18", "--out", str(tmp_path / "onnx")]) == 0

    assert "max abs diff" in capsys.readouterr().out
    assert not (folder / "model.onnx").exists()
    graph = onnx.load(str(tmp_path / "onnx" / "model.onnx"))
    assert {o.domain: o.version for o in graph.opset_import}[""] == 18


def test_int8_falls_back_to_per_tensor_weights_when_per_channel_fails_the_gate(tmp_path, digits_checkpoint,
                                                                                monkeypatch):
    from neurozoo import export

    quantize = export._quantize

    def broken_per_channel(path, calibration, per_channel):
        graph = quantize(path, calibration, per_channel)
        if per_channel:  # every int8 weight zero: the graph predicts one class
            for tensor in graph.graph.initializer:
                if tensor.data_type == onnx.TensorProto.INT8:
                    tensor.CopyFrom(onnx.numpy_helper.from_array(
                        np.zeros_like(onnx.numpy_helper.to_array(tensor)), tensor.name))
        return graph

    monkeypatch.setattr(export, "_quantize", broken_per_channel)
    folder, data = digits_checkpoint
    report = export_onnx(folder, tmp_path / "onnx", int8=True, data_dir=data, calibration_size=64, held_out_size=200)

    per_channel, per_tensor = report.int8_attempts
    assert (per_channel.granularity, per_tensor.granularity) == ("per-channel", "per-tensor")
    assert 100 * (report.fp32_accuracy - per_channel.accuracy) > 1 >= report.accuracy_drop_pp
    assert report.int8_granularity == "per-tensor" and report.int8_accuracy == per_tensor.accuracy
    assert "int8 per-channel: drop" in report.summary() and "not written" in report.summary()
    weights = [n for n in onnx.load(str(report.int8_path)).graph.node if n.op_type == "DequantizeLinear"]
    assert not any(a.name == "axis" for n in weights for a in n.attribute)  # per-tensor: no channel axis


def test_int8_over_the_drop_limit_is_not_written(tmp_path, digits_checkpoint, capsys):
    folder, data = digits_checkpoint
    out = tmp_path / "onnx"
    # a negative limit cannot be met: both granularities are tried and refused
    code = main(["export", str(folder), "--int8", "--data-dir", str(data), "--calibration-size", "64",
                 "--held-out", "200", "--max-int8-drop", "-100", "--out", str(out)])

    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert re.search(r"\S+ pp per-channel, \S+ pp per-tensor below fp32 .* above the -100.0 pp limit", err)
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx"]


def test_export_never_writes_into_published_folders(tmp_path, monkeypatch):
    from neurozoo import hub

    folder = neurozoo.save(neurozoo.create_model("mlp", num_classes=3, hidden=(8,)), tmp_path / "ckpt")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    snapshot = tmp_path / "hf" / "models--org--name" / "snapshots" / ("0" * 40)
    for out, where in ((hub.MODEL_CARDS_DIR / "some-checkpoint", "model_cards"), (snapshot, "Hugging Face cache")):
        with pytest.raises(ExportError, match=f"inside .*{where}.*--out DIR"):
            export_onnx(folder, out)
        assert not out.exists()
