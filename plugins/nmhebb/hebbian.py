"""The Hebbian regulariser of NM-Hebb phase 1 and the forward hook that feeds it.

    R_hebb = mean_f (abar_f - wbar_f)^2
    abar_f = mean over batch and space of channel f of ONE conv layer's activation, after its nonlinearity
    wbar_f = mean of the weights of filter f of that conv

The layer is named by two module paths relative to the ``NeurozooModel`` (``model.get_submodule``):
the conv whose filters give ``wbar`` and the module whose output is that conv's activation after
its nonlinearity (the ReLU that follows its BatchNorm, or in a residual block the ReLU after the
add). A forward hook on the activation module reduces the activation to its per-channel means
inside the normal forward pass, so the regulariser costs one mean over the batch and no extra
forward; gradients flow through those means to the conv's weights and to every earlier layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

# Default layer per architecture [reading of "early-to-mid depth, last conv of the 2nd stage"]:
# the last conv followed by a nonlinearity in the first downsampled stage (16x16 maps for 32x32
# inputs with the CIFAR stems of the baseline plugin). Inverted-residual blocks end in a linear
# projection, so there it is the block's last conv that has an activation (depthwise / expansion);
# DenseNet layers are pre-activation, so it is the bottleneck conv1 whose output norm2 activates.
DEFAULT_LAYERS: dict[str, tuple[str, str]] = {
    "resnet18": ("net.body.layer2.1.conv2", "net.body.layer2.1.act2"),
    "vgg11": ("net.features.4", "net.features.6"),
    "vgg16": ("net.features.10", "net.features.12"),
    "mobilenetv2": ("net.body.blocks.1.1.conv_dw", "net.body.blocks.1.1.bn2.act"),
    "efficientnetv2_s": ("net.body.blocks.1.3.conv_exp", "net.body.blocks.1.3.bn1.act"),
    "densenet121": (
        "net.body.features.denseblock2.denselayer12.conv1",
        "net.body.features.denseblock2.denselayer12.norm2.act",
    ),
}


@dataclass(frozen=True)
class HebbLayer:
    """The conv whose filters are regularised and the module that outputs its activation."""

    conv: nn.Conv2d
    activation: nn.Module


def _submodule(model: nn.Module, name: str, what: str) -> nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError:
        convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        hint = f" (conv layers: {', '.join(convs[:8])}{', ...' if len(convs) > 8 else ''})" if convs else ""
        raise ValueError(
            f"nmhebb: {what} {name!r} is not a module of this model; give a dotted path relative to "
            f"the NeurozooModel, e.g. 'net.body.layer2.1.conv2'{hint}"
        ) from None


def resolve_layer(model: nn.Module, arch: str, conv: str | None = None, activation: str | None = None) -> HebbLayer:
    """The Hebbian layer of ``model``: the named modules, or the default of architecture ``arch``."""
    if conv is None:
        if arch not in DEFAULT_LAYERS:
            raise ValueError(
                f"nmhebb has no default Hebbian layer for architecture {arch!r} (defaults: "
                f"{sorted(DEFAULT_LAYERS)}); pass hebb_layer= (a conv) and hebb_activation= (the module "
                "whose output is that conv's activation after its nonlinearity)"
            )
        conv, activation = DEFAULT_LAYERS[arch]
    conv_module = _submodule(model, conv, "hebb_layer")
    if not isinstance(conv_module, nn.Conv2d):
        raise ValueError(f"nmhebb: hebb_layer {conv!r} is a {type(conv_module).__name__}, not an nn.Conv2d; name a conv layer")
    return HebbLayer(conv_module, _submodule(model, activation, "hebb_activation"))


class _ChannelMeans(torch.autograd.Function):
    """``torch.mean(activation, dim=(0, 2, 3))`` in at least float32, with a dense backward.

    Autograd's own backward of the mean is an expanded (stride-0) tensor; added to the
    activation's other (channels_last) gradient it gives a contiguous-format sum, and every
    earlier layer's backward then runs on the other layout, with reorders (about 3 % of a
    resnet18 step on CPU). This backward expands the gradient densely in the activation's layout.
    """

    @staticmethod
    def forward(ctx, activation):
        ctx.shape, ctx.dtype = activation.shape, activation.dtype
        ctx.layout = (torch.channels_last if activation.is_contiguous(memory_format=torch.channels_last)
                      else torch.contiguous_format)
        return torch.mean(activation, dim=(0, 2, 3), dtype=torch.promote_types(activation.dtype, torch.float32))

    @staticmethod
    def backward(ctx, grad):
        n, c, h, w = ctx.shape
        per_element = (grad / (n * h * w)).to(ctx.dtype).view(1, c, 1, 1)
        return per_element.expand(ctx.shape).contiguous(memory_format=ctx.layout)


def channel_means(activation: torch.Tensor) -> torch.Tensor:
    """abar: (C,) mean of an (N, C, H, W) activation over batch and space, accumulated in at least float32."""
    if activation.dim() != 4:
        raise ValueError(f"nmhebb: the Hebbian activation must be (N, C, H, W), got shape {tuple(activation.shape)}")
    return _ChannelMeans.apply(activation)


def hebbian_regulariser(abar: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """R_hebb = mean_f (abar_f - wbar_f)^2 with wbar_f the mean of filter f of conv ``weight`` (C, C_in/g, k, k)."""
    if abar.shape != weight.shape[:1]:
        raise ValueError(
            f"nmhebb: the activation has {abar.numel()} channels but the conv has {weight.shape[0]} filters; "
            "hebb_activation must be the output of hebb_layer (after its norm and nonlinearity)"
        )
    wbar = weight.to(abar.dtype).mean(dim=(1, 2, 3))
    return (abar - wbar).pow(2).mean()


@contextmanager
def capture_channel_means(module: nn.Module) -> Iterator[list[torch.Tensor]]:
    """While open, every forward of ``module`` appends the channel means of its output to the list."""
    captured: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda _module, _inputs, output: captured.append(channel_means(output)))
    try:
        yield captured
    finally:
        handle.remove()
