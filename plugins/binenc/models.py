"""BinEnc's structural change: a narrow penultimate layer before a new linear classifier.

``adapt_model(net, variant=..., width=..., backbone_act=...)`` works on any registered backbone
whose classifier is a ``Linear`` layer that neurozoo can find: timm nets (``get_classifier`` /
``reset_classifier``) and nets with a ``head`` Linear (the baseline plugin's VGG and MLP).

Variants (the four models the paper compares):

- ``binenc``:    z = W h + b (width d), logits = V z + c; the loss adds the penalty on z (``penalty``).
- ``linpen``:    the same module tree, trained without the penalty.
- ``nonlinpen``: z = SiLU(W h + b), no penalty.
- ``nopen``:     the plain backbone and its own classifier (z = the pooled backbone features).

``backbone_act``: ``"silu"`` (default, the paper's ResNets) replaces every ``nn.ReLU`` module of the
backbone with ``nn.SiLU``; ``"relu"`` keeps the backbone as registered. The replacement is by module,
so a backbone that calls ``relu`` functionally is refused rather than half converted.
"""

from __future__ import annotations

import math

import torch
from torch import nn

VARIANTS = ("binenc", "linpen", "nonlinpen", "nopen")
BACKBONE_ACTIVATIONS = ("relu", "silu")


class PenultimateNet(nn.Module):
    """``backbone.embed`` -> penultimate layer (width d) = the embedding -> linear classifier."""

    def __init__(self, backbone: nn.Module, penultimate: nn.Module, head: nn.Linear):
        super().__init__()
        self.backbone = backbone
        self.penultimate = penultimate
        self.head = head

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.penultimate(self.backbone.embed(x))

    def classify(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.embed(x))


def take_classifier(net: nn.Module) -> nn.Linear:
    """Remove the backbone's linear classifier (its ``embed`` is unchanged) and return it."""
    body = getattr(net, "body", None)
    if hasattr(body, "get_classifier") and isinstance(body.get_classifier(), nn.Linear):
        classifier = body.get_classifier()
        body.reset_classifier(0)  # timm: the classifier becomes Identity, pooling stays
        return classifier
    if isinstance(getattr(net, "head", None), nn.Linear):
        classifier = net.head
        net.head = nn.Identity()
        return classifier
    raise ValueError(
        f"binenc cannot find the linear classifier of a {type(net).__name__}: it needs a timm net "
        "(body.get_classifier()) or a net whose classifier is a Linear attribute 'head'"
    )


def use_silu(module: nn.Module) -> int:
    """Replace every ``nn.ReLU`` inside ``module`` with ``nn.SiLU``; return how many were replaced."""
    replaced = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.ReLU:
                setattr(parent, name, nn.SiLU(inplace=child.inplace))
                replaced += 1
    return replaced


def default_width(num_classes: int) -> int:
    """The narrowest code with one sign pattern per class: the smallest d with 2**d >= classes."""
    return max(1, math.ceil(math.log2(num_classes)))


def adapt_model(net: nn.Module, variant: str = "binenc", width: int | None = None,
                backbone_act: str = "silu") -> nn.Module:
    if variant not in VARIANTS:
        raise ValueError(f"binenc: variant must be one of {VARIANTS}, got {variant!r}")
    if backbone_act not in BACKBONE_ACTIVATIONS:
        raise ValueError(f"binenc: backbone_act must be one of {BACKBONE_ACTIVATIONS}, got {backbone_act!r}")
    if backbone_act == "silu" and use_silu(net) == 0:
        raise ValueError(
            f"binenc: backbone_act='silu' found no nn.ReLU module to replace in a {type(net).__name__}; "
            "use backbone_act='relu' for this backbone"
        )
    if variant == "nopen":
        if width is not None:
            raise ValueError("binenc: variant 'nopen' has no penultimate layer; drop the width option")
        return net
    classifier = take_classifier(net)
    num_classes = classifier.out_features
    width = default_width(num_classes) if width is None else width
    if not isinstance(width, int) or width < 1 or 2**width < num_classes:
        raise ValueError(
            f"binenc: width must be an int d >= 1 with 2**d >= {num_classes} classes, got {width!r} "
            f"(the smallest is {default_width(num_classes)})"
        )
    penultimate: nn.Module = nn.Linear(classifier.in_features, width)
    if variant == "nonlinpen":
        penultimate = nn.Sequential(penultimate, nn.SiLU())
    return PenultimateNet(net, penultimate, nn.Linear(width, num_classes))
