"""A user's mistake is one line naming the problem and the fix (exit 2), never a traceback; the option
parsers turn any text into values or a NeurozooError."""

from __future__ import annotations

import json
import os
import shutil
import string
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import neurozoo
from neurozoo import cli, plugins
from neurozoo.build_checks import check_arch_options
from neurozoo.errors import NeurozooError
from neurozoo.evaluation.cli import parse_options
from neurozoo.training.cli import parse_assignments

from tiny_training_plugin import ARCH, DATASET, TinyTrainingPlugin

TESTS = Path(__file__).parent


@pytest.fixture(scope="module", autouse=True)
def tiny_plugin():
    plugins.register(TinyTrainingPlugin(), name="tiny_training")
    yield
    plugins.unregister("tiny_training")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tiny"
    return neurozoo.train("baseline", ARCH, DATASET, epochs=1, batch_size=32, eval_limit=0, out=out)


def one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err and all(n in last for n in needles), err
    return last


# ------------------------------------------------------------------ run.json on --resume
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "cannot be read as JSON"),
        ("[1, 2]", "holds a JSON list, not an object"),
        ('{"method": "baseline"}', "lacks or has malformed field(s) arch, dataset, recipe, engine, resumes"),
    ],
)
def test_a_damaged_run_json_on_resume_is_one_line_naming_the_file(tiny_run, tmp_path, capsys, text, problem):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "run.json").write_text(text)
    assert cli.main(["train", "baseline", "--arch", ARCH, "--dataset", DATASET, "--resume", str(run)]) == 2
    one_line_error(capsys, str(run / "run.json"), problem)


def test_an_engine_field_missing_from_run_json_is_named(tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    config = json.loads((run / "run.json").read_text())
    del config["engine"]["world_size"]
    (run / "run.json").write_text(json.dumps(config))
    assert cli.main(["train", "baseline", "--arch", ARCH, "--dataset", DATASET, "--resume", str(run)]) == 2
    one_line_error(capsys, "engine.world_size")


# ------------------------------------------------------------------ evaluation options
def test_a_scalar_for_a_list_option_is_a_one_element_list(tiny_run, capsys):
    argv = ["eval", str(tiny_run), "--metrics", "pgd_linf", "--limit", "8", "--set", "pgd_linf.eps=0.0078",
            "--set", "pgd_linf.steps=1", "--set", "pgd_linf.max_samples=8"]
    assert cli.main(argv) == 0
    assert "pgd_linf_eps_0.0078" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("pgd_linf.max_samples=abc", "metric 'pgd_linf': max_samples must be an int, got 'abc'"),
        ("pgd_linf.eps=[0.1, \"x\"]", "metric 'pgd_linf': eps must be a list of numbers"),
        ("ece.n_bins=NaN", "metric 'ece': n_bins must be an int, got nan"),
        ("no_metric.x=1", "unknown metric 'no_metric'"),
        ("pgd_linf", "write METRIC.KEY=VALUE"),
    ],
)
def test_bad_evaluation_options_fail_before_the_model_is_read(capsys, option, message):
    assert cli.main(["eval", "no-such-model-is-read", "--set", option]) == 2
    one_line_error(capsys, message)


# ------------------------------------------------------------------ predict
def test_predict_reports_each_bad_file_and_predicts_the_others(tmp_path, capsys):
    model = neurozoo.create_model(ARCH, dataset=DATASET).eval()
    onnx = neurozoo.export_onnx(model, tmp_path / "onnx").fp32_path
    rng = np.random.default_rng(0)
    good = [tmp_path / "a.png", tmp_path / "b.png"]
    for path in good:
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)
    noise = tmp_path / "noise.png"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(noise)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(noise.read_bytes()[: noise.stat().st_size // 2])
    folder = tmp_path / "folder.png"
    folder.mkdir()
    missing = tmp_path / "missing.png"

    files = [good[0], missing, folder, truncated, good[1]]
    assert cli.main(["predict", str(onnx), *map(str, files)]) == 2
    captured = capsys.readouterr()
    assert [line for line in captured.out.splitlines() if not line.startswith(" ")] == [str(p) for p in good]
    errors = captured.err.strip().splitlines()
    assert "Traceback" not in captured.err and len(errors) == 4, captured.err
    for line, path in zip(errors, (missing, folder, truncated)):
        assert line.startswith(f"neurozoo predict: error: {path}: ")
    assert "3 of 5 images" in errors[-1]


# ------------------------------------------------------------------ read-only folders
READ_ONLY_SCRIPT = """
import contextlib, io, json, sys
sys.path.insert(0, {tests!r})
from neurozoo import cli, plugins
from neurozoo.errors import NeurozooError
from tiny_training_plugin import TinyTrainingPlugin
plugins.register(TinyTrainingPlugin(), name="tiny_training")
results = {{}}
for name, argv in {commands!r}.items():
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = cli.main(argv)
    results[name] = [code, out.getvalue(), err.getvalue()]
from neurozoo.data import multidigits
try:
    multidigits.load("test", root={data!r}, size=4)
    results["multidigits"] = [0, "", ""]
except NeurozooError as exc:
    results["multidigits"] = [2, "", str(exc)]
print(json.dumps(results))
"""


def _as_user_permissions_bind(argv: list[str]) -> list[str]:
    """``argv`` run so that file permissions apply: as root, without the capabilities that override them."""
    if os.geteuid() != 0:
        return argv
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file permissions cannot be made to apply")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *argv]


def test_read_only_folders_are_one_line_before_any_work(tiny_run, tmp_path, write_data_folder):
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    run = tmp_path / "read_only_run"
    shutil.copytree(tiny_run, run)
    data = write_data_folder({"mnist": {"test": (np.zeros((20, 28, 28, 1), np.uint8), np.arange(20) % 10)}})
    commands = {
        "train": ["train", "baseline", "--arch", ARCH, "--dataset", DATASET, "--out", str(read_only / "run")],
        "resume": ["train", "baseline", "--arch", ARCH, "--dataset", DATASET, "--resume", str(run)],
        "eval": ["eval", str(tiny_run), "--dataset", DATASET, "--json", str(read_only / "eval.json")],
        "plots": ["eval", str(tiny_run), "--dataset", DATASET, "--plots", str(read_only / "plots")],
        "export": ["export", str(tiny_run), "--out", str(read_only / "onnx")],
        "card": ["card", str(tiny_run), "--license", "mit", "--data-terms", "test images", "--out",
                 str(read_only / "README.md")],
    }
    for folder in (read_only, run, run / "state"):
        folder.chmod(0o555)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NEUROZOO_CACHE": str(read_only / "cache")}
    script = READ_ONLY_SCRIPT.format(tests=str(TESTS), commands=commands, data=str(data))
    try:
        result = subprocess.run(_as_user_permissions_bind([sys.executable, "-c", script]), env=env,
                                capture_output=True, text=True, timeout=600)
    finally:
        for folder in (read_only, run, run / "state"):
            folder.chmod(0o755)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(result.stdout.strip().splitlines()[-1])
    expected = {
        "train": "cannot write in run folder",
        "resume": "cannot write in run folder",
        "eval": "cannot write in the folder of --json file",
        "plots": "cannot write in --plots folder",
        "export": "cannot write in the export folder",
        "card": "Permission denied",
        "multidigits": "set NEUROZOO_CACHE to a writable folder",
    }
    for name, message in expected.items():
        code, out, err = results[name]
        assert code == 2 and "Traceback" not in err and message in err.strip().splitlines()[-1], (name, err)
        if name in ("eval", "plots"):
            assert out == "", name  # no results table: nothing was evaluated
    assert sorted(p.name for p in read_only.iterdir()) == []


# ------------------------------------------------------------------ the parsers never crash
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["1", "-1", "0", "0.5", "1e999", "-1e999", "nan", "NaN", "Infinity", "[1, 2]", "(1,)", "{1}",
                     "{'a': 1}", "None", "null", "true", "'x'", '"x"', "1+2j", "b'x'", "[[[[1]]]]", "[" * 300,
                     "9" * 5000, "1_000", "[0.1, 'a']", "()", "[]", "{}", " 3 ", "0x10"]),
)
KEYS = st.one_of(st.text(string.ascii_letters + "_.", max_size=12),
                 st.sampled_from(["lr", "epochs", "grad_clip", "label_smoothing", "optimizer", "width", "hidden",
                                  "eps", "max_samples", "steps", "n_bins", "layers", "corruptions"]))
ASSIGNMENTS = st.one_of(st.text(max_size=40), st.builds(lambda k, v: f"{k}={v}", KEYS, VALUES))


@settings(max_examples=300, deadline=None)
@given(st.lists(ASSIGNMENTS, max_size=3))
def test_recipe_options_parse_to_values_or_a_neurozoo_error(items):
    try:
        recipe = parse_assignments(items, "--set")
        neurozoo.get_method("baseline").trainer(**recipe)
    except NeurozooError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(ASSIGNMENTS, max_size=3), st.sampled_from(["mlp", "resnet18", ARCH]))
def test_architecture_options_parse_to_values_or_a_neurozoo_error(items, arch):
    try:
        json.dumps(check_arch_options(arch, parse_assignments(items, "--arch-set")))
    except NeurozooError:
        pass


METRIC_OPTIONS = st.one_of(
    st.text(max_size=40),
    st.builds(lambda m, k, v: f"{m}.{k}={v}",
              st.sampled_from(["pgd_linf", "apgd_ce", "corruption", "ece", "nmi", "hah_snr", "x"]), KEYS, VALUES),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(METRIC_OPTIONS, max_size=3))
def test_evaluation_options_parse_to_values_or_a_neurozoo_error(items):
    try:
        json.dumps(parse_options(items))
    except NeurozooError:
        pass
