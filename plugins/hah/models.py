"""HaH-VGG16 and the conversion of the early convs of other CNNs into HaH blocks.

HaH-VGG16 [code]: VGG-16 convs (3x3, pad 1, no bias, torchvision's layout "D"); the first
``hah_layers`` (default 6) are HaH blocks, the others conv -> ReLU -> BatchNorm; 2x2 max-pools
as in VGG; head Linear(512, classes). Input normalisation lives in ``NeurozooModel``, not here.
The authors flatten the 1x1 map of 32x32 inputs; a global average pool does the same there and
also accepts larger inputs.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import DivisiveNormalization2d, HaHBlock, TopFractionThreshold, hah_blocks


def _vgg16_layout() -> list:
    from torchvision.models.vgg import cfgs

    return cfgs["D"]


class HaHVGG(nn.Module):
    """A VGG feature stack whose first ``hah_layers`` convs are HaH blocks; ``embed``/``classify``."""

    # its conv -> ReLU -> BatchNorm stacks are not faithful in bf16 either (layer gradient cosines
    # 0.95 at initialisation with the HaH blocks alone in float32): the whole net runs in float32
    # (neurozoo.training.precision; README "Precision")
    precision = "fp32"

    def __init__(self, layout: list, num_classes: int, in_chans: int = 3, hah_layers: int = 6,
                 sigma: float = 0.1, keep_ratio: float = 0.2):
        super().__init__()
        convs = sum(1 for v in layout if v != "M")
        if not isinstance(hah_layers, int) or not 0 <= hah_layers <= convs:
            raise ValueError(f"hah_layers must be an int in [0, {convs}] (number of HaH convs), got {hah_layers!r}")
        layers: list[nn.Module] = []
        channels, index = in_chans, 0
        for value in layout:
            if value == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            if index < hah_layers:
                layers.append(HaHBlock(channels, value, 3, padding=1, sigma=sigma, keep_ratio=keep_ratio))
            else:
                layers.append(nn.Sequential(
                    nn.Conv2d(channels, value, 3, padding=1, bias=False), nn.ReLU(), nn.BatchNorm2d(value)
                ))
            channels, index = value, index + 1
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(channels, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x)).flatten(1)

    def classify(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.embed(x))


def hah_vgg16(num_classes: int, in_chans: int = 3, hah_layers: int = 6) -> HaHVGG:
    return HaHVGG(_vgg16_layout(), num_classes, in_chans, hah_layers)


def _parents(net: nn.Module) -> dict[nn.Module, tuple[nn.Module, str]]:
    """Each submodule -> (its parent, its attribute name)."""
    return {child: (parent, name) for parent in net.modules() for name, child in parent.named_children()}


def _block_from(conv: nn.Conv2d, sigma: float, keep_ratio: float) -> HaHBlock:
    if conv.groups != 1 or isinstance(conv.padding, str) or conv.padding_mode != "zeros":
        raise ValueError(
            f"cannot turn {conv} into a HaH block: it needs groups=1 and numeric zero padding; "
            "use a smaller hah_layers so that only plain convs are converted"
        )
    return HaHBlock(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, sigma=sigma, keep_ratio=keep_ratio)


def convert_early_convs(net: nn.Module, count: int, sigma: float = 0.1, keep_ratio: float = 0.2) -> nn.Module:
    """Replace the first ``count`` Conv2d of ``net`` (registration order) by HaH blocks, in place.

    Inside an ``nn.Sequential`` (VGG stacks), the BatchNorm2d and ReLU that directly follow a
    converted conv (in either order) are removed, as in HaH-VGG16 where a block replaces
    conv -> ReLU -> BN.
    Elsewhere (e.g. a ResNet stem ``conv1, bn1, act1``) only the conv is replaced.
    """
    inside_blocks = {id(block.conv) for block in hah_blocks(net)}
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d) and id(m) not in inside_blocks]
    if count > len(convs):
        raise ValueError(f"hah_layers={count} but the model has only {len(convs)} convertible convs")
    parents = _parents(net)
    for conv in convs[:count]:
        parent, name = parents[conv]
        setattr(parent, name, _block_from(conv, sigma, keep_ratio))
        if isinstance(parent, nn.Sequential):
            siblings = list(parent.named_children())
            position = [n for n, _ in siblings].index(name)
            # conv -> BN -> ReLU (torchvision) or conv -> ReLU -> BN (the authors' VGG, vgg16_std)
            remaining = [nn.BatchNorm2d, nn.ReLU]
            for follower_name, follower in siblings[position + 1:position + 3]:
                kind = next((t for t in remaining if isinstance(follower, t)), None)
                if kind is None:
                    break
                remaining.remove(kind)
                setattr(parent, follower_name, nn.Identity())
    return net


def adapt_model(net: nn.Module, hah_layers: int = 0, sigma: float = 0.1, keep_ratio: float = 0.2) -> nn.Module:
    """The ``hah`` method's structural change (``Method.adapt_model``).

    ``hah_layers=N`` turns the first N convs of a plain CNN (e.g. ``vgg16``, ``vgg11``) into HaH
    blocks; ``hah_layers=0`` keeps the architecture's own blocks (``hah_vgg16``). ``sigma`` and
    ``keep_ratio`` are then set on every HaH block of the net.
    """
    if not isinstance(hah_layers, int) or hah_layers < 0:
        raise ValueError(f"hah_layers must be a non-negative int, got {hah_layers!r}")
    if hah_layers and hah_blocks(net):
        raise ValueError(
            f"hah_layers={hah_layers} given for a model that already has HaH blocks (e.g. hah_vgg16): "
            "leave the method option hah_layers at 0 and set the architecture option hah_layers instead"
        )
    convert_early_convs(net, hah_layers, sigma, keep_ratio)
    blocks = hah_blocks(net)
    if not blocks:
        raise ValueError(
            "method 'hah' needs HaH blocks: train --arch hah_vgg16, or set the method option hah_layers=N "
            "to turn the first N convs of this architecture into HaH blocks"
        )
    for block in blocks:
        block.divisive = DivisiveNormalization2d(sigma)
        block.threshold = TopFractionThreshold(keep_ratio)
    return net
