"""Clean top-1 of resnet18 on the CIFAR-10 test images: ``neurozoo.evaluate`` vs a bare torch loop.

    .venv/bin/python scripts/bench_eval.py [--checkpoint NAME_OR_FOLDER] [--data-dir ../shared/data]
                                           [--limit N] [--batch-size 256] [--repeats 1]

Both run in this process on the same model and the same images. The bare loop gets the test
images already decoded as one float tensor and does nothing but forward passes and arg-max;
``neurozoo.evaluate`` is timed end to end: loading the split through the data layer, batching,
the collected outputs (logits, targets, embeddings) and the metric. Without ``--checkpoint`` the
model has random weights (the timing does not depend on them). Repeats alternate the order; the
fastest time of each is compared. Target: evaluate / bare <= 1.2.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

import neurozoo

REPO = Path(__file__).resolve().parent.parent


def bare_loop(model, images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> float:
    right = 0
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            logits = model(images[start:start + batch_size])
            right += (logits.argmax(1) == labels[start:start + batch_size]).sum().item()
    return right / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="checkpoint name or folder (default: random resnet18 weights)")
    parser.add_argument("--data-dir", default=os.environ.get("NEUROZOO_DATA") or str(REPO.parent / "shared" / "data"))
    parser.add_argument("--limit", type=int, help="first N test images (default: all 10,000)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = neurozoo.load(args.checkpoint) if args.checkpoint else neurozoo.create_model("resnet18", dataset="cifar10")
    model.eval()
    test = neurozoo.get_dataset("cifar10").load("test", root=args.data_dir)
    count = min(args.limit or len(test), len(test))
    images = test.images[:count].float().div(255)  # the same [0, 1] values the data layer serves
    labels = test.targets[:count]
    print(f"resnet18 on {count} CIFAR-10 test images, batch {args.batch_size}, {torch.get_num_threads()} threads")

    # warm up both paths (allocator, kernels, first data-file read) on one batch
    bare_loop(model, images[: args.batch_size], labels[: args.batch_size], args.batch_size)
    neurozoo.evaluate(model, "cifar10", ["top1"], limit=args.batch_size, data_dir=args.data_dir,
                      batch_size=args.batch_size)

    bare_times, eval_times = [], []
    for repeat in range(args.repeats):
        for path in (("bare", "evaluate") if repeat % 2 == 0 else ("evaluate", "bare")):
            start = time.perf_counter()
            if path == "bare":
                bare_top1 = bare_loop(model, images, labels, args.batch_size)
                bare_times.append(time.perf_counter() - start)
            else:
                result = neurozoo.evaluate(model, "cifar10", ["top1"], limit=count, data_dir=args.data_dir,
                                           batch_size=args.batch_size)
                eval_times.append(time.perf_counter() - start)
                eval_top1 = result["metrics"]["top1"]["top1"]
            print(f"  {path:8s} {time.perf_counter() - start:7.1f} s")

    bare, evaluated = min(bare_times), min(eval_times)
    print(f"bare torch loop      {bare:7.1f} s  ({count / bare:6.1f} img/s)  top-1 {bare_top1:.4f}")
    print(f"neurozoo.evaluate    {evaluated:7.1f} s  ({count / evaluated:6.1f} img/s)  top-1 {eval_top1:.4f}")
    print(f"ratio evaluate/bare  {evaluated / bare:.3f}  (target <= 1.2)")


if __name__ == "__main__":
    main()
