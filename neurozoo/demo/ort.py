"""The pinned onnxruntime-web build the demo page runs, and where the page loads it from.

The page needs two files of the npm package ``onnxruntime-web``: the WebAssembly-only ES module
bundle (the Emscripten loader is inside it, so no third file is fetched) and the WebAssembly binary.
Both are loaded with subresource integrity, from the CDN (jsDelivr serves npm tarball files byte for
byte) or from a local copy (``--ort-dir``): one code path, and a tampered or mismatched file is
refused by the browser either way.

To move to another version: ``npm install`` it in ``tests/demo_support`` and update ``VERSION`` and
``FILES`` (``openssl dgst -sha384 -binary FILE | openssl base64 -A``); ``tests/test_demo.py``
checks these constants against the installed package.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from pathlib import Path

from neurozoo.errors import ConfigError

VERSION = "1.30.0"
CDN_BASE = f"https://cdn.jsdelivr.net/npm/onnxruntime-web@{VERSION}/dist/"
MODULE = "ort.wasm.bundle.min.mjs"
WASM = "ort-wasm-simd-threaded.wasm"
FILES = {  # file of onnxruntime-web's dist/ -> its subresource-integrity hash
    MODULE: "sha384-PLWz+nHEVHpjwBsO0YVdvQj6n5814Iv8E3b8FG0Rp/uIAtjFMCKOpP66iPzedrIG",
    WASM: "sha384-vjBJ1z7qrhkTyYsNqKeF6c7N+nOJSU94czEo+tvZcu8G75JparGq9kB+kTnEUNVM",
}
LOCAL_DIR = "ort"  # the site's folder for a local copy


def integrity(path: str | os.PathLike) -> str:
    """The subresource-integrity value (sha384, base64) of a file."""
    digest = hashlib.sha384()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return "sha384-" + base64.b64encode(digest.digest()).decode()


def copy_local(ort_dir: str | os.PathLike, site: Path) -> str:
    """Copy the pinned files from ``ort_dir`` (the package folder or its ``dist/``) into the site.

    Returns the base URL the page loads them from. A missing file, or one that is not the pinned
    version's, is a :class:`ConfigError`: the browser would refuse it anyway, with a vaguer message.
    """
    folder = Path(ort_dir)
    if not (folder / MODULE).is_file() and (folder / "dist" / MODULE).is_file():
        folder = folder / "dist"
    install = f"`npm install onnxruntime-web@{VERSION}` and pass node_modules/onnxruntime-web/dist"
    target = site / LOCAL_DIR
    target.mkdir(parents=True, exist_ok=True)
    for name, expected in FILES.items():
        source = folder / name
        if not source.is_file():
            raise ConfigError(f"--ort-dir {ort_dir} has no {name}: {install}")
        if integrity(source) != expected:
            raise ConfigError(f"{source} is not onnxruntime-web {VERSION}'s {name} (sha384 differs): {install}")
        shutil.copyfile(source, target / name)
    return f"./{LOCAL_DIR}/"
