"""Cost of each method's step over its reference and of its precision policy, timed in one run.

    .venv/bin/python scripts/bench_methods.py [--data-dir DIR --steps 10 --warmup 3 --only nmhebb --batch 16]

For every row of ``CASES`` this builds the engine (default settings: bf16 autocast with the
float32 regions the method and architecture declare, channels_last on CPU) for the method and
for its reference, plus the method's engine with plain bf16 autocast everywhere (the engine
before the precision policy), feeds all the same batch (the first ``batch`` training images of
the row's dataset, so the batch has the structure the method expects), times their optimiser
steps in alternating blocks, and prints overhead = method time per step / reference time per
step, and policy cost = method time under its policy / under plain bf16. Rows whose method or
architecture is not registered, or whose data is missing, are reported as skipped.

On a CPU without bf16 units (no AVX-512 BF16 / AMX) bf16 autocast is emulated and slower than
float32, so there a float32 region makes a step faster, not slower: the policy cost depends on
the machine (the first line printed says whether torch sees bf16 support).
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

import torch
from torch.utils.data import default_collate

from bench_train import time_alternating
from neurozoo import registry
from neurozoo.errors import NeurozooError
from neurozoo.training.engine import build_engine
from neurozoo.training.precision import Policy


class Case(NamedTuple):
    method: str
    arch: str
    dataset: str  # shapes, classes and batch structure come from this dataset
    reference_method: str
    reference_arch: str
    batch: int
    target: float | None  # maximum overhead; None: report only


CASES = (
    Case("nmhebb", "resnet18", "cifar10", "baseline", "resnet18", 128, 1.10),
    Case("hah", "hah_vgg16", "cifar10", "baseline", "vgg16", 128, 1.30),
    Case("binenc", "resnet18", "cifar10", "baseline", "resnet18", 128, 1.05),
    Case("ffcl", "ffcl_mlp", "mnist", "baseline", "mlp", 128, None),
    Case("ffcl", "ffcl_mlp", "mnist", "baseline", "ffcl_mlp", 128, None),  # the same twins, by backprop
    Case("kuramoto", "komplexnet", "multimnist_o25", "kuramoto", "realnet", 64, None),
)


def first_batch(dataset: str, size: int, data_dir: str | None):
    data = registry.get_dataset(dataset).load("train", root=data_dir, augment=False)
    return default_collate([data[i] for i in range(size)])


def engine_of(method: str, arch: str, dataset: str, policy: Policy | None = None):
    """The engine with its defaults; ``policy`` replaces the precision policy they resolve to."""
    engine = build_engine(method, arch, dataset, device=torch.device("cpu"))
    if policy is not None:
        engine.policy = policy
    engine.start_phase(0, steps_per_epoch=1000)
    engine.train_mode()
    return engine


def skip_reason(case: Case) -> str | None:
    for kind, get, name in (
        ("method", registry.get_method, case.method),
        ("method", registry.get_method, case.reference_method),
        ("architecture", registry.get_architecture, case.arch),
        ("architecture", registry.get_architecture, case.reference_arch),
        ("dataset", registry.get_dataset, case.dataset),
    ):
        try:
            get(name)
        except NeurozooError:
            return f"{kind} {name!r} is not registered"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="dataset root (default $NEUROZOO_DATA)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="methods to run (default: all rows)")
    parser.add_argument("--batch", type=int, help="batch size of every row (default: each row's own)")
    args = parser.parse_args()

    print(f"{torch.get_num_threads()} threads, {args.steps} timed steps each after {args.warmup} warm-up; "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"oneDNN bf16 {'supported' if torch.ops.mkldnn._is_mkldnn_bf16_supported() else 'NOT supported (emulated)'}")
    for case in CASES:
        if args.only and case.method not in args.only:
            continue
        size = args.batch or case.batch
        label = f"{case.method}/{case.arch} vs {case.reference_method}/{case.reference_arch}, batch {size}"
        reason = skip_reason(case)
        if reason is None:
            try:
                batch = first_batch(case.dataset, size, args.data_dir)
            except (NeurozooError, OSError) as exc:
                reason = f"no data: {exc}"
        if reason is not None:
            print(f"{label}: skipped ({reason})")
            continue
        torch.manual_seed(0)
        engines = {"method": engine_of(case.method, case.arch, case.dataset),
                   "reference": engine_of(case.reference_method, case.reference_arch, case.dataset),
                   "all-bf16": engine_of(case.method, case.arch, case.dataset, Policy("bf16"))}
        policy = engines["method"].policy
        seconds = time_alternating({name: (lambda e=engine: e.step(batch)) for name, engine in engines.items()},
                                   warmup=args.warmup, timed=args.steps)
        overhead = seconds["method"] / seconds["reference"]
        verdict = "report only" if case.target is None else (
            f"target <= {case.target:.2f}: {'met' if overhead <= case.target else 'NOT met'}")
        print(f"{label}: {seconds['method'] * 1e3:.0f} vs {seconds['reference'] * 1e3:.0f} ms/step, "
              f"overhead {overhead:.2f}x ({verdict}); precision policy [{policy.describe()}] "
              f"{seconds['method'] * 1e3:.0f} vs all-bf16 {seconds['all-bf16'] * 1e3:.0f} ms/step, "
              f"cost {seconds['method'] / seconds['all-bf16']:.2f}x")


if __name__ == "__main__":
    main()
