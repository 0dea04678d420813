"""Kuramoto phase dynamics of KomplexNet's first layer (amplitudes fixed, phases evolve).

One step, for unit i (channel c, pixel p) with amplitude a_i and phase phi_i (authors' ``update_phases``):

    b_j     = tanh(a_j)
    dphi_i  = sum_j K[c_i, c_j, p_j - p_i] b_j sin(phi_j - phi_i)      # local coupling: a 2-D conv
            - eps * sum_j b_j sin(phi_j - phi_i)                      # global desynchronisation (per image)
    phi_i  <- phi_i + eta * dphi_i

Both sums use sin(phi_j - phi_i) = sin(phi_j) cos(phi_i) - cos(phi_j) sin(phi_i), so they only need
convolutions / sums of b cos(phi) and b sin(phi): plain real ops that export to ONNX.

The feedback model adds top-down terms of the same form from the previous step's higher layers
(authors' ``update_phases_froml2`` / ``update_phases_froml3``), see :class:`FeedbackCoupling`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def radial_gaussian(size: int = 13, std: float = 3.0) -> torch.Tensor:
    """exp(-r^2 / (2 std^2)) on a size x size grid over [-1, 1]^2: near flat for std 3 (authors' init)."""
    coords = torch.linspace(-1.0, 1.0, size)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    return torch.exp(-(x**2 + y**2) / (2.0 * std**2))


def phase_pull(cos: torch.Tensor, sin: torch.Tensor, source_cos: torch.Tensor, source_sin: torch.Tensor):
    """sum_j w_j b_j sin(theta_j - phi) from cos phi, sin phi and the weighted source sums
    C = sum_j w_j b_j cos theta_j, S = sum_j w_j b_j sin theta_j."""
    return cos * source_sin - sin * source_cos


class KuramotoCoupling(nn.Module):
    """The local + global Kuramoto step on a (N, C, H, W) phase map; ``kernel`` (C, C, k, k) is learned."""

    def __init__(self, channels: int = 8, kernel_size: int = 13, kernel_std: float = 3.0,
                 epsilon: float = 0.202, eta: float = 0.006):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd so the coupling is centred, got {kernel_size}")
        kernel = radial_gaussian(kernel_size, kernel_std).expand(channels, channels, kernel_size, kernel_size)
        self.kernel = nn.Parameter(kernel.clone())
        self.epsilon = float(epsilon)
        self.eta = float(eta)

    def increment(self, b: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """eta * dphi, from b = tanh(amplitude) and the current cos phi, sin phi (the model computes
        those once per step and shares them with its layers)."""
        b_cos, b_sin = b * cos, b * sin
        local_cos, local_sin = self.local_sums(b_cos, b_sin)
        global_cos = b_cos.sum(dim=(1, 2, 3), keepdim=True)
        global_sin = b_sin.sum(dim=(1, 2, 3), keepdim=True)
        return self.eta * phase_pull(cos, sin, local_cos - self.epsilon * global_cos,
                                     local_sin - self.epsilon * global_sin)

    def local_sums(self, b_cos: torch.Tensor, b_sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The local coupling sums K * (b cos phi), K * (b sin phi): two 'same' convolutions."""
        padding = self.kernel.shape[-1] // 2
        return F.conv2d(b_cos, self.kernel, padding=padding), F.conv2d(b_sin, self.kernel, padding=padding)

    def forward(self, amplitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """One Kuramoto step: the new phase map."""
        return phase + self.increment(torch.tanh(amplitude), torch.cos(phase), torch.sin(phase))

    def extra_repr(self) -> str:
        return f"kernel={tuple(self.kernel.shape)}, epsilon={self.epsilon}, eta={self.eta}"


class FeedbackCoupling(nn.Module):
    """Top-down phase pulls on the first layer from the previous step's conv, hidden and output layers.

    Each source unit k with complex state z_k pulls first-layer unit i (channel c) by
    W[c, k] tanh|z_k| sin(arg z_k - phi_i):

    - from the complex conv layer (C channels at half resolution): W is a transposed conv
      (C, C, k, k), stride 2, so every source pixel reaches a k x k neighbourhood of the first layer;
    - from the hidden and output linear layers: W is (C, units), the same pull for every pixel.

    Weights start at 1e-6 (top-down coupling is learned from nothing), each term has its own step size.
    """

    def __init__(self, channels: int = 8, hidden: int = 50, num_classes: int = 10, kernel_size: int = 11,
                 eta_conv: float = 0.006, eta_hidden: float = 0.006, eta_output: float = 0.006):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"feedback kernel_size must be odd, got {kernel_size}")
        self.conv_kernel = nn.Parameter(torch.full((channels, channels, kernel_size, kernel_size), 1e-6))
        self.hidden_weight = nn.Parameter(torch.full((channels, hidden), 1e-6))
        self.output_weight = nn.Parameter(torch.full((channels, num_classes), 1e-6))
        self.eta_conv, self.eta_hidden, self.eta_output = float(eta_conv), float(eta_hidden), float(eta_output)

    def _from_conv(self, cos, sin, m, m_cos, m_sin):
        b = torch.tanh(m)
        padding = self.conv_kernel.shape[-1] // 2
        up_cos = F.conv_transpose2d(b * m_cos, self.conv_kernel, stride=2, padding=padding, output_padding=1)
        up_sin = F.conv_transpose2d(b * m_sin, self.conv_kernel, stride=2, padding=padding, output_padding=1)
        return phase_pull(cos, sin, up_cos, up_sin)

    @staticmethod
    def _from_linear(cos, sin, m, m_cos, m_sin, weight):
        b = torch.tanh(m)
        source_cos = ((b * m_cos) @ weight.t())[:, :, None, None]
        source_sin = ((b * m_sin) @ weight.t())[:, :, None, None]
        return phase_pull(cos, sin, source_cos, source_sin)

    def forward(self, cos: torch.Tensor, sin: torch.Tensor, conv_out, hidden_out, output_out) -> torch.Tensor:
        """The phase increment (step sizes included) at first-layer phases (cos phi, sin phi); each
        ``*_out`` is a polar triple (m, cos, sin). tanh is odd, so tanh(m) (cos, sin) is
        tanh|z| (cos arg z, sin arg z) also for the readout's signed m."""
        return (
            self.eta_conv * self._from_conv(cos, sin, *conv_out)
            + self.eta_hidden * self._from_linear(cos, sin, *hidden_out, self.hidden_weight)
            + self.eta_output * self._from_linear(cos, sin, *output_out, self.output_weight)
        )
