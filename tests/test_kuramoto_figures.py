"""Phase-map figures of KomplexNet (plugins/kuramoto/figures.py): colours, steps, the figure's grid."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import neurozoo
from neurozoo_plugins.kuramoto.figures import phase_colours, phase_map_figure, phase_maps


def _komplexnet(timesteps: int = 4):
    torch.manual_seed(0)
    return neurozoo.create_model("komplexnet", num_classes=10, input_size=(1, 32, 32), method="kuramoto",
                                 method_kwargs={"timesteps": timesteps})


def test_phase_colours_hue_is_the_mean_phase_and_brightness_its_length():
    amplitude = torch.zeros(2, 1, 4)
    phase = torch.zeros(2, 1, 4)
    amplitude[:, 0, :3] = 1.0
    phase[:, 0, 1] = math.pi / 2  # both channels at +pi/2: another hue, full length
    phase[0, 0, 2], phase[1, 0, 2] = 0.0, math.pi  # opposite phases cancel: no length, black
    rgb = phase_colours(amplitude, phase)
    assert rgb.shape == (1, 4, 3) and rgb.min() >= 0 and rgb.max() <= 1
    assert rgb[0, 0].max() == pytest.approx(1.0) and rgb[0, 1].max() == pytest.approx(1.0)
    assert not np.allclose(rgb[0, 0], rgb[0, 1])  # other phase, other colour
    np.testing.assert_allclose(rgb[0, 2], 0, atol=1e-7)  # desynchronised pixel
    np.testing.assert_allclose(rgb[0, 3], 0)  # no amplitude


def test_phase_maps_are_the_dynamics_states_in_evaluation_mode():
    model = _komplexnet(timesteps=4).train()
    images = torch.rand(2, 1, 32, 32)
    steps, amplitude, maps = phase_maps(model, images)
    assert steps == (0, 2, 4) and model.training  # the mode is restored
    model.eval()
    trace = model.net.run(model.normalize(images), all_steps=True)
    torch.testing.assert_close(amplitude, trace.amplitude)
    torch.testing.assert_close(maps[4], trace.phases[-1])
    torch.testing.assert_close(maps[2], trace.phases[1])
    torch.testing.assert_close(maps[0], model.net.initial_phases(trace.amplitude))
    assert not torch.allclose(maps[0], maps[4])  # the dynamics moved the phases


def test_phase_maps_refuse_steps_outside_the_dynamics_and_other_nets():
    with pytest.raises(ValueError, match=r"steps must lie in 0\.\.4"):
        phase_maps(_komplexnet(4), torch.rand(1, 1, 32, 32), steps=(0, 5))
    realnet = neurozoo.create_model("realnet", num_classes=10, input_size=(1, 32, 32), method="kuramoto")
    with pytest.raises(TypeError, match="need a KomplexNet checkpoint"):
        phase_maps(realnet, torch.rand(1, 1, 32, 32))


def test_figure_has_one_row_per_image_and_a_column_per_step(tmp_path):
    figure = phase_map_figure(_komplexnet(3), torch.rand(3, 1, 32, 32), steps=(0, 1, 3), titles=["a", "b", "c"])
    assert len(figure.axes) == 3 * 4
    assert [ax.get_title() for ax in figure.axes[:4]] == ["a", "t = 0", "t = 1", "t = 3"]
    figure.savefig(tmp_path / "maps.png")
    assert (tmp_path / "maps.png").stat().st_size > 0
