"""Cost of each method's training step over its reference, timed in the same run.

    .venv/bin/python scripts/bench_methods.py [--data-dir DIR --steps 10 --warmup 3 --only nmhebb]

For every row of ``CASES`` this builds the engine (default settings: bf16 autocast +
channels_last on CPU) for the method and for its reference, feeds both the same batch (the first
``batch`` training images of the row's dataset, so the batch has the structure the method
expects), times their optimiser steps in alternating blocks, and prints
overhead = method time per step / reference time per step. Rows whose method or architecture is
not registered, or whose data is missing, are reported as skipped.
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


def step_of(method: str, arch: str, dataset: str, batch):
    engine = build_engine(method, arch, dataset, device=torch.device("cpu"))
    engine.start_phase(0, steps_per_epoch=1000)
    engine.train_mode()
    return lambda: engine.step(batch)


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
    args = parser.parse_args()

    print(f"{torch.get_num_threads()} threads, {args.steps} timed steps each after {args.warmup} warm-up")
    for case in CASES:
        if args.only and case.method not in args.only:
            continue
        label = f"{case.method}/{case.arch} vs {case.reference_method}/{case.reference_arch}, batch {case.batch}"
        reason = skip_reason(case)
        if reason is None:
            try:
                batch = first_batch(case.dataset, case.batch, args.data_dir)
            except (NeurozooError, OSError) as exc:
                reason = f"no data: {exc}"
        if reason is not None:
            print(f"{label}: skipped ({reason})")
            continue
        torch.manual_seed(0)
        seconds = time_alternating(
            {"method": step_of(case.method, case.arch, case.dataset, batch),
             "reference": step_of(case.reference_method, case.reference_arch, case.dataset, batch)},
            warmup=args.warmup, timed=args.steps,
        )
        overhead = seconds["method"] / seconds["reference"]
        verdict = "report only" if case.target is None else (
            f"target <= {case.target:.2f}: {'met' if overhead <= case.target else 'NOT met'}")
        print(f"{label}: {seconds['method'] * 1e3:.0f} vs {seconds['reference'] * 1e3:.0f} ms/step, "
              f"overhead {overhead:.2f}x ({verdict})")


if __name__ == "__main__":
    main()
