"""Phase maps of a KomplexNet checkpoint on the first test images of its dataset (a PNG).

    .venv/bin/python scripts/kuramoto_phase_maps.py NAME_OR_RUN --data-dir ../shared/data --out phase_maps.png
    # --count 4 images, --steps 0,7,15 (default: 0, T // 2, T), --first 0 (index of the first test image)
    # --untrained komplexnet [--seed 0] instead of a checkpoint: a freshly initialised net (multimnist_o25)

Rows: the image (titled with its digits), then the first layer's phase map at each step; hue = the
phase of the amplitude-weighted mean oscillator of each pixel, brightness = its length
(``neurozoo_plugins.kuramoto.figures``).
"""

from __future__ import annotations

import argparse

import torch

import neurozoo
from neurozoo_plugins.kuramoto.figures import phase_map_figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", nargs="?", help="registered name or run/checkpoint folder")
    parser.add_argument("--untrained", metavar="ARCH", help="a freshly initialised ARCH instead of a checkpoint")
    parser.add_argument("--seed", type=int, default=0, help="initialisation seed of --untrained")
    parser.add_argument("--data-dir", default=None, help="dataset root (default $NEUROZOO_DATA)")
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--steps", default=None, help="comma-separated timesteps (0: the initial phases)")
    parser.add_argument("--out", default="phase_maps.png")
    args = parser.parse_args()
    if (args.checkpoint is None) == (args.untrained is None):
        parser.error("give a checkpoint or --untrained ARCH (one of them)")
    if args.untrained:
        torch.manual_seed(args.seed)
        model = neurozoo.create_model(args.untrained, dataset="multimnist_o25", method="kuramoto")
    else:
        model = neurozoo.load(args.checkpoint)
    dataset = model.config["dataset"]
    data = neurozoo.get_dataset(dataset).load("test", root=args.data_dir, augment=False)  # the test set itself
    items = [data[i] for i in range(args.first, args.first + args.count)]
    images = torch.stack([item[0] for item in items])
    titles = [" + ".join(str(int(d)) for d in item[1].nonzero().flatten()) for item in items]
    steps = tuple(int(s) for s in args.steps.split(",")) if args.steps else None
    phase_map_figure(model, images, steps, titles).savefig(args.out, dpi=120)
    source = args.checkpoint or f"an untrained {args.untrained} (seed {args.seed})"
    print(f"wrote {args.out}: {args.count} test images of {dataset} from {source}")


if __name__ == "__main__":
    main()
