"""Architectures of the baseline plugin: timm / torchvision backbones with CIFAR-style stems.

For 32x32 inputs the ImageNet stems throw away most of the image, so (as in the CIFAR
literature the methods compare against) the first conv becomes 3x3 stride 1 and the stem
max-pool is removed. Every net exposes ``embed(x)`` (pooled penultimate features) and
``classify(z)``.
"""

from __future__ import annotations

import torch
from torch import nn

from neurozoo import Architecture


class TimmNet(nn.Module):
    """A timm classifier seen through the neurozoo net protocol (``embed`` / ``classify``)."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body.forward_head(self.body.forward_features(x), pre_logits=True)

    def classify(self, z: torch.Tensor) -> torch.Tensor:
        return self.body.get_classifier()(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.embed(x))


class Float32TimmNet(TimmNet):
    """A :class:`TimmNet` that runs in float32 (``neurozoo.training.precision``)."""

    # bf16 autocast does not compute these nets' gradients faithfully: lowest layer cosine with float64
    # on 8 CIFAR-10 images at initialisation 0.79 densenet121, 0.56 efficientnetv2_s, -0.22 mobilenetv2
    # (tests/test_fidelity.py)
    precision = "fp32"


class Float32Conv2d(nn.Conv2d):
    """A Conv2d that runs in float32 inside bf16 autocast (``neurozoo.training.precision``); its
    parameters and state-dict keys are a Conv2d's."""

    precision = "fp32"


def _stem_conv(old: nn.Conv2d, conv: type[nn.Conv2d] = nn.Conv2d) -> nn.Conv2d:
    return conv(old.in_channels, old.out_channels, 3, stride=1, padding=1, bias=old.bias is not None)


def _timm(model_name: str, num_classes: int, in_chans: int, **kwargs) -> nn.Module:
    import timm

    return timm.create_model(model_name, pretrained=False, num_classes=num_classes, in_chans=in_chans, **kwargs)


def resnet18(num_classes: int, in_chans: int = 3, **kwargs) -> TimmNet:
    body = _timm("resnet18", num_classes, in_chans, **kwargs)
    # In plain bf16 the stem conv's gradient is the one that drifts from float64 (cosine 0.988-0.990 on
    # 8 CIFAR-10 images, under cross-entropy and NM-Hebb's Hebbian phase); with the stem alone in float32
    # every layer stays >= 0.99 (tests/test_fidelity.py) and the net trains ~2.5x faster than in float32
    # on CPUs with bf16 units
    body.conv1 = _stem_conv(body.conv1, Float32Conv2d)
    body.maxpool = nn.Identity()
    return TimmNet(body)


def mobilenetv2(num_classes: int, in_chans: int = 3, **kwargs) -> Float32TimmNet:
    body = _timm("mobilenetv2_100", num_classes, in_chans, **kwargs)
    body.conv_stem = _stem_conv(body.conv_stem)
    return Float32TimmNet(body)


def efficientnetv2_s(num_classes: int, in_chans: int = 3, **kwargs) -> Float32TimmNet:
    body = _timm("efficientnetv2_s", num_classes, in_chans, **kwargs)
    body.conv_stem = _stem_conv(body.conv_stem)
    return Float32TimmNet(body)


def densenet121(num_classes: int, in_chans: int = 3, **kwargs) -> Float32TimmNet:
    body = _timm("densenet121", num_classes, in_chans, **kwargs)
    body.features.conv0 = _stem_conv(body.features.conv0)
    body.features.pool0 = nn.Identity()
    return Float32TimmNet(body)


class VGG(nn.Module):
    """torchvision's VGG feature stack (with BatchNorm) and the CIFAR head Linear(512, classes)."""

    # bf16 autocast does not compute its gradients faithfully (lowest layer cosine with float64 at
    # initialisation, batch 8: 0.95 VGG-11, 0.89 VGG-16): it runs in float32 (neurozoo.training.precision)
    precision = "fp32"

    def __init__(self, config_key: str, num_classes: int, in_chans: int = 3):
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        self.features = make_layers(cfgs[config_key], batch_norm=True)
        if in_chans != 3:
            first = self.features[0]
            self.features[0] = nn.Conv2d(in_chans, first.out_channels, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(512, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x)).flatten(1)

    def classify(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.embed(x))


def vgg11(num_classes: int, in_chans: int = 3) -> VGG:
    return VGG("A", num_classes, in_chans)


def vgg16(num_classes: int, in_chans: int = 3) -> VGG:
    return VGG("D", num_classes, in_chans)


class StandardVGG(nn.Module):
    """The "standard VGG16" of Cekic et al. (github metehancekic/SparseStrongActivations, ``HaH_VGG``
    without HaH layers): every conv 3x3, pad 1, no bias -> ReLU -> BatchNorm (the activation before
    the normalisation, where torchvision's VGG-BN has conv with bias -> BN -> ReLU), 2x2 max-pools,
    head Linear(512, classes). The authors flatten the 1x1 map of 32x32 inputs; the global average
    pool is the same there. Module names match ``hah_vgg16`` (``features.<i>`` = (conv, ReLU, BN),
    ``pool``, ``head``), whose HaH blocks replace the first six of these stacks."""

    # bf16 autocast does not compute its gradients faithfully (lowest layer cosine with float64 at
    # initialisation 0.77 at batch 8, 0.84 at batch 32, also with BatchNorm in float32): it runs in
    # float32 (neurozoo.training.precision, tests/test_fidelity.py)
    precision = "fp32"

    def __init__(self, config_key: str, num_classes: int, in_chans: int = 3):
        super().__init__()
        from torchvision.models.vgg import cfgs

        layers: list[nn.Module] = []
        channels = in_chans
        for value in cfgs[config_key]:
            if value == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers.append(nn.Sequential(
                    nn.Conv2d(channels, value, 3, padding=1, bias=False), nn.ReLU(), nn.BatchNorm2d(value)
                ))
                channels = value
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(channels, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x)).flatten(1)

    def classify(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.embed(x))


def vgg16_std(num_classes: int, in_chans: int = 3) -> StandardVGG:
    return StandardVGG("D", num_classes, in_chans)


class MLP(nn.Module):
    """Flatten -> (Linear -> ReLU) per hidden width -> Linear; for 28x28 digit images."""

    def __init__(self, num_classes: int, in_chans: int = 1, image_size: int = 28,
                 hidden: tuple[int, ...] | list[int] = (256, 256)):
        super().__init__()
        widths = [in_chans * image_size * image_size, *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for fan_in, fan_out in zip(widths, widths[1:]):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1], num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def classify(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.embed(x))


def mlp(num_classes: int, in_chans: int = 1, **kwargs) -> MLP:
    return MLP(num_classes, in_chans, **kwargs)


ARCHITECTURES = (
    Architecture("resnet18", resnet18, (3, 32, 32), "ResNet-18 (timm), CIFAR stem"),
    Architecture("vgg11", vgg11, (3, 32, 32), "VGG-11 with BatchNorm, CIFAR head"),
    Architecture("vgg16", vgg16, (3, 32, 32), "VGG-16 with BatchNorm, CIFAR head"),
    Architecture("vgg16_std", vgg16_std, (3, 32, 32),
                 "VGG-16 of the HaH paper's code: conv (no bias) -> ReLU -> BatchNorm, CIFAR head"),
    Architecture("mobilenetv2", mobilenetv2, (3, 32, 32), "MobileNet-v2 1.0 (timm), CIFAR stem"),
    Architecture("densenet121", densenet121, (3, 32, 32), "DenseNet-121 (timm), CIFAR stem"),
    Architecture("efficientnetv2_s", efficientnetv2_s, (3, 32, 32), "EfficientNet-V2-S (timm), CIFAR stem"),
    Architecture("mlp", mlp, (1, 28, 28), "MLP for 28x28 images, hidden=(256, 256)"),
)
