"""Phase-map figures: what the Kuramoto dynamics do to an image, step by step.

Each first-layer unit is an oscillator with amplitude a (fixed) and phase phi (evolving). Per pixel
the figure shows the amplitude-weighted mean oscillator over the C channels,
z = sum_c a_c exp(i phi_c): its angle as hue, its length (over the image's largest) as brightness.
Pixels of one digit that have synchronised share a colour; a model that binds objects by
synchrony shows one hue per digit at the last step.

    from neurozoo_plugins.kuramoto.figures import phase_map_figure
    phase_map_figure(neurozoo.load(NAME), images).savefig("phase_maps.png")
"""

from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.colors import hsv_to_rgb
from matplotlib.figure import Figure


def phase_colours(amplitude: torch.Tensor, phase: torch.Tensor) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1] of one image's (C, H, W) amplitudes and phases (module doc)."""
    mean = torch.polar(amplitude.double(), phase.double()).sum(0)
    length = mean.abs()
    hue = (mean.angle() + math.pi) / (2 * math.pi)  # -pi .. pi -> 0 .. 1
    value = length / length.max() if length.max() > 0 else length
    hsv = torch.stack((hue, torch.ones_like(hue), value), dim=-1)
    return hsv_to_rgb(hsv.clamp(0, 1).numpy())


@torch.no_grad()
def phase_maps(model, images: torch.Tensor, steps: tuple[int, ...] | None = None):
    """(steps, amplitude (N, C, H, W), {step: phases (N, C, H, W)}) of ``model`` (a KomplexNet
    ``NeurozooModel``) on ``images`` ([0, 1] pixels), in evaluation mode. Step 0 is the initial
    phase map, step t the map after t Kuramoto steps; default: 0, T // 2 and T."""
    net = model.net
    if not hasattr(net, "run") or not hasattr(net, "initial_phases"):
        raise TypeError(f"phase maps need a KomplexNet checkpoint (arch komplexnet, komplexnet_fb, ...), got "
                        f"{type(net).__name__}")
    timesteps = net.timesteps
    steps = (0, timesteps // 2, timesteps) if steps is None else tuple(steps)
    bad = [s for s in steps if not 0 <= s <= timesteps]
    if bad:
        raise ValueError(f"steps must lie in 0..{timesteps} (the model's timesteps), got {bad}")
    was_training = model.training
    model.eval()
    try:
        trace = net.run(model.normalize(images), all_steps=True)
        phases = [net.initial_phases(trace.amplitude)] + list(trace.phases)
    finally:
        model.train(was_training)
    return steps, trace.amplitude, {s: phases[s] for s in steps}


def phase_map_figure(model, images: torch.Tensor, steps: tuple[int, ...] | None = None,
                     titles: list[str] | None = None) -> Figure:
    """One row per image: the image, then its phase map at each of ``steps`` (see :func:`phase_maps`).
    ``titles``: one per image (e.g. its labels), shown over the image."""
    steps, amplitude, by_step = phase_maps(model, images, steps)
    rows, cols = len(images), 1 + len(steps)
    figure = Figure(figsize=(1.6 * cols, 1.6 * rows))
    axes = figure.subplots(rows, cols, squeeze=False)
    for row in range(rows):
        axes[row, 0].imshow(images[row].permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_title(titles[row] if titles else "image", fontsize=8)
        for col, step in enumerate(steps, start=1):
            axes[row, col].imshow(phase_colours(amplitude[row], by_step[step][row]))
            axes[row, col].set_title(f"t = {step}", fontsize=8)
    for ax in axes.flat:
        ax.set_axis_off()
    figure.tight_layout()
    return figure
