"""Build the demo site: a static page that classifies images in the browser with onnxruntime-web.

The site is ``index.html`` + three small ES modules (``static/``) + the ONNX file, and optionally
a local copy of onnxruntime-web. Everything the page needs to know about the model (labels, input
size, task) it reads from the ONNX file's own neurozoo metadata, as :mod:`neurozoo.runtime` does;
the page's settings (which file, where onnxruntime-web comes from) are JSON in ``index.html``.
"""

from __future__ import annotations

import json
import os
import shutil
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path

from neurozoo.demo import ort
from neurozoo.errors import CheckpointError, ConfigError
from neurozoo.runtime import PIL_MODES, OnnxClassifier

STATIC = Path(__file__).parent / "static"
MODULES = ("demo.js", "preprocess.js", "onnx_metadata.js")
TOP_K = 5


@dataclass(frozen=True)
class DemoSite:
    folder: Path
    model: Path  # the ONNX file inside the site
    ort_base: str  # the URL onnxruntime-web is loaded from (the CDN, or ./ort/)

    def summary(self) -> str:
        return (
            f"wrote {self.folder} ({self.model.name}; onnxruntime-web {ort.VERSION} from {self.ort_base})\n"
            f"open it with: python3 -m http.server --bind 127.0.0.1 --directory {self.folder} 8000\n"
            "  then browse to http://127.0.0.1:8000/ (a page opened from file:// cannot fetch its model)"
        )


def build_site(
    model: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    fp32: bool = False,
    ort_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
) -> DemoSite:
    """Write the demo site for ``model`` into ``out_dir``.

    ``model`` is an exported ``.onnx`` file (used as is), or anything ``neurozoo export`` takes (a
    registered name, run or checkpoint folder, ``hf-hub:ORG/NAME``): its ``model.int8.onnx``
    (``model.onnx`` with ``fp32=True``) is taken from the folder when there, else exported
    (``data_dir`` holds the int8 calibration images). ``ort_dir`` (onnxruntime-web's ``dist/``)
    makes the site self-contained; without it the page loads onnxruntime-web from the CDN.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # onnxruntime-web first: a wrong --ort-dir fails before a checkpoint is exported
    ort_base = ort.copy_local(ort_dir, out) if ort_dir is not None else ort.CDN_BASE
    with tempfile.TemporaryDirectory(prefix="neurozoo-demo-") as workdir:
        source = _onnx_file(model, fp32, data_dir, Path(workdir))
        _check_model(source, fp32)
        site_model = out / source.name
        shutil.copyfile(source, site_model)
    for name in MODULES:
        shutil.copyfile(STATIC / name, out / name)
    (out / "index.html").write_text(_page(site_model.name, ort_base), encoding="utf-8")
    return DemoSite(out, site_model, ort_base)


def _onnx_file(model, fp32: bool, data_dir, workdir: Path) -> Path:
    path = Path(model)
    if path.suffix == ".onnx":
        if not path.is_file():
            raise CheckpointError(
                f"no ONNX model at {path}; create one with `neurozoo export`, or pass a checkpoint name"
            )
        return path
    from neurozoo.export import FP32_NAME, INT8_NAME, export_onnx  # torch: only when a checkpoint is given

    exported = path / (FP32_NAME if fp32 else INT8_NAME)
    if exported.is_file():
        return exported
    report = export_onnx(model, workdir, int8=not fp32, data_dir=data_dir)
    return report.fp32_path if fp32 else report.int8_path


def _check_model(path: Path, fp32: bool) -> None:
    """The page's limits, checked here so that they fail at build time and not in a user's browser."""
    metadata = OnnxClassifier(path).metadata  # CheckpointError for a file that is not a neurozoo export
    if fp32 and metadata.precision != "fp32":
        raise ConfigError(
            f"{path} is an {metadata.precision} model but --fp32 was given: pass model.onnx or drop --fp32"
        )
    channels = metadata.input_size[0]
    if channels not in PIL_MODES:
        raise ConfigError(
            f"{path} takes {channels}-channel images; the page decodes images as grayscale or RGB (1 or 3 channels)"
        )


def _page(model_file: str, ort_base: str) -> str:
    module_url = ort_base + ort.MODULE
    import_map = {"imports": {"onnxruntime-web": module_url}, "integrity": {module_url: ort.FILES[ort.MODULE]}}
    config = {
        "model": model_file,
        "wasm": ort_base + ort.WASM,
        "wasmIntegrity": ort.FILES[ort.WASM],
        "topK": TOP_K,
    }
    template = string.Template((STATIC / "index.html").read_text(encoding="utf-8"))
    return template.substitute(import_map=_script_json(import_map), config=_script_json(config))


def _script_json(value) -> str:
    """JSON safe inside a <script> element (no "</" to end it early)."""
    return json.dumps(value, indent=1).replace("</", "<\\/")
