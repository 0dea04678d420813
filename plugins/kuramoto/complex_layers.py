"""Complex-valued layers on real tensors (no complex dtype, so ONNX export is plain).

A complex activation z = m exp(i phi) is carried in polar form as three real tensors
``(m, cos phi, sin phi)`` with m >= 0, so ``Re z = m cos phi``, ``Im z = m sin phi`` and ``|z| = m``
cost nothing to recover. Every layer applies a real map ``f`` (a conv or a linear layer, weights
shared by both parts) by the KomplexNet rule (Muzellec et al. 2025, authors' ``apply_layer``):

    psi = f(Re z) + i f(Im z)
    m   = 0.5 |psi| + 0.5 f(|z|)          # magnitude: mix of the complex and the rate pathway
    phi = arg psi                         # phase: kept from the complex pathway
    m   = ReLU(Norm(m))                   # hidden layers only (InstanceNorm2d for conv, LayerNorm for linear)
    z'  = m exp(i phi)

``arg`` is the authors' ``stable_angle``: an imaginary part within 1e-8 of zero is replaced by 1e-8,
so the phase and its gradient are defined everywhere. The angle itself is never computed: z' only
needs cos phi and sin phi, the parts of psi divided by its modulus (that modulus, with the stabilised
imaginary part, also serves as |psi|: it differs by at most 1e-8).
"""

from __future__ import annotations

import torch
from torch import nn

STABLE_ANGLE_EPS = 1e-8


def complex_abs(re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
    """|re + i im|, with a zero gradient (not NaN) at z = 0, as ``torch.abs`` has on complex tensors."""
    return torch.linalg.vector_norm(torch.stack((re, im)), dim=0)


def stable_polar(re: torch.Tensor, im: torch.Tensor):
    """(|z|, cos arg z, sin arg z) with the authors' stable angle (imaginary parts near 0 set to 1e-8)."""
    im = torch.where(im.abs() < STABLE_ANGLE_EPS, torch.full_like(im, STABLE_ANGLE_EPS), im)
    modulus = torch.sqrt(re * re + im * im)  # >= 1e-8, so the division and its gradient are finite
    return modulus, re / modulus, im / modulus


def polar_from_parts(re: torch.Tensor, im: torch.Tensor):
    """(m, cos phi, sin phi) of z = re + i im; at z = 0 the direction is arbitrary and m = 0 hides it."""
    _, cos, sin = stable_polar(re, im)
    return complex_abs(re, im), cos, sin


class ComplexLayer(nn.Module):
    """A real map ``f`` applied to polar complex inputs by the KomplexNet rule (see the module docstring)."""

    def __init__(self, f: nn.Module, norm: nn.Module | None):
        super().__init__()
        self.f = f
        self.norm = norm

    def rule(self, magnitude: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        """The rule before normalisation: (m, cos phi, sin phi) of the output; m may be negative."""
        modulus, out_cos, out_sin = stable_polar(self.f(magnitude * cos), self.f(magnitude * sin))
        return 0.5 * modulus + 0.5 * self.f(magnitude), out_cos, out_sin

    def forward(self, magnitude: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        m, out_cos, out_sin = self.rule(magnitude, cos, sin)
        return torch.relu(self.norm(m)), out_cos, out_sin


class ComplexConv2d(ComplexLayer):
    """Complex conv layer: ``nn.Conv2d`` by the rule, then InstanceNorm2d (affine) + ReLU on the magnitude."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias),
            nn.InstanceNorm2d(out_channels, affine=True),
        )


class ComplexLinear(ComplexLayer):
    """Complex linear layer: ``nn.Linear`` by the rule, then LayerNorm + ReLU on the magnitude."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__(nn.Linear(in_features, out_features, bias=bias), nn.LayerNorm(out_features))


class ComplexReadout(ComplexLayer):
    """The last complex linear layer: no norm, no ReLU.

    Returns ``(m, cos phi, sin phi)`` with the raw, signed m (as in the authors' code, where m mixes
    in f(|z|) with a bias): the class readout uses m, the feedback model the complex output
    m exp(i phi) (a negative m is the phase turned by pi).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__(nn.Linear(in_features, out_features, bias=bias), None)

    def forward(self, magnitude: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        return self.rule(magnitude, cos, sin)


def multilabel_logits(magnitude: torch.Tensor) -> torch.Tensor:
    """The KomplexNet readout m - max_k m_k / 3 on the last layer's magnitude m (the paper's
    |out| - max|out| / 3): a per-image threshold at a third of the peak."""
    return magnitude - magnitude.amax(dim=1, keepdim=True) / 3
