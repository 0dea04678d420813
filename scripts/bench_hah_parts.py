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
    topk_only     not a step: only the two exact selections per HaH layer that a step makes
                  (channel top-K of the HaH cost, spatial top-k of the threshold), with torch.topk
                  on bf16 channels_last tensors of the HaH layers' output shapes; a floor for
                  any implementation built on torch.topk

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
import neurozoo
from neurozoo import registry
from neurozoo.training.engine import build_engine
from neurozoo_plugins.hah.layers import DivisiveNormalization2d, hah_blocks, keep_count


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


def topk_only(batch_size: int) -> Callable:
    """The torch.topk calls of one HaH-VGG16 step, on its HaH layers' output shapes."""
    model = neurozoo.create_model("hah_vgg16", dataset="cifar10", method="hah")
    shapes = []
    hooks = [b.conv.register_forward_hook(lambda m, i, out: shapes.append(out.shape)) for b in hah_blocks(model)]
    with torch.no_grad():
        model(torch.rand(1, 3, 32, 32))
    for hook in hooks:
        hook.remove()
    activations = [torch.rand(batch_size, *shape[1:]).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
                   for shape in shapes]
    defaults = registry.get_method("hah").trainer().recipe

    def selections():
        for a in activations:
            channels, positions = a.shape[1], a.shape[2] * a.shape[3]
            a.movedim(1, -1).topk(keep_count(channels, defaults["hah_ratio"]), dim=-1, sorted=False)
            a.flatten(2).topk(keep_count(positions, defaults["keep_ratio"]), dim=-1, sorted=False)

    return selections


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
        "topk_only": topk_only(args.batch),
    }
    print(f"{torch.get_num_threads()} threads, batch {args.batch}, {args.steps} timed steps each after {args.warmup} warm-up")
    seconds = time_alternating(steps, warmup=args.warmup, timed=args.steps)
    for name, value in seconds.items():
        print(f"{name:>13}: {value * 1e3:6.0f} ms/step  {value / seconds['baseline']:.2f}x baseline")


if __name__ == "__main__":
    main()
