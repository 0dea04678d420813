"""Benchmark: `import neurozoo` and `neurozoo.load` on a warm local checkpoint vs the bare minimum.

    .venv/bin/python scripts/bench_load.py [--repeats 7]

References measured in the same run:
- import: `python -c "import torch"` vs `import neurozoo` (lazy: torch-free names only), vs
  `import neurozoo` plus touching the torch-backed API, vs plus plugin discovery (`list_models()`).
- load: a registered name served from a local mirror (record lookup, sha256 check through the
  verified-hash index, config schema, strict load) vs the bare path done by hand: build the same
  module and `load_state_dict(safetensors.torch.load_file(...))`.
Prints medians and ratios; the target for load is <= 1.2x.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _median_subprocess(code: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _median_call(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--arch", default="resnet18")
    args = parser.parse_args()

    t_torch = _median_subprocess("import torch", args.repeats)
    t_lazy = _median_subprocess("import neurozoo", args.repeats)
    t_api = _median_subprocess("import neurozoo; neurozoo.create_model", args.repeats)
    t_plugins = _median_subprocess("import neurozoo; neurozoo.list_models()", args.repeats)
    print(f"import torch                              {t_torch * 1000:8.1f} ms")
    print(f"import neurozoo (torch-free names only)   {t_lazy * 1000:8.1f} ms   ratio {t_lazy / t_torch:.2f}x")
    print(f"import neurozoo + torch-backed API        {t_api * 1000:8.1f} ms   ratio {t_api / t_torch:.2f}x")
    print(f"import neurozoo + plugin discovery        {t_plugins * 1000:8.1f} ms   ratio {t_plugins / t_torch:.2f}x")

    import torch
    from safetensors.torch import load_file

    import neurozoo
    from neurozoo import Checkpoint, hookimpl, plugins
    from neurozoo.checkpoint import sha256_file
    from neurozoo.model import NeurozooModel

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NEUROZOO_CACHE"] = str(Path(tmp) / "cache")
        os.environ["NEUROZOO_HUB_DIR"] = str(Path(tmp) / "mirror")
        model = neurozoo.create_model(args.arch, num_classes=10)
        name = f"baseline-{args.arch}-bench"
        folder = neurozoo.save(model, Path(tmp) / "mirror" / name)
        files = {f: sha256_file(folder / f) for f in ("model.safetensors", "config.json")}

        class BenchRecords:
            @hookimpl
            def register_checkpoints(self, register):
                register(Checkpoint("baseline", args.arch, "bench", repo_id="bench/none", files=files))

        plugins.register(BenchRecords(), name="bench_records")
        start = time.perf_counter()
        neurozoo.load(name)
        first = time.perf_counter() - start

        config = json.loads((folder / "config.json").read_text())
        builder = neurozoo.get_architecture(args.arch).builder

        def bare():
            net = NeurozooModel(builder(num_classes=10, in_chans=3), config)
            net.load_state_dict(load_file(str(folder / "model.safetensors")))
            return net.eval()

        def zoo():
            return neurozoo.load(name)

        bare(), zoo()  # warm both paths (page cache, lazy imports)
        t_bare = _median_call(bare, args.repeats)
        t_zoo = _median_call(zoo, args.repeats)
        x = torch.rand(2, 3, 32, 32)
        assert torch.equal(bare()(x), zoo()(x))
    print(f"first neurozoo.load (hashes {sum(1 for _ in files)} files) {first * 1000:8.1f} ms")
    print(f"bare load ({args.arch})   {t_bare * 1000:8.1f} ms")
    print(f"neurozoo.load (warm)     {t_zoo * 1000:8.1f} ms   ratio {t_zoo / t_bare:.2f}x (target <= 1.20)")


if __name__ == "__main__":
    main()
