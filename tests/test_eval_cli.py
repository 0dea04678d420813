"""`neurozoo eval` and `neurozoo.evaluate` end to end: JSON round trip with provenance, plots, bad
requests failing before any work, ONNX files (fp32 and int8) through the same path, plugin metrics."""

from __future__ import annotations

import importlib.metadata
import json
import shlex

import pytest
import torch
from eval_support import (
    EVALTEST_MULTILABEL,
    LOADS,
    LookupNet,
    evaltest_plugin,  # noqa: F401 (fixture)
    signal_arrays,
    trained_mlp,
    wrap,
)

import neurozoo
from neurozoo.checkpoint import sha256_file
from neurozoo.cli import main
from neurozoo.errors import ConfigError, UnknownNameError
from neurozoo.evaluation import evaluate, requires
from neurozoo.evaluation.report import write_json

pytestmark = pytest.mark.usefixtures("evaltest_plugin")


@pytest.fixture(scope="module")
def model():
    return trained_mlp()


@pytest.fixture(scope="module")
def checkpoint(model, tmp_path_factory):
    return neurozoo.save(model, tmp_path_factory.mktemp("eval") / "ckpt")


@pytest.fixture(scope="module")
def onnx_files(model, checkpoint):
    """model.onnx and model.int8.onnx of the checkpoint, written by the project's exporter."""
    from neurozoo.export import export_onnx

    images, labels = signal_arrays()
    report = export_onnx(model, checkpoint, int8=True, calibration=images[:64], held_out=(images, labels))
    return report.fp32_path, report.int8_path


def test_cli_writes_json_with_every_figure_and_provenance(checkpoint, tmp_path, capsys):
    out, plots = tmp_path / "eval.json", tmp_path / "plots"
    argv = ["eval", str(checkpoint), "--dataset", "evaltest", "--metrics", "top1,misclassification_auroc,pgd_linf",
            "--set", "pgd_linf.eps=[0.02,0.3]", "--set", "pgd_linf.max_samples=32", "--json", str(out),
            "--plots", str(plots)]
    assert main(argv) == 0
    assert "pgd_linf_eps_0.3" in capsys.readouterr().out  # the results table
    saved = json.loads(out.read_text())
    assert saved["checkpoint_sha256"] == sha256_file(checkpoint / "model.safetensors")
    assert saved["command"] == shlex.join(["neurozoo", "eval", str(checkpoint), "--dataset", "evaltest",
                                           "--metrics", "top1,misclassification_auroc,pgd_linf", "--split", "test",
                                           "--batch-size", "256", "--set", "pgd_linf.eps=[0.02,0.3]",
                                           "--set", "pgd_linf.max_samples=32"])
    assert saved["versions"]["torch"] == importlib.metadata.version("torch")
    assert {"neurozoo", "torchattacks", "scikit-learn", "onnxruntime", "python"} <= set(saved["versions"])
    assert saved["metrics"]["misclassification_auroc"] == {"misclassification_auroc": None}  # all correct
    again = evaluate(checkpoint, "evaltest", ["top1", "misclassification_auroc", "pgd_linf"],
                     options={"pgd_linf": {"eps": [0.02, 0.3], "max_samples": 32}})
    assert saved["metrics"] == again["metrics"] and saved["curves"] == again["curves"]
    assert (plots / "adversarial_linf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_round_trips(checkpoint, tmp_path):
    result = evaluate(checkpoint, "evaltest", ["top1", "ece", "misclassification_auroc"], limit=50)
    assert json.loads(write_json(result, tmp_path / "r.json").read_text()) == result


BAD_REQUESTS = [
    (["--metrics", "topp1"], "unknown metric 'topp1'; did you mean 'top1'"),
    (["--dataset", "evaltset"], "unknown dataset 'evaltset'; did you mean 'evaltest'"),
    (["--split", "val"], "dataset 'evaltest' has no split 'val'"),
    (["--metrics", "pgd_linf", "--set", "pgd_linf.epsilon=[0.1]"], "metric 'pgd_linf' has no option(s) ['epsilon']"),
    (["--metrics", "ece", "--set", "top1.bins=3"], "options given for metric(s) ['top1'] that are not being evaluated"),
    (["--set", "pgd_linf"], "write METRIC.KEY=VALUE"),
    (["--dataset", "evaltest_multilabel"], "takes inputs of size [1, 8, 8] but dataset 'evaltest_multilabel' gives"),
    (["--limit", "0"], "limit must be a positive int"),
    (["--metrics", ","], "no metric names given"),
]


@pytest.mark.parametrize("extra,message", BAD_REQUESTS)
def test_bad_requests_fail_clearly_before_any_work(checkpoint, capsys, extra, message):
    assert main(["eval", str(checkpoint), *extra]) == 2
    assert message in capsys.readouterr().err
    assert sum(LOADS.values()) == 0  # no dataset was loaded


def test_metric_for_another_task_is_rejected_up_front():
    model = wrap(LookupNet(torch.zeros(4, 4)), EVALTEST_MULTILABEL)
    with pytest.raises(ConfigError, match="metric 'top1' applies to multiclass datasets; 'evaltest_multilabel' is "
                                          "multilabel .use 'exact_set' there."):
        evaluate(model, "evaltest_multilabel", ["top1", "exact_set"])
    assert sum(LOADS.values()) == 0


def test_unknown_names_from_python(model):
    with pytest.raises(UnknownNameError, match="did you mean 'deepfool'"):
        evaluate(model, "evaltest", "top1,deepfol")
    with pytest.raises(TypeError, match="needs a neurozoo model"):
        evaluate(torch.nn.Linear(2, 2), "evaltest")


def test_onnx_fp32_and_int8_go_through_the_same_path(checkpoint, onnx_files):
    fp32, int8 = onnx_files
    reference = evaluate(checkpoint, "evaltest", ["top1", "ece", "misclassification_auroc"])["metrics"]
    result = evaluate(fp32, metrics=["top1", "ece", "misclassification_auroc"])  # dataset from the ONNX metadata
    assert result["dataset"] == "evaltest"
    assert result["checkpoint_sha256"] == sha256_file(fp32)
    assert result["metrics"]["top1"] == reference["top1"]
    assert result["metrics"]["ece"]["ece"] == pytest.approx(reference["ece"]["ece"], abs=1e-5)
    assert evaluate(str(int8), "evaltest", ["top1"])["metrics"]["top1"]["top1"] >= 0.95


@pytest.mark.parametrize("metric,reason", [("pgd_linf", "needs a torch model"), ("deepfool", "needs a torch model"),
                                           ("nmi", "needs penultimate embeddings")])
def test_onnx_rejects_metrics_that_need_torch_before_any_work(onnx_files, metric, reason):
    with pytest.raises(ConfigError, match=reason):
        evaluate(onnx_files[0], "evaltest", ["top1", metric])
    assert sum(LOADS.values()) == 0


def test_a_plugin_metric_uses_the_context_and_shares_the_pass(model, onnx_files):
    calls = []

    @requires(module=True)
    def first_layer_sparsity(ctx, threshold=0.0):
        activations = []
        hook = ctx.model.net.body[1].register_forward_hook(lambda m, i, o: activations.append(o))
        try:
            for images, _ in ctx.batches(limit=16):
                ctx.predict(images)
        finally:
            hook.remove()
        calls.append(len(ctx.outputs().logits))
        return {"sparsity": torch.cat(activations).le(threshold).double().mean().item()}

    def bad(ctx):
        return {"x": "high"}

    @requires(splits=("val",))
    def on_validation(ctx):
        return {"val_top1": 0.0}

    class Plugin:
        @neurozoo.hookimpl
        def register_metrics(register):
            register(neurozoo.Metric("evaltest_sparsity", first_layer_sparsity))
            register(neurozoo.Metric("evaltest_bad", bad))
            register(neurozoo.Metric("evaltest_val", on_validation))

    neurozoo.plugins.register(Plugin, name="evaltest_metrics")
    try:
        result = evaluate(model, "evaltest", ["top1", "evaltest_sparsity"],
                          options={"evaltest_sparsity": {"threshold": 0.0}})
        assert 0.0 < result["metrics"]["evaltest_sparsity"]["sparsity"] < 1.0
        assert calls == [256]  # the cached pass of top1
        with pytest.raises(ConfigError, match="needs a torch model"):
            evaluate(onnx_files[0], "evaltest", ["evaltest_sparsity"])
        with pytest.raises(ConfigError, match=r"metric 'evaltest_val' reads split\(s\) \['val'\] that 'evaltest'"):
            evaluate(model, "evaltest", ["top1", "evaltest_val"])
        assert sum(LOADS.values()) == 1  # only the successful evaluation above loaded data
        with pytest.raises(TypeError, match="figure 'x' is str, not a number"):
            evaluate(model, "evaltest", ["evaltest_bad"])
    finally:
        neurozoo.plugins.unregister("evaltest_metrics")


def test_cli_prints_what_a_reading_metric_says_of_its_figures(checkpoint, capsys):
    """A metric registered with ``reading`` has its sentence printed under the results table (as on cards)."""
    class Plugin:
        @neurozoo.hookimpl
        def register_metrics(register):
            register(neurozoo.Metric("evaltest_spread", lambda ctx: {"spread": 3.5},
                                     reading=lambda figures: f"wide ({figures['spread']} > 3)"))

    neurozoo.plugins.register(Plugin, name="evaltest_reading")
    try:
        assert main(["eval", str(checkpoint), "--dataset", "evaltest", "--metrics", "top1,evaltest_spread"]) == 0
    finally:
        neurozoo.plugins.unregister("evaltest_reading")
    lines = capsys.readouterr().out.splitlines()
    assert "evaltest_spread: wide (3.5 > 3)" in lines
    assert not any(line.startswith("top1:") for line in lines)  # top1 reads nothing
