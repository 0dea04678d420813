"""Benchmark: can the data loader feed training? Loader images/s vs resnet18 training images/s.

    .venv/bin/python scripts/bench_data.py [--data-dir ../shared/data] [--dataset cifar10] [--workers 2]

Both are measured in the same run, on the same machine:
- loader: ``get_dataset(dataset).load("train", augment=True)`` in a shuffling ``DataLoader``
  (batch 128, ``--workers`` processes, pinned memory on CUDA), images/s over ``--loader-batches``
  batches after the workers have started;
- training: ``create_model("resnet18", dataset=...)`` (the registered architecture), channels_last,
  bf16 autocast, SGD, batch 128 of images already on the device, images/s over ``--train-steps``
  steps after warm-up (CUDA if available, else CPU).
Prints both and their ratio; the target is loader >= 5x training.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

import neurozoo

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 5.0


def loader_throughput(dataset, batch_size: int, workers: int, batches: int, pin_memory: bool) -> float:
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True,
        pin_memory=pin_memory, persistent_workers=workers > 0,
    )
    seen = 0
    iterator = iter(loader)
    next(iterator)  # workers started and first batch out: start timing after it
    start = time.perf_counter()
    while seen < batches * batch_size:
        try:
            images, _ = next(iterator)
        except StopIteration:  # an epoch ended: go on with the next one
            iterator = iter(loader)
            continue
        seen += len(images)
    return seen / (time.perf_counter() - start)


def training_throughput(dataset_name: str, batch_size: int, steps: int, warmup: int, device: torch.device) -> float:
    record = neurozoo.get_dataset(dataset_name)
    model = neurozoo.create_model("resnet18", dataset=dataset_name).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    images = torch.rand(batch_size, *record.input_size, device=device).to(memory_format=torch.channels_last)
    targets = torch.randint(0, record.num_classes, (batch_size,), device=device)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(images), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("NEUROZOO_DATA") or str(REPO.parent / "shared" / "data"))
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--workers", type=int, default=2, choices=(0, 1, 2))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--loader-batches", type=int, default=200)
    parser.add_argument("--train-steps", type=int, default=None, help="default: 50 on CUDA, 5 on CPU")
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    steps = args.train_steps or (50 if device.type == "cuda" else 5)
    dataset = neurozoo.get_dataset(args.dataset).load("train", root=args.data_dir, augment=True)
    print(f"dataset {args.dataset}: {len(dataset)} training images, augmentation {dataset.augment!r}")

    loader = loader_throughput(dataset, args.batch_size, args.workers, args.loader_batches, device.type == "cuda")
    print(f"loader    {loader:10.0f} images/s  ({args.workers} workers, batch {args.batch_size}, "
          f"{args.loader_batches} batches)")
    train = training_throughput(args.dataset, args.batch_size, steps, warmup=max(2, steps // 10), device=device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"training  {train:10.0f} images/s  (resnet18, bf16 autocast, channels_last, batch {args.batch_size}, "
          f"{steps} steps, {name})")
    ratio = loader / train
    print(f"ratio     {ratio:10.1f}x  (target >= {TARGET_RATIO:g}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")


if __name__ == "__main__":
    main()
