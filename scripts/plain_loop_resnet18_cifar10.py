"""The baseline recipe of baseline-resnet18-cifar10 in a plain PyTorch loop: a cross-check of what
neurozoo's engine reaches, written without its engine, data layer, model wrapper or precision policy.

timm's resnet18 with a CIFAR stem (3x3 stride-1 conv, no max-pool), SGD with Nesterov momentum 0.9 and
weight decay 5e-4 (on every parameter: the engine exempts biases and norms), OneCycleLR to lr 0.1,
label smoothing 0.1, batch 128, random crop (zero padding 4) + horizontal flip, trained on 45,000 of
the 50,000 training images (a seed-0 permutation, as large as the engine's training part of its 10 %
validation split), bf16 autocast over the whole net (the engine keeps the stem conv in float32) or
float32. Prints the training loss and the top-1 on the full test split after every epoch.

    OMP_NUM_THREADS=1 python scripts/plain_loop_resnet18_cifar10.py --epochs 4 --precision bf16 --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import timm
import torch
import torch.nn.functional as F
from torch import nn

MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)
BATCH = 128


def images_and_labels(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    arrays = np.load(path)
    return torch.from_numpy(arrays["images"]).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(arrays["labels"]).long()


def normalised(images: torch.Tensor) -> torch.Tensor:
    return ((images.float() / 255 - MEAN) / STD).contiguous(memory_format=torch.channels_last)


def crop_and_flip(images: torch.Tensor) -> torch.Tensor:
    padded = F.pad(images, (4, 4, 4, 4))
    offsets = torch.randint(0, 9, (len(images), 2))
    flips = torch.rand(len(images)) < 0.5
    out = torch.stack([padded[k, :, top:top + 32, left:left + 32] for k, (top, left) in enumerate(offsets.tolist())])
    out[flips] = out[flips].flip(3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    bf16 = args.precision == "bf16"

    torch.manual_seed(0)
    train_images, train_labels = images_and_labels(args.data_dir / "cifar10_train.npz")
    test_images, test_labels = images_and_labels(args.data_dir / "cifar10_test.npz")
    kept = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(0))[:45000]
    train_images, train_labels = train_images[kept], train_labels[kept]

    net = timm.create_model("resnet18", pretrained=False, num_classes=10)
    net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    net.maxpool = nn.Identity()
    net = net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps_per_epoch = len(train_images) // BATCH
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=args.epochs * steps_per_epoch)

    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(train_images))
        started, loss_sum = time.time(), 0.0
        for step in range(steps_per_epoch):
            index = order[step * BATCH:(step + 1) * BATCH]
            with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                logits = net(normalised(crop_and_flip(train_images[index])))
            loss = F.cross_entropy(logits.float(), train_labels[index], label_smoothing=0.1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.item()
        net.eval()
        correct = 0
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            for start in range(0, len(test_images), 500):
                predicted = net(normalised(test_images[start:start + 500])).argmax(1)
                correct += (predicted == test_labels[start:start + 500]).sum().item()
        print(f"epoch {epoch + 1} train_loss {loss_sum / steps_per_epoch:.4f} "
              f"test_top1 {correct / len(test_images):.4f} {time.time() - started:.0f}s", flush=True)


if __name__ == "__main__":
    main()
