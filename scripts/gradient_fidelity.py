"""Gradient fidelity of a method on an architecture: the engine's gradients against float64.

    .venv/bin/python scripts/gradient_fidelity.py kuramoto komplexnet multimnist_o25 --batch 4
    .venv/bin/python scripts/gradient_fidelity.py hah hah_vgg16 cifar10 --all-bf16 --layers

Builds the engine with its defaults for METHOD on ARCH (seed 0) and prints
``neurozoo.training.fidelity``'s report on the first ``--batch`` training images of DATASET (no
augmentation) at initialisation and after ``--steps`` engine steps on the next images: under the
effective precision policy and, with ``--all-bf16``, also under plain bf16 autocast everywhere
(the engine before the policy), on the same weights. ``--size`` centre-crops the images (a
smaller input for nets that accept it); ``--phase`` starts in a later phase of the recipe
(NM-Hebb's "metric" is 1).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.data import default_collate

from neurozoo import registry
from neurozoo.training.engine import build_engine
from neurozoo.training.fidelity import engine_fidelity
from neurozoo.training.precision import Policy


def batches(dataset: str, size: int, count: int, crop: int | None, data_dir: str | None) -> list:
    """``count`` consecutive batches of ``size`` training images (centre-cropped to ``crop``)."""
    data = registry.get_dataset(dataset).load("train", root=data_dir, augment=False)
    out = []
    for start in range(0, size * count, size):
        batch = default_collate([data[i] for i in range(start, start + size)])
        if crop is not None:
            height, width = batch[0].shape[-2:]
            top, left = (height - crop) // 2, (width - crop) // 2
            batch = [t[..., top:top + crop, left:left + crop] if t.dim() == 4 else t for t in batch]
        out.append(batch)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method")
    parser.add_argument("arch")
    parser.add_argument("dataset")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--size", type=int, help="centre-crop the images to SIZE x SIZE")
    parser.add_argument("--phase", type=int, default=0, help="index of the recipe phase to start in")
    parser.add_argument("--arch-kwargs", type=json.loads, default={}, help='JSON, e.g. \'{"timesteps": 5}\'')
    parser.add_argument("--all-bf16", action="store_true", help="also report plain bf16 autocast")
    parser.add_argument("--layers", action="store_true", help="print every parameter group (layer)")
    parser.add_argument("--data-dir", help="dataset root (default $NEUROZOO_DATA)")
    args = parser.parse_args()

    check, *train = batches(args.dataset, args.batch, 1 + args.steps, args.size, args.data_dir)
    policies = {"policy": None, **({"all-bf16": Policy("bf16")} if args.all_bf16 else {})}
    print(f"{args.method}/{args.arch} on {args.batch} {args.dataset} images"
          f"{f' cropped to {args.size}' if args.size else ''}, phase {args.phase}, {torch.get_num_threads()} threads")
    started = time.perf_counter()
    torch.manual_seed(0)
    engine = build_engine(args.method, args.arch, args.dataset, arch_kwargs=args.arch_kwargs,
                          device=torch.device("cpu"))
    engine.start_phase(args.phase, steps_per_epoch=max(1, args.steps))
    engine.epoch = engine.first_epoch(args.phase)
    engine.train_mode()
    for moment in ("init", f"after {args.steps} steps"):
        if moment != "init":
            for batch in train:
                engine.step(batch)
        for label, policy in policies.items():
            report = engine_fidelity(engine, check, policy=policy)
            print(f"[{moment}, {label}] {report if args.layers else report.summary()}")
    print(f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
