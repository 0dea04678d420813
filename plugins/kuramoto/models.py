"""KomplexNet (feed-forward, feedback, random-phase ablation) and its parameter-matched real baseline.

KomplexNet (authors' ``SmallModel`` / ``SmallModelWithFeedback``), input C x 32 x 32:

    amp   = ReLU(conv C->8, 5x5, pad 2, no bias, Gabor-initialised)(x)
    phase = uniform(-pi, pi), then one Kuramoto step per timestep (T = 15)
    z1 = amp exp(i phase) -> ComplexConv2d(8->8, 3x3, stride 2) -> ComplexLinear(2048->50)
       -> ComplexReadout(50->classes);  logits = m - max_k m_k / 3

Each timestep first moves the phases, then runs the complex layers on them, so there is one set of
logits per timestep (the loss averages BCE over them). The feedback model also feeds the previous
step's conv, hidden and output states back into the phase update.

Two baselines replace the dynamics by fixed phases (every timestep computes the same output):
``phase_dynamics="random"`` keeps the uniform initial draw; ``phase_dynamics="oracle"`` (the
authors' ``phase_mode='ideal'``, the paper's upper bound) sets them from the ground-truth object
masks, see :func:`oracle_phases`. The oracle needs the masks in its forward pass: the caller
provides them with ``with net.given_masks(masks): ...`` (the kuramoto method's training step and
``synchrony`` metric do, and ``neurozoo.evaluate`` for every metric, as the net says
``reads_masks``); without them it raises a ConfigError.

Initial phases: uniform(-pi, pi) drawn afresh for every image in training (as the authors do); in
eval mode the buffer ``initial_phase`` (drawn once from a generator seeded by ``phase_seed``, saved
with the weights) is used for every image, so inference is deterministic and exports to ONNX.

Net protocol: ``embed(x)`` runs the dynamics and returns the last step's hidden complex state as
real pairs ``[Re z3, Im z3]`` (N, 2 * hidden); ``classify`` applies the readout layer.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn

from neurozoo.errors import ConfigError

from .complex_layers import ComplexConv2d, ComplexLinear, ComplexReadout, multilabel_logits, polar_from_parts
from .gabor import gabor_bank
from .kuramoto import FeedbackCoupling, KuramotoCoupling
from .losses import exclusive_masks

PHASE_DYNAMICS = ("kuramoto", "random", "oracle")


def _gabor_conv(in_chans: int, channels: int) -> nn.Conv2d:
    conv = nn.Conv2d(in_chans, channels, 5, padding=2, bias=False)
    with torch.no_grad():
        # colour inputs: the same bank on every channel, scaled so a grey image gives the same response
        conv.weight.copy_(gabor_bank(channels).repeat(1, in_chans, 1, 1) / in_chans)
    return conv


def oracle_phases(masks: torch.Tensor, background: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Phase maps from object masks (N, K, H', W'): object k's own pixels (in no other mask) take the
    phase ``offset - 2 pi k / K`` wrapped to [-pi, pi), on every channel: the K objects evenly
    spread on the circle. Every other pixel (background, pixels shared by two digits) keeps its
    phase in ``background`` (N, C, H, W). ``offset`` (N,) turns each image's objects together."""
    objects = exclusive_masks(masks, tuple(background.shape[-2:])).to(background.dtype)  # (N, K, H, W)
    count = objects.shape[1]
    spread = 2 * math.pi * torch.arange(count, dtype=background.dtype, device=background.device) / count
    values = torch.remainder(offset[:, None] - spread + math.pi, 2 * math.pi) - math.pi  # (N, K)
    object_phase = (objects * values[:, :, None, None]).sum(1, keepdim=True)
    return torch.where(objects.sum(1, keepdim=True) > 0, object_phase, background)


@dataclass
class KuramotoTrace:
    """What one pass through the dynamics produced."""

    logits: list[torch.Tensor]  # per timestep; ``run(all_steps=False)`` of a Kuramoto feed-forward net: the last
    phases: list[torch.Tensor]  # first-layer phase maps (N, C, H, W), one per timestep
    amplitude: torch.Tensor  # first-layer amplitudes (N, C, H, W), fixed over time
    embedding: torch.Tensor  # last step's hidden state as [Re, Im] (N, 2 * hidden)


class KomplexNet(nn.Module):
    """Complex-valued net whose first-layer phases synchronise by Kuramoto dynamics (see module doc).

    ``phase_dynamics="random"`` is the random-phase ablation: the phases keep their uniform initial
    draw (no Kuramoto step), everything else is identical, down to the (unused) coupling kernel, so a
    ``komplexnet`` checkpoint loads into it and can be tested with its dynamics switched off.
    ``phase_dynamics="oracle"`` sets the phases from the object masks instead (module docstring):
    each image's offset is uniform in [0, 2 pi / K) in training, pi / K in eval mode, and the
    pixels outside the objects keep the initial draw. ``feedback=True`` is the feedback model.
    """

    # bf16 resolves a phase to ~0.016 rad, one Kuramoto step moves it by ~eta * dphi (eta = 0.006):
    # the whole net trains and evaluates in float32 (neurozoo.training.precision; README "Precision")
    precision = "fp32"

    def __init__(self, num_classes: int = 10, in_chans: int = 1, *, image_size: int = 32, channels: int = 8,
                 hidden: int = 50, timesteps: int = 15, epsilon: float = 0.202, eta: float = 0.006,
                 coupling_size: int = 13, coupling_std: float = 3.0, feedback: bool = False,
                 feedback_size: int = 11, feedback_eta: float = 0.006, phase_dynamics: str = "kuramoto",
                 phase_seed: int = 0):
        super().__init__()
        if phase_dynamics not in PHASE_DYNAMICS:
            raise ValueError(f"phase_dynamics must be one of {PHASE_DYNAMICS}, got {phase_dynamics!r}")
        if feedback and phase_dynamics != "kuramoto":
            raise ValueError("feedback=True needs phase_dynamics='kuramoto' (top-down terms are phase dynamics)")
        if image_size % 2:
            raise ValueError(f"image_size must be even (the complex conv has stride 2), got {image_size}")
        self.phase_dynamics = phase_dynamics
        self.amplitude = _gabor_conv(in_chans, channels)
        self.coupling = KuramotoCoupling(channels, coupling_size, coupling_std, epsilon, eta)
        self.conv = ComplexConv2d(channels, channels, 3, stride=2, padding=1)
        self.hidden = ComplexLinear(channels * (image_size // 2) ** 2, hidden)
        self.readout = ComplexReadout(hidden, num_classes)
        self.feedback = (
            FeedbackCoupling(channels, hidden, num_classes, feedback_size, feedback_eta, feedback_eta, feedback_eta)
            if feedback else None
        )
        generator = torch.Generator().manual_seed(phase_seed)
        initial = torch.rand(channels, image_size, image_size, generator=generator) * 2 * math.pi - math.pi
        self.register_buffer("initial_phase", initial)
        self._recorder: list[KuramotoTrace] | None = None
        self._masks: torch.Tensor | None = None
        self.configure_dynamics(timesteps=timesteps)

    def configure_dynamics(self, timesteps: int | None = None, epsilon: float | None = None,
                           eta: float | None = None, feedback_eta: float | None = None) -> None:
        """Set the dynamics' scalar settings (None: keep). They change no parameter shape, so a
        method can set them on a built net (the ``kuramoto`` method's recipe options do)."""
        if timesteps is not None:
            if not isinstance(timesteps, int) or timesteps < 1:
                raise ValueError(f"timesteps must be a positive int, got {timesteps!r}")
            self.timesteps = timesteps
        if epsilon is not None:
            self.coupling.epsilon = float(epsilon)
        if eta is not None:
            self.coupling.eta = float(eta)
        if feedback_eta is not None and self.feedback is not None:
            self.feedback.eta_conv = self.feedback.eta_hidden = self.feedback.eta_output = float(feedback_eta)

    def initial_phases(self, amplitude: torch.Tensor) -> torch.Tensor:
        if self.training:
            return torch.rand_like(amplitude) * 2 * math.pi - math.pi
        return self.initial_phase.expand_as(amplitude)

    def _oracle_phases(self, background: torch.Tensor, amplitude: torch.Tensor) -> torch.Tensor:
        masks = self._masks
        if masks is None and torch.compiler.is_exporting():
            raise ConfigError(
                "komplexnet_oracle cannot be exported: its phases come from ground-truth object masks, which an "
                "ONNX graph has no input for; export a komplexnet checkpoint instead"
            )
        if masks is None and not (amplitude > 0).any():
            return background  # no active unit: every phase gives the same output (e.g. a blank image)
        if masks is None:
            raise ConfigError(
                "komplexnet_oracle sets its phases from the object masks, and none were given: run it inside "
                "`with net.given_masks(masks):` (the kuramoto method's training step and synchrony metric do)"
            )
        if len(masks) != len(background):
            raise ConfigError(f"given_masks holds masks of {len(masks)} images for a batch of {len(background)}")
        count = masks.shape[1]
        if self.training:
            offset = torch.rand(len(background), dtype=background.dtype, device=background.device) * 2 * math.pi / count
        else:
            offset = torch.full((len(background),), math.pi / count, dtype=background.dtype, device=background.device)
        return oracle_phases(masks.to(background.device), background, offset)

    @property
    def reads_masks(self) -> bool:
        """Whether the forward needs the object masks (the evaluation then passes them)."""
        return self.phase_dynamics == "oracle"

    @contextlib.contextmanager
    def given_masks(self, masks: torch.Tensor | None):
        """While active, forwards see these per-object masks (N, K, H, W) of their batch; only the
        oracle (``phase_dynamics="oracle"``) uses them."""
        self._masks = masks
        try:
            yield
        finally:
            self._masks = None

    def _layers(self, amplitude: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        """Complex layers on z1 = amp exp(i phase): polar triples (conv_out, hidden_out, readout_out)."""
        conv_out = self.conv(amplitude, cos, sin)
        hidden_out = self.hidden(*(t.flatten(1) for t in conv_out))
        return conv_out, hidden_out, self.readout(*hidden_out)

    def run(self, x: torch.Tensor, all_steps: bool = True) -> KuramotoTrace:
        """The dynamics on normalised images ``x``. With ``all_steps=False`` a feed-forward model skips
        the layers at intermediate steps (nothing feeds back, so only the last step's output matters)."""
        amplitude = torch.relu(self.amplitude(x))
        phase = self.initial_phases(amplitude)
        if self.phase_dynamics == "oracle":
            phase = self._oracle_phases(phase, amplitude)
        cos, sin = torch.cos(phase), torch.sin(phase)
        if self.phase_dynamics != "kuramoto":
            # the baselines: fixed phases (no Kuramoto step), so every timestep computes the same output
            outputs = self._layers(amplitude, cos, sin)
            logits = multilabel_logits(outputs[2][0])
            return self._trace([logits] * self.timesteps, [phase] * self.timesteps, amplitude, outputs)
        b = torch.tanh(amplitude)  # amplitudes are fixed over time: the coupling weights once
        layers_every_step = all_steps or self.feedback is not None
        logits, phases, outputs = [], [], None
        for step in range(self.timesteps):
            increment = self.coupling.increment(b, cos, sin)
            if self.feedback is not None and outputs is not None:
                increment = increment + self.feedback(cos, sin, *outputs)
            phase = phase + increment
            cos, sin = torch.cos(phase), torch.sin(phase)
            phases.append(phase)
            if layers_every_step or step == self.timesteps - 1:
                outputs = self._layers(amplitude, cos, sin)
                logits.append(multilabel_logits(outputs[2][0]))
        return self._trace(logits, phases, amplitude, outputs)

    @staticmethod
    def _trace(logits, phases, amplitude, outputs) -> KuramotoTrace:
        m, cos, sin = outputs[1]
        return KuramotoTrace(logits, phases, amplitude, torch.cat((m * cos, m * sin), dim=1))

    @contextlib.contextmanager
    def recording(self):
        """While active, every forward runs the layers at every timestep and appends its
        :class:`KuramotoTrace` to the yielded list. The trainer calls the (possibly DDP-wrapped)
        model inside it, so the per-timestep outputs come from the wrapped forward."""
        traces: list[KuramotoTrace] = []
        self._recorder = traces
        try:
            yield traces
        finally:
            self._recorder = None

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if self._recorder is None:
            return self.run(x, all_steps=False).embedding
        trace = self.run(x, all_steps=True)
        self._recorder.append(trace)
        return trace.embedding

    def classify(self, z: torch.Tensor) -> torch.Tensor:
        magnitude, _, _ = self.readout(*polar_from_parts(*z.chunk(2, dim=1)))
        return multilabel_logits(magnitude)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.embed(x))


class RealNet(nn.Module):
    """The parameter-matched real-valued baseline (authors' ``smaller_model``): the same Gabor first
    layer, conv 8->9 (3x3, stride 2, InstanceNorm, ReLU), linear 9*16*16 -> 46 (LayerNorm, ReLU) -> classes.
    ``embed`` is the 46-unit hidden layer; logits are the plain linear output (trained with BCE)."""

    def __init__(self, num_classes: int = 10, in_chans: int = 1, *, image_size: int = 32, channels: int = 8,
                 conv_channels: int = 9, hidden: int = 46):
        super().__init__()
        self.amplitude = _gabor_conv(in_chans, channels)
        self.conv = nn.Sequential(
            nn.Conv2d(channels, conv_channels, 3, stride=2, padding=1),
            nn.InstanceNorm2d(conv_channels, affine=True),
            nn.ReLU(),
        )
        self.hidden = nn.Sequential(
            nn.Flatten(), nn.Linear(conv_channels * (image_size // 2) ** 2, hidden), nn.LayerNorm(hidden), nn.ReLU()
        )
        self.head = nn.Linear(hidden, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(self.conv(torch.relu(self.amplitude(x))))

    def classify(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.embed(x))


def komplexnet(num_classes: int = 10, in_chans: int = 1, **kwargs) -> KomplexNet:
    return KomplexNet(num_classes, in_chans, **kwargs)


def komplexnet_fb(num_classes: int = 10, in_chans: int = 1, **kwargs) -> KomplexNet:
    return KomplexNet(num_classes, in_chans, feedback=True, **kwargs)


def komplexnet_random(num_classes: int = 10, in_chans: int = 1, **kwargs) -> KomplexNet:
    return KomplexNet(num_classes, in_chans, phase_dynamics="random", **kwargs)


def komplexnet_oracle(num_classes: int = 10, in_chans: int = 1, **kwargs) -> KomplexNet:
    return KomplexNet(num_classes, in_chans, phase_dynamics="oracle", **kwargs)


def realnet(num_classes: int = 10, in_chans: int = 1, **kwargs) -> RealNet:
    return RealNet(num_classes, in_chans, **kwargs)
