"""Where the HaH-VGG16 training step's time goes: the step with HaH operations switched off,
against baseline VGG-16, all timed in the same run.

    .venv/bin/python scripts/bench_hah_parts.py [--data-dir DIR --batch 128 --steps 6 --warmup 2]

Every configuration is the engine's default step (bf16 autocast + channels_last on CPU) on the
same batch (the first ``batch`` CIFAR-10 training images):

    baseline      baseline / vgg16
    hah           hah / hah_vgg16 as trained
    no_hah_cost   alphas all 0: local copies still captured, no HaH cost computed
    no_threshold  keep_ratio=1: the top-fraction threshold keeps everything
    no_divisive   divisive normalisation replaced by the identity (a diagnostic patch)
    routing_only  all three off: weight-normalised convs with the routed local copy, then ReLU

Prints ms/step and the ratio to baseline; the differences attribute the overhead.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import ExitStack
from unittest import mock

import torch

from bench_methods import first_batch
from bench_train import time_alternating
from neurozoo import registry
from neurozoo.training.engine import build_engine
from neurozoo_plugins.hah.layers import DivisiveNormalization2d


def step_of(method: str, arch: str, batch, options: dict | None = None, identity_divisive: bool = False) -> Callable:
    trainer = registry.get_method(method).trainer(**(options or {}))
    engine = build_engine(method, arch, "cifar10", trainer=trainer, device=torch.device("cpu"))
    engine.start_phase(0, steps_per_epoch=1000)
    engine.train_mode()

    def step():
        with ExitStack() as stack:
            if identity_divisive:
                stack.enter_context(mock.patch.object(DivisiveNormalization2d, "forward",
                                                      lambda self, x, magnitude=None: x))
            engine.step(batch)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="dataset root (default $NEUROZOO_DATA)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()

    batch = first_batch("cifar10", args.batch, args.data_dir)
    no_cost = {"alphas": [0.0] * 6}
    torch.manual_seed(0)
    steps = {
        "baseline": step_of("baseline", "vgg16", batch),
        "hah": step_of("hah", "hah_vgg16", batch),
        "no_hah_cost": step_of("hah", "hah_vgg16", batch, no_cost),
        "no_threshold": step_of("hah", "hah_vgg16", batch, {"keep_ratio": 1.0}),
        "no_divisive": step_of("hah", "hah_vgg16", batch, identity_divisive=True),
        "routing_only": step_of("hah", "hah_vgg16", batch, {**no_cost, "keep_ratio": 1.0}, identity_divisive=True),
    }
    print(f"{torch.get_num_threads()} threads, batch {args.batch}, {args.steps} timed steps each after {args.warmup} warm-up")
    seconds = time_alternating(steps, warmup=args.warmup, timed=args.steps)
    for name, value in seconds.items():
        print(f"{name:>13}: {value * 1e3:6.0f} ms/step  {value / seconds['baseline']:.2f}x baseline")


if __name__ == "__main__":
    main()
