"""Training throughput: the engine's default CPU settings vs plain fp32 eager PyTorch.

    .venv/bin/python scripts/bench_train.py [--batch-size 128 --steps 10 --warmup 3]

Both train the same CIFAR-style ResNet-18 (10 classes, 32x32 inputs) on the same random batch
with the same optimiser (SGD Nesterov, one-cycle) and loss (cross-entropy, label smoothing 0.1).
The engine runs the baseline method's step with its defaults (bf16 autocast + channels_last);
the reference is the textbook loop written by hand. Timed steps alternate between the two in
blocks, so a busy shared machine slows both alike; the printed ratio is what to compare.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from neurozoo import create_model
from neurozoo.training.engine import build_engine


def time_alternating(steps: dict[str, Callable[[], object]], *, warmup: int, timed: int, blocks: int = 5) -> dict[str, float]:
    """Seconds per call of each function: ``warmup`` untimed calls each, then ``timed`` calls each,
    interleaved in ``blocks`` rounds."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    seconds = dict.fromkeys(steps, 0.0)
    counts = dict.fromkeys(steps, 0)
    for block in range(blocks):
        for name, step in steps.items():
            n = timed // blocks + (1 if block < timed % blocks else 0)
            started = time.perf_counter()
            for _ in range(n):
                step()
            seconds[name] += time.perf_counter() - started
            counts[name] += n
    return {name: seconds[name] / max(counts[name], 1) for name in steps}


def plain_fp32_step(batch_size: int, label_smoothing: float, total_steps: int) -> Callable[[], None]:
    """The hand-written reference: NCHW fp32 eager forward, backward, optimiser step."""
    model = create_model("resnet18", num_classes=10, input_size=(3, 32, 32)).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=total_steps)
    images, targets = torch.rand(batch_size, 3, 32, 32), torch.randint(0, 10, (batch_size,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(images), targets, label_smoothing=label_smoothing)
        loss.backward()
        optimizer.step()
        scheduler.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    torch.manual_seed(0)
    engine = build_engine("baseline", "resnet18", "cifar10", device=torch.device("cpu"))
    steps_per_epoch = 50_000 // args.batch_size
    engine.start_phase(0, steps_per_epoch)
    engine.train_mode()
    batch = (torch.rand(args.batch_size, 3, 32, 32), torch.randint(0, 10, (args.batch_size,)))
    label_smoothing = engine.trainer.recipe["label_smoothing"]
    steps = {
        f"engine ({engine.precision}, channels_last={engine.channels_last})": lambda: engine.step(batch),
        "plain fp32 eager": plain_fp32_step(args.batch_size, label_smoothing, engine.phase.epochs * steps_per_epoch),
    }
    seconds = time_alternating(steps, warmup=args.warmup, timed=args.steps)

    print(f"resnet18, 32x32, batch {args.batch_size}, {torch.get_num_threads()} threads, "
          f"{args.steps} timed steps each after {args.warmup} warm-up")
    for name, s in seconds.items():
        print(f"  {name:40s} {args.batch_size / s:8.1f} images/s")
    engine_s, plain_s = seconds.values()
    print(f"speed-up of the engine defaults over plain fp32: {plain_s / engine_s:.2f}x (target >= 2.0)")


if __name__ == "__main__":
    main()
