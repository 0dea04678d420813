"""`neurozoo demo`: the static page runs the published checkpoint in headless Chromium with
onnxruntime-web and shows what neurozoo.runtime computes.

The browser tests need node, the npm packages pinned in tests/demo_support (`npm ci` there; .ci/run
does it) and Chromium (`chromium` on PATH, or $NEUROZOO_CHROMIUM). They skip, naming what is
missing, only when node or Chromium cannot be found. The browser never reaches the network: the
site is served from 127.0.0.1, onnxruntime-web comes from the npm package (the CDN mode is served
from it too, by request interception). Screenshots go to $NEUROZOO_ARTIFACTS (default: a pytest
tmp folder); the path is printed.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import io
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from PIL import Image

from neurozoo.cli import main
from neurozoo.demo import ort
from neurozoo.demo.site import build_site
from neurozoo.runtime import OnnxClassifier

SUPPORT = Path(__file__).parent / "demo_support"
ORT_DIST = SUPPORT / "node_modules" / "onnxruntime-web" / "dist"
PUBLISHED = "baseline-resnet18-cifar10"
TOLERANCE = {"fp32": 1e-3, "int8": 2e-2}
IMAGES = 20


# ---------------------------------------------------------------- tools and data
@pytest.fixture(scope="session")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.skip("node not found on PATH: install Node.js (>= 20, for playwright-core) to run the in-browser "
                    "demo tests")
    if not (SUPPORT / "node_modules" / "playwright-core").is_dir() or not ORT_DIST.is_dir():
        pytest.fail(f"{SUPPORT} has no node_modules: run `npm ci` there (.ci/run does)")
    return path


@pytest.fixture(scope="session")
def chromium() -> str:
    path = os.environ.get("NEUROZOO_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Chromium not found (no `chromium` on PATH, $NEUROZOO_CHROMIUM unset): "
                    "`apt-get install chromium` to run the in-browser demo tests")
    return path


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory, request) -> Path:
    folder = Path(os.environ.get("NEUROZOO_ARTIFACTS") or tmp_path_factory.mktemp("artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        print(f"\ndemo screenshots: {folder}")  # past pytest's capture, so that CI logs show where
    return folder


@pytest.fixture(scope="session")
def published_onnx(tmp_path_factory, shared_data) -> Path:
    """The folder holding model.onnx and model.int8.onnx of the published checkpoint (exported once)."""
    root = tmp_path_factory.mktemp("published_onnx")
    with pytest.MonkeyPatch.context() as env:  # session scope: isolated_caches does not apply yet
        env.setenv("NEUROZOO_CACHE", str(root / "cache"))
        env.setenv("HF_HUB_OFFLINE", "1")
        # the page is compared with the runtime on the same file, whatever its accuracy: no int8 gate,
        # and few images for calibration and the held-out check (they cost CPU, not coverage)
        code = main(["export", PUBLISHED, "--int8", "--out", str(root / "onnx"), "--data-dir", str(shared_data),
                     "--max-int8-drop", "100", "--calibration-size", "64", "--held-out", "100"])
    assert code == 0 and (root / "onnx" / "model.int8.onnx").is_file(), f"`neurozoo export {PUBLISHED} --int8` failed"
    return root / "onnx"


@pytest.fixture(scope="session")
def cifar_pngs(tmp_path_factory, shared_data) -> list[Path]:
    folder = tmp_path_factory.mktemp("cifar_pngs")
    with np.load(shared_data / "cifar10_test.npz") as data:
        images = data["images"][:IMAGES]
    paths = [folder / f"cifar10_test_{i:02d}.png" for i in range(IMAGES)]
    for image, path in zip(images, paths):
        Image.fromarray(image).save(path)
    return paths


@contextlib.contextmanager
def served(folder: Path):
    """``folder`` over HTTP on 127.0.0.1 (WebAssembly needs http:, and its own MIME type)."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                          ".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript"}

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        thread.join()


def drive(node: str, chromium: str, pages: dict, folder: Path) -> dict:
    """What each page showed after its steps (tests/demo_support/drive_page.mjs), in one Chromium session."""
    plan_path = folder / "plan.json"
    plan_path.write_text(json.dumps({"chromium": chromium, "pages": pages}, default=str))
    done = subprocess.run([node, str(SUPPORT / "drive_page.mjs"), str(plan_path)],
                          capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, f"drive_page.mjs failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout)


def reference(path: Path) -> OnnxClassifier:
    """neurozoo.runtime on ``path``, with the int8 graph run as written.

    The page's onnxruntime-web agrees with the QDQ graph as written (Quantize/DequantizeLinear as
    float ops: within 5e-3 on these 20 images, for the export with default settings). Native
    onnxruntime fuses that graph into integer kernels, which on this AVX2 machine without VNNI gave
    probabilities up to 0.28 away from it (the fp32 graph agreeing to 3e-7): a property of those
    kernels, not of the page.
    """
    classifier = OnnxClassifier(path)
    if classifier.metadata.precision == "int8":
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC  # no QDQ fusion
        classifier.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return classifier


# ---------------------------------------------------------------- without a browser
def test_pinned_onnxruntime_web_files_are_the_npm_packages(node):
    installed = json.loads((ORT_DIST.parent / "package.json").read_text())["version"]
    assert installed == ort.VERSION, "tests/demo_support pins another onnxruntime-web than neurozoo.demo.ort"
    assert {name: ort.integrity(ORT_DIST / name) for name in ort.FILES} == ort.FILES
    assert ort.CDN_BASE == f"https://cdn.jsdelivr.net/npm/onnxruntime-web@{installed}/dist/"


def test_page_preprocessing_is_pillows(node, tmp_path):
    """Channel conversion and resizing in preprocess.js give exactly neurozoo.runtime's pixels."""
    rng = np.random.default_rng(0)
    shapes = [((32, 32), (3, 32, 32)), ((64, 48), (3, 32, 32)), ((17, 23), (3, 32, 32)), ((100, 7), (1, 28, 28)),
              ((300, 280), (1, 28, 28)), ((28, 28), (1, 28, 28)), ((5, 5), (3, 32, 32)), ((40, 10), (1, 20, 20))]
    cases, expected = [], []
    for (height, width), input_size in shapes:
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        rgba = np.concatenate([rgb, np.full((height, width, 1), 255, np.uint8)], axis=2)
        cases.append({"rgba": base64.b64encode(rgba.tobytes()).decode(), "width": width, "height": height,
                      "inputSize": list(input_size)})
        expected.append(np.rint(_preprocessor(input_size).preprocess(Image.fromarray(rgb)) * 255).astype(int).ravel())
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    done = subprocess.run([node, str(SUPPORT / "preprocess_cases.mjs"), str(tmp_path / "cases.json")],
                          capture_output=True, text=True, timeout=60, check=True)
    for shape, want, got in zip(shapes, expected, json.loads(done.stdout)):
        assert np.array_equal(want, got), f"{shape}: {np.count_nonzero(want != np.array(got))} pixels differ"


def _preprocessor(input_size) -> OnnxClassifier:
    """neurozoo.runtime's preprocessing for ``input_size``, without a graph (it needs only the metadata)."""
    from neurozoo.onnx_metadata import OnnxMetadata

    classifier = OnnxClassifier.__new__(OnnxClassifier)
    classifier.allow_resize = True
    classifier.metadata = OnnxMetadata("0", ("a",), tuple(input_size), (0.5,), (0.5,), "multiclass", "mlp",
                                       "baseline", None, "0" * 64, "fp32")
    return classifier


@pytest.fixture(scope="session")
def digit_onnx(tmp_path_factory) -> Path:
    """A grayscale 28x28 (MNIST-family) mlp, untrained, exported to fp32 ONNX: a small model for the CLI."""
    import torch

    import neurozoo
    from neurozoo.export import export_onnx

    torch.manual_seed(0)
    model = neurozoo.create_model("mlp", dataset="mnist", hidden=(16,)).eval()
    return export_onnx(model, tmp_path_factory.mktemp("digit_onnx")).fp32_path


def _with_metadata(source: Path, target: Path, **props: str) -> Path:
    """A copy of an ONNX file with some metadata_props changed (or, with no props, all removed)."""
    import onnx

    graph = onnx.load(str(source))
    kept = {p.key: p.value for p in graph.metadata_props} if props else {}
    del graph.metadata_props[:]
    onnx.helper.set_model_props(graph, {**kept, **props})
    onnx.save(graph, str(target))
    return target


def test_demo_command_writes_the_site(digit_onnx, tmp_path, capsys):
    out = tmp_path / "site"
    assert main(["demo", str(digit_onnx), "--out", str(out)]) == 0  # an .onnx file is used as is
    printed = capsys.readouterr().out
    assert "http.server" in printed and str(out) in printed
    assert sorted(p.name for p in out.iterdir()) == sorted(["index.html", "demo.js", "preprocess.js",
                                                            "onnx_metadata.js", "model.onnx"])
    page = (out / "index.html").read_text()
    module = ort.CDN_BASE + ort.MODULE
    import_map = json.loads(page.split('<script type="importmap">')[1].split("</script>")[0])
    assert import_map == {"imports": {"onnxruntime-web": module}, "integrity": {module: ort.FILES[ort.MODULE]}}
    # a folder holding an export: its model.onnx with --fp32
    assert main(["demo", str(digit_onnx.parent), "--fp32", "--out", str(tmp_path / "folder")]) == 0
    assert (tmp_path / "folder" / "model.onnx").read_bytes() == digit_onnx.read_bytes()


def test_demo_command_exports_a_checkpoint_without_onnx(tmp_path):
    import neurozoo

    checkpoint = neurozoo.save(neurozoo.create_model("mlp", dataset="mnist", hidden=(8,)), tmp_path / "ckpt")
    assert main(["demo", str(checkpoint), "--fp32", "--out", str(tmp_path / "site")]) == 0
    assert OnnxClassifier(tmp_path / "site" / "model.onnx").metadata.arch == "mlp"
    assert not (checkpoint / "model.onnx").exists(), "exported into a temporary folder, not the checkpoint"


@pytest.mark.parametrize("arguments, message", [
    (["missing.onnx"], "no ONNX model at missing.onnx"),
    (["{int8}", "--fp32"], "is an int8 model but --fp32 was given"),
    (["{fp32}", "--ort-dir", "{empty}"], f"has no {ort.MODULE}: `npm install onnxruntime-web@{ort.VERSION}`"),
    (["{fp32}", "--ort-dir", "{wrong}"], f"is not onnxruntime-web {ort.VERSION}'s {ort.MODULE}"),
    (["{foreign}"], "has no neurozoo metadata"),
    (["{four_channels}"], "takes 4-channel images; the page decodes images as grayscale or RGB"),
])
def test_demo_command_errors_are_one_line(arguments, message, digit_onnx, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "wrong").mkdir()
    for name in ort.FILES:
        (tmp_path / "wrong" / name).write_text("not onnxruntime-web")
    places = {
        "fp32": digit_onnx, "empty": tmp_path / "empty", "wrong": tmp_path / "wrong",
        # metadata only: the checks read the metadata, the graph is never run
        "int8": _with_metadata(digit_onnx, tmp_path / "int8.onnx", precision="int8"),
        "four_channels": _with_metadata(digit_onnx, tmp_path / "rgba.onnx", input_size="[4, 28, 28]"),
        "foreign": _with_metadata(digit_onnx, tmp_path / "foreign.onnx"),
    }
    argv = ["demo", *(a.format(**places) for a in arguments), "--out", str(tmp_path / "site")]

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


# ---------------------------------------------------------------- in the browser
SEVEN = [[60, 60], [220, 60], [150, 160], [110, 240]]  # a stroke on the 280x280 drawing pad
NOT_AN_IMAGE = "notes.png"
TOO_BIG = "big.png"


@pytest.fixture(scope="module")
def shown(node, chromium, published_onnx, digit_onnx, cifar_pngs, artifacts, tmp_path_factory) -> dict:
    """Every page these tests look at, driven in one Chromium session (each page compiles
    onnxruntime-web's WebAssembly again; launching the browser once saves the rest):
    {page: {"ready", "status", "steps", "requests", "console", "url", "site"}}. node and chromium
    come first: where one is missing, the tests skip before the checkpoint is exported."""
    root = tmp_path_factory.mktemp("sites")
    sites = {
        "int8": build_site(published_onnx / "model.int8.onnx", root / "int8", ort_dir=ORT_DIST),
        "fp32": build_site(published_onnx / "model.onnx", root / "fp32", fp32=True, ort_dir=ORT_DIST),
        "digits": build_site(digit_onnx, root / "digits", fp32=True, ort_dir=ORT_DIST),
        "cdn": build_site(published_onnx / "model.int8.onnx", root / "cdn"),
    }
    (root / NOT_AN_IMAGE).write_text("these are notes, not pixels")
    Image.open(cifar_pngs[0]).resize((64, 48)).save(root / TOO_BIG)
    shot = {precision: artifacts / f"demo-{PUBLISHED}-{precision}.png" for precision in ("int8", "fp32")}
    with served(root) as url:
        cdn = {"url": f"{url}cdn/", "routes": {ort.CDN_BASE: ORT_DIST}}
        pages = {
            "int8": {"url": f"{url}int8/", "steps": [
                {"files": cifar_pngs, "screenshot": shot["int8"]},
                {"resize": False, "files": [root / NOT_AN_IMAGE, root / TOO_BIG, cifar_pngs[0]]},
            ]},
            "fp32": {"url": f"{url}fp32/", "steps": [{"files": cifar_pngs, "screenshot": shot["fp32"]}]},
            "digits": {"url": f"{url}digits/", "steps": [{"stroke": SEVEN}]},
            "cdn": {**cdn, "steps": [{"files": cifar_pngs[:1]}]},
            **{f"cdn, {name} tampered": {**cdn, "tamper": name} for name in ort.FILES},
        }
        shown = drive(node, chromium, pages, root)
    for name, page in shown.items():
        page.update(url=pages[name]["url"], site=sites[name.split(",")[0]])
    return shown


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_page_classifies_like_the_runtime(precision, shown, cifar_pngs):
    page = shown[precision]
    assert page["ready"]["ok"], page["status"]
    assert page["ready"]["metadata"]["precision"] == precision
    assert all(r.startswith((page["url"], "blob:", "data:")) for r in page["requests"]), "offline: loopback only"
    results, cards = page["steps"][0]["results"], page["steps"][0]["cards"]
    assert [r["name"] for r in results] == [p.name for p in cifar_pngs] and all(r["ok"] for r in results)
    runtime = reference(page["site"].model)
    predictions = runtime.predict([Image.open(p) for p in cifar_pngs], top_k=len(runtime.class_names))
    assert [r["indices"][0] for r in results] == [p.indices[0] for p in predictions]
    assert [c["top1"] for c in cards] == [p.labels[0] for p in predictions]  # what the user reads
    expected = np.zeros((len(predictions), len(runtime.class_names)))
    for row, prediction in zip(expected, predictions):
        row[list(prediction.indices)] = prediction.probabilities
    probabilities = np.array([r["probabilities"] for r in results])
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=TOLERANCE[precision])
    assert all(r["ms"] > 0 for r in results)


def test_bad_input_shows_a_readable_error(shown, cifar_pngs):
    errors = {card["name"]: card["error"] for card in shown["int8"]["steps"][1]["cards"]}  # resizing off
    assert errors == {
        NOT_AN_IMAGE: f"{NOT_AN_IMAGE} is not an image this browser can decode (PNG, JPEG, GIF, WebP, …): "
                      "pick an image file",
        TOO_BIG: "image size 48x64 (HxW) differs from the model's input size 32x32 and resizing is off: resize "
                 "the image first or turn resizing on",
        cifar_pngs[0].name: None,  # the model's own size still works with resizing off
    }


def test_drawing_pad_of_a_digit_model_classifies_the_drawing(shown):
    page = shown["digits"]
    assert page["ready"]["ok"], page["status"]
    step = page["steps"][0]
    # the page resized its 280x280 RGBA pad to 28x28 grayscale; the runtime does the same to the pad's pixels
    pad = Image.open(io.BytesIO(base64.b64decode(step["padPng"].split(",", 1)[1])))
    assert pad.size == (280, 280) and np.asarray(pad.convert("L")).max() == 255  # the stroke is there
    expected = OnnxClassifier(page["site"].model).predict_proba(pad)[0]
    np.testing.assert_allclose(step["drawing"]["probabilities"], expected, rtol=0, atol=TOLERANCE["fp32"])


def test_cdn_mode_loads_the_pinned_files(shown):
    """The default site loads onnxruntime-web from the CDN URLs (served here from the npm package)."""
    page = shown["cdn"]
    assert page["ready"]["ok"] and page["steps"][0]["results"][0]["ok"], page["status"]
    assert {ort.CDN_BASE + name for name in ort.FILES} <= set(page["requests"])


@pytest.mark.parametrize("tampered", list(ort.FILES))
def test_cdn_mode_refuses_a_changed_file(tampered, shown):
    page = shown[f"cdn, {tampered} tampered"]
    assert not page["ready"]["ok"]
    assert page["status"].startswith(("onnxruntime-web could not be loaded", "onnxruntime-web's WebAssembly could"))
    assert ort.CDN_BASE + tampered in page["status"]
    assert any("integrity" in line and tampered in line for line in page["console"]), page["console"]
