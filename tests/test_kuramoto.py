"""KomplexNet mechanism tests: the real-pair complex layers, the Kuramoto step, synchrony and the loss.

References are written independently of the plugin: complex layers with torch complex tensors
(the authors' ``apply_layer`` / ``stable_angle``), the Kuramoto step with explicit loops.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

import neurozoo
from neurozoo.evaluation.accuracy import exact_set_correct
from neurozoo.evaluation.context import EvalContext
from neurozoo.training.method import Phase, StepContext
from neurozoo_plugins.kuramoto.complex_layers import ComplexConv2d, ComplexLinear, ComplexReadout
from neurozoo_plugins.kuramoto.gabor import gabor_bank
from neurozoo_plugins.kuramoto.kuramoto import FeedbackCoupling, KuramotoCoupling
from neurozoo_plugins.kuramoto.losses import synchrony_loss, synchrony_terms
from neurozoo_plugins.kuramoto.method import KuramotoMethod
from neurozoo_plugins.kuramoto.metrics import per_label_f1
from neurozoo_plugins.kuramoto.models import KomplexNet


def complex_reference(f, norm, z):
    """The authors' rule on a torch complex tensor: psi, m = 0.5|psi| + 0.5 f(|z|), stable angle."""
    psi = f(z.real) + 1j * f(z.imag)
    m = 0.5 * psi.abs() + 0.5 * f(z.abs())
    stable = psi.clone()
    stable.imag[(psi.imag < 1e-8) & (psi.imag > -1e-8)] = 1e-8
    phi = stable.angle()
    if norm is not None:
        m = torch.relu(norm(m))
    return m, m * torch.exp(1j * phi)


def random_complex(*shape, generator):
    magnitude = torch.rand(*shape, generator=generator)
    magnitude[magnitude < 0.3] = 0  # rectified units, as after a ReLU
    phase = torch.rand(*shape, generator=generator) * 2 * math.pi - math.pi
    return magnitude, phase


@pytest.mark.parametrize("kind", ["conv", "linear", "readout"])
def test_real_pair_layers_equal_torch_complex(kind):
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    if kind == "conv":
        layer = ComplexConv2d(3, 4, 3, stride=2, padding=1)
        nn.init.normal_(layer.norm.weight)  # non-trivial affine parameters
        nn.init.normal_(layer.norm.bias)
        magnitude, phase = random_complex(2, 3, 8, 8, generator=g)
    else:
        layer = (ComplexLinear if kind == "linear" else ComplexReadout)(12, 5)
        magnitude, phase = random_complex(2, 12, generator=g)
    z = torch.polar(magnitude, phase)
    ref_m, ref_z = complex_reference(layer.f, layer.norm, z)
    m, cos, sin = layer(magnitude, torch.cos(phase), torch.sin(phase))
    torch.testing.assert_close(m, ref_m, atol=1e-5, rtol=0)
    torch.testing.assert_close(m * cos, ref_z.real, atol=1e-5, rtol=0)
    torch.testing.assert_close(m * sin, ref_z.imag, atol=1e-5, rtol=0)


def test_complex_layer_gradients_are_finite_at_zero_inputs():
    layer = ComplexLinear(4, 3, bias=False)
    magnitude = torch.zeros(2, 4, requires_grad=True)  # z = 0: psi = 0, |z| = 0
    phase = torch.zeros(2, 4)
    m, cos, sin = layer(magnitude, torch.cos(phase), torch.sin(phase))
    (m * cos + m * sin).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in [magnitude, *layer.parameters()])


def test_kuramoto_step_equals_hand_formula():
    g = torch.Generator().manual_seed(1)
    channels, size, k, eps, eta = 2, 4, 3, 0.3, 0.1
    coupling = KuramotoCoupling(channels, kernel_size=k, epsilon=eps, eta=eta)
    with torch.no_grad():
        coupling.kernel.copy_(torch.randn(channels, channels, k, k, generator=g))
    amp = torch.rand(1, channels, size, size, generator=g) * 2
    phi = torch.rand(1, channels, size, size, generator=g) * 2 * math.pi - math.pi
    b = torch.tanh(amp)[0]
    units = [(c, y, x) for c in range(channels) for y in range(size) for x in range(size)]
    expected = torch.zeros(channels, size, size)
    for c, y, x in units:
        local = global_ = 0.0
        for cj, yj, xj in units:
            pull = b[cj, yj, xj] * math.sin(phi[0, cj, yj, xj] - phi[0, c, y, x])
            global_ += pull
            dy, dx = yj - y + k // 2, xj - x + k // 2  # kernel offset of unit j seen from unit i
            if 0 <= dy < k and 0 <= dx < k:
                local += coupling.kernel[c, cj, dy, dx].item() * pull
        expected[c, y, x] = phi[0, c, y, x] + eta * (local - eps * global_)
    torch.testing.assert_close(coupling(amp, phi)[0], expected, atol=1e-5, rtol=0)


def order_parameter(phase, region):
    """|mean exp(i phi)| over the units of ``region``."""
    return torch.polar(torch.ones_like(phase[region]), phase[region]).mean().abs().item()


def test_neighbour_kernel_synchronises_a_connected_object():
    g = torch.Generator().manual_seed(2)
    # radial Gaussian reaching 3 pixels (weight 0.6 at the edge, 1 at the centre): neighbours pull
    coupling = KuramotoCoupling(channels=1, kernel_size=7, kernel_std=1.0, epsilon=0.0, eta=0.05)
    amp = torch.zeros(1, 1, 12, 12)
    amp[..., 3:9, 2:10] = 3.0  # one connected object; the background has no amplitude
    obj = amp > 0
    phase = torch.rand(amp.shape, generator=g) * 2 * math.pi - math.pi
    coherence = [order_parameter(phase, obj)]
    for _ in range(15):  # the paper's T
        phase = coupling(amp, phase)
        coherence.append(order_parameter(phase, obj))
    assert coherence[0] < 0.4
    assert coherence[-1] > 0.95
    assert all(later >= earlier - 1e-4 for earlier, later in zip(coherence, coherence[1:]))


def test_global_term_desynchronises():
    """With no local coupling, eps > 0 pushes a synchronised population apart (coherence falls)."""
    coupling = KuramotoCoupling(channels=1, kernel_size=3, epsilon=1.0, eta=0.01)
    with torch.no_grad():
        coupling.kernel.zero_()
    amp = torch.ones(1, 1, 6, 6)
    phase = 0.3 * torch.randn(amp.shape, generator=torch.Generator().manual_seed(3))
    region = torch.ones_like(amp, dtype=torch.bool)
    before = order_parameter(phase, region)
    for _ in range(20):
        phase = coupling(amp, phase)
    assert order_parameter(phase, region) < before - 0.05


def test_feedback_linear_term_equals_authors_loop():
    g = torch.Generator().manual_seed(4)
    fb = FeedbackCoupling(channels=3, hidden=5, num_classes=4, kernel_size=3, eta_conv=0.0, eta_hidden=0.5,
                          eta_output=0.0)
    with torch.no_grad():
        fb.hidden_weight.copy_(torch.randn(3, 5, generator=g))
    phi = torch.rand(2, 3, 4, 4, generator=g) * 2 * math.pi
    m = torch.rand(2, 5, generator=g) - 0.3  # signed, like the readout's magnitude
    theta = torch.rand(2, 5, generator=g) * 2 * math.pi
    zeros = lambda *s: (torch.zeros(*s), torch.ones(*s), torch.zeros(*s))  # noqa: E731
    got = fb(torch.cos(phi), torch.sin(phi), zeros(2, 3, 2, 2), (m, torch.cos(theta), torch.sin(theta)), zeros(2, 4))
    # authors' update_phases_froml3, with the complex source z = m exp(i theta) (|z|, arg z)
    z = torch.polar(m.abs(), theta + math.pi * (m < 0))
    expected = torch.zeros_like(phi)
    for j in range(3):
        expected[:, j] = (fb.hidden_weight[j, :, None, None] * torch.sin(z.angle()[:, :, None, None] - phi[:, j, None])
                          * torch.tanh(z.abs())[:, :, None, None]).sum(1)
    torch.testing.assert_close(got, 0.5 * expected, atol=1e-5, rtol=0)


def two_object_masks():
    masks = torch.zeros(1, 2, 8, 8, dtype=torch.bool)
    masks[0, 0, 1:4, 1:7] = True
    masks[0, 1, 5:8, 1:7] = True
    return masks


def test_synchrony_loss_lower_for_mask_set_phases_than_random():
    masks = two_object_masks()
    amp = torch.ones(1, 3, 8, 8)
    by_mask = torch.where(masks[:, 0:1], 0.0, math.pi).expand_as(amp).clone()
    by_mask += 0.05 * torch.randn(amp.shape, generator=torch.Generator().manual_seed(5))
    random = torch.rand(amp.shape, generator=torch.Generator().manual_seed(6)) * 2 * math.pi - math.pi
    loss_mask, synch, desynch = (t.item() for t in synchrony_terms(by_mask, amp, masks))
    assert loss_mask < 0.01 and synch < 0.01 and desynch < 0.01
    assert synchrony_loss(random, amp, masks).item() > 0.2
    # both objects coherent but in phase with each other: synchronised, not desynchronised
    same = torch.zeros_like(amp)
    loss, synch, desynch = (t.item() for t in synchrony_terms(same, amp, masks))
    assert synch == pytest.approx(0.0, abs=1e-6) and desynch == pytest.approx(1.0) and loss == pytest.approx(0.5)


def test_synchrony_loss_ignores_inactive_units_and_overlap():
    masks = two_object_masks()
    masks[0, 1, 1:3, 1:3] = True  # shared pixels: left out
    amp = torch.ones(1, 1, 8, 8)
    amp[..., 1, 5:7] = 0  # inactive units inside object 0: left out
    phase = torch.where(masks[:, 0:1], 0.0, math.pi)
    phase[..., 1:3, 1:3] = 2.0  # overlap pixels disagree with both objects
    phase[..., 1, 5:7] = -2.0  # so do the inactive ones
    assert synchrony_loss(phase, amp, masks).item() == pytest.approx(0.0, abs=1e-6)


def test_gabor_bank_orientations():
    bank = gabor_bank(8, 5)
    assert bank.shape == (8, 1, 5, 5)
    torch.testing.assert_close(bank.flatten(1).norm(dim=1), torch.ones(8))
    # filter 4 (90 degrees) is filter 0 (0 degrees) transposed
    torch.testing.assert_close(bank[4, 0], bank[0, 0].t(), atol=1e-6, rtol=0)


def small_net(**kwargs):
    torch.manual_seed(0)
    return KomplexNet(10, 1, timesteps=3, **kwargs)


def test_eval_is_deterministic_and_run_matches_forward():
    net = small_net().eval()
    x = torch.rand(4, 1, 32, 32)
    torch.testing.assert_close(net(x), net(x), atol=0, rtol=0)
    trace = net.run(x, all_steps=True)
    assert len(trace.logits) == len(trace.phases) == 3
    assert net.embed(x).shape == (4, 100)
    torch.testing.assert_close(net(x), trace.logits[-1], atol=1e-5, rtol=0)
    # the phases are the Kuramoto coupling iterated from the stored initial phases
    phase = net.initial_phase.expand(4, -1, -1, -1)
    for recorded in trace.phases:
        phase = net.coupling(trace.amplitude, phase)
        torch.testing.assert_close(recorded, phase, atol=1e-5, rtol=0)


def test_training_mode_draws_fresh_initial_phases():
    net = small_net().train()
    x = torch.rand(2, 1, 32, 32)
    assert not torch.equal(net.run(x).phases[0], net.run(x).phases[0])


def test_random_phase_ablation_keeps_its_phases():
    net = small_net(phase_dynamics="random").eval()
    trace = net.run(torch.rand(2, 1, 32, 32))
    assert all(torch.equal(p, net.initial_phase.expand_as(p)) for p in trace.phases)
    assert all(torch.equal(step, trace.logits[0]) for step in trace.logits)


def test_bad_options_fail_clearly():
    with pytest.raises(ValueError, match="phase_dynamics"):
        KomplexNet(phase_dynamics="ideal")
    with pytest.raises(ValueError, match="timesteps"):
        KomplexNet(timesteps=0)
    with pytest.raises(ValueError, match="synchrony_coef"):
        KuramotoMethod(synchrony_coef=-1)


def test_method_options_set_the_dynamics_and_reload():
    model = neurozoo.create_model("komplexnet_fb", num_classes=10, input_size=(1, 32, 32), method="kuramoto",
                                  method_kwargs={"timesteps": 4, "epsilon": 0.1, "eta": 0.02, "feedback_eta": 0.03})
    net = model.net
    assert (net.timesteps, net.coupling.epsilon, net.coupling.eta, net.feedback.eta_hidden) == (4, 0.1, 0.02, 0.03)
    real = neurozoo.create_model("realnet", num_classes=10, input_size=(1, 32, 32), method="kuramoto",
                                 method_kwargs={"timesteps": 4})
    assert real.net.conv[0].out_channels == 9 and real.net.hidden[1].in_features == 2304
    assert real.net.hidden[1].out_features == 46


def step_context(model):
    return StepContext(model=model, net=model, phase=Phase("train", 1, 1e-2), phase_index=0, epoch=0,
                       epoch_in_phase=0, step=0, device=torch.device("cpu"), num_classes=10)


def digit_batch():
    images = torch.zeros(2, 1, 32, 32)
    images[:, :, 4:14, 4:10] = 1.0
    images[:, :, 18:28, 20:26] = 1.0
    masks = torch.zeros(2, 2, 32, 32, dtype=torch.bool)
    masks[:, 0, 4:14, 4:10] = True
    masks[:, 1, 18:28, 20:26] = True
    targets = torch.zeros(2, 10)
    targets[:, [1, 7]] = 1
    return images, targets, masks


def test_training_step_backpropagates_bce_and_synchrony_into_the_coupling():
    method = KuramotoMethod(timesteps=3)
    model = neurozoo.create_model("komplexnet", num_classes=10, input_size=(1, 32, 32), method="kuramoto",
                                  method_kwargs=method.method_kwargs())
    out = method.training_step(step_context(model), digit_batch())
    assert set(out) == {"loss", "bce", "synchrony"}
    torch.testing.assert_close(out["loss"], out["bce"] + out["synchrony"])
    out["loss"].backward()
    kernel_grad = model.net.coupling.kernel.grad
    assert kernel_grad is not None and torch.isfinite(kernel_grad).all() and kernel_grad.abs().sum() > 0

    # the synchrony term alone reaches the coupling kernel: it shapes the phase dynamics
    model.zero_grad()
    with model.net.recording() as traces:
        model(digit_batch()[0])
    synchrony_loss(traces[0].phases[-1], traces[0].amplitude, digit_batch()[2]).backward()
    assert model.net.coupling.kernel.grad.abs().sum() > 0


def test_training_step_of_the_real_baseline_is_plain_bce():
    model = neurozoo.create_model("realnet", num_classes=10, input_size=(1, 32, 32), method="kuramoto")
    images, targets, masks = digit_batch()
    out = KuramotoMethod().training_step(step_context(model), (images, targets, masks))
    expected = nn.functional.binary_cross_entropy_with_logits(model(images), targets)
    torch.testing.assert_close(out["loss"], expected)


def test_training_step_rejects_single_label_batches_and_missing_masks():
    model = neurozoo.create_model("komplexnet", num_classes=10, input_size=(1, 32, 32), method="kuramoto",
                                  method_kwargs={"timesteps": 2})
    images, targets, _ = digit_batch()
    with pytest.raises(neurozoo.errors.ConfigError, match="multi-label"):
        KuramotoMethod().training_step(step_context(model), (images, torch.tensor([1, 7])))
    with pytest.raises(neurozoo.errors.ConfigError, match="masks"):
        KuramotoMethod().training_step(step_context(model), (images, targets))


class FakeOutputsContext:
    def __init__(self, logits, targets):
        from neurozoo.evaluation import Outputs

        self._outputs = Outputs(logits=logits, targets=targets, embeddings=None)

    def outputs(self):
        return self._outputs


def test_per_label_f1_known_answer():
    targets = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    logits = torch.tensor([[2.0, -1.0, -3.0], [1.0, 0.5, 0.2]])  # decisions: [1,0,0], [1,1,1]
    figures = per_label_f1(FakeOutputsContext(logits, targets))
    # pooled: tp 3, fp 1, fn 1 -> F1 = 6 / 8; per class: 2/3, 2/3, 1 -> mean 7/9
    assert figures["label_f1_micro"] == pytest.approx(0.75)
    assert figures["label_f1_macro"] == pytest.approx(7 / 9)


@pytest.mark.parametrize("arch", ["komplexnet", "komplexnet_fb", "komplexnet_random", "realnet"])
@pytest.mark.parametrize("dataset", ["multimnist", "multimnist_o25", "multimnist_cifar"])
def test_architectures_see_the_unnormalised_pixels(arch, dataset):
    """The authors feed [0, 1] pixels; a normalised input would saturate the coupling weights tanh(amp)."""
    model = neurozoo.create_model(arch, dataset=dataset, method="kuramoto", method_kwargs={"timesteps": 1})
    seen = []
    model.net.amplitude.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    images = torch.rand(2, 1, 32, 32)
    model(images)
    assert torch.equal(seen[0], images)


def overlapping_masks():
    """Two objects on a 32 x 32 map sharing a 2 x 2 patch (rows 8-9, columns 8-9)."""
    masks = torch.zeros(2, 2, 32, 32, dtype=torch.bool)
    masks[:, 0, 2:10, 2:10] = True
    masks[:, 1, 8:20, 8:14] = True
    return masks


def test_oracle_phases_equal_the_mask_derived_phases():
    net = small_net(phase_dynamics="oracle").eval()
    masks = overlapping_masks()
    with net.given_masks(masks):
        trace = net.run(torch.rand(2, 1, 32, 32))
    # eval mode: offset pi / K; object k at pi / 2 - k pi; shared pixels and background keep the initial draw
    expected = net.initial_phase.expand(2, -1, -1, -1).clone()
    only_first, only_second = masks[:, 0] & ~masks[:, 1], masks[:, 1] & ~masks[:, 0]
    expected[only_first[:, None].expand_as(expected)] = math.pi / 2
    expected[only_second[:, None].expand_as(expected)] = -math.pi / 2
    for phase in trace.phases:
        torch.testing.assert_close(phase, expected, atol=1e-6, rtol=0)
    assert all(torch.equal(step, trace.logits[0]) for step in trace.logits), "fixed phases: every step alike"
    # the phases the synchrony loss asks for: each object coherent, the two opposite
    assert synchrony_loss(trace.phases[-1], trace.amplitude, masks).item() == pytest.approx(0.0, abs=1e-6)


def test_oracle_phases_in_training_turn_each_image_by_a_random_offset():
    net = small_net(phase_dynamics="oracle").train()
    masks = torch.zeros(2, 3, 32, 32, dtype=torch.bool)
    for k in range(3):
        masks[:, k, 10 * k:10 * k + 8, 4:12] = True
    with net.given_masks(masks):
        phase = net.run(torch.rand(2, 1, 32, 32)).phases[0]
    values = torch.stack([phase[:, :, 10 * k:10 * k + 8, 4:12].flatten(1) for k in range(3)], 1)  # (N, K, units)
    assert torch.equal(values, values[..., :1].expand_as(values)), "one phase per object on all its units"
    first, turns = values[:, 0, 0], torch.polar(torch.ones(2, 3), values[..., 0])
    assert ((first >= 0) & (first < 2 * math.pi / 3)).all() and first[0] != first[1]
    # object k at first - 2 pi k / 3: the turn from object k to k + 1 is exp(-2 pi i / 3)
    turn = torch.polar(torch.ones(2, 2), torch.full((2, 2), -2 * math.pi / 3))
    torch.testing.assert_close(turns[:, 1:] / turns[:, :-1], turn)


def test_oracle_needs_masks_and_loads_komplexnet_weights():
    oracle = small_net(phase_dynamics="oracle").eval()
    with pytest.raises(neurozoo.errors.ConfigError, match="given_masks"):
        oracle(torch.rand(2, 1, 32, 32))
    with pytest.raises(neurozoo.errors.ConfigError, match="masks of 2 images for a batch of 3"), \
            oracle.given_masks(overlapping_masks()):
        oracle(torch.rand(3, 1, 32, 32))
    oracle.load_state_dict(small_net().state_dict())  # the same parameters and buffers as komplexnet


def test_training_step_of_the_oracle_feeds_the_batch_masks():
    model = neurozoo.create_model("komplexnet_oracle", num_classes=10, input_size=(1, 32, 32), method="kuramoto",
                                  method_kwargs={"timesteps": 2})
    images, targets, masks = digit_batch()
    out = KuramotoMethod(timesteps=2).training_step(step_context(model), (images, targets, masks))
    assert out["synchrony"].item() == pytest.approx(0.0, abs=1e-6)
    out["loss"].backward()
    assert model.net.readout.f.weight.grad.abs().sum() > 0
    assert model.net.coupling.kernel.grad is None, "no dynamics: the coupling kernel is unused"


def test_evaluation_gives_the_oracle_the_masks_of_its_test_images(shared_data):
    model = neurozoo.create_model("komplexnet_oracle", dataset="multimnist_o25", method="kuramoto",
                                  method_kwargs={"timesteps": 2}).eval()
    record = neurozoo.get_dataset("multimnist_o25")
    data = record.load("test", root=shared_data)  # evaluate(limit=8) scores its first 8 images
    images, targets, masks = (torch.stack(parts) for parts in zip(*(data[i] for i in range(8))))
    with torch.no_grad(), model.net.given_masks(masks):
        logits = model(images)
    ctx = EvalContext(model, record, limit=8, batch_size=3, data_dir=str(shared_data), channels_last=False)
    torch.testing.assert_close(ctx.outputs().logits, logits)  # every batch got its own images' masks
    result = neurozoo.evaluate(model, "multimnist_o25", "exact_set,corruption,synchrony", limit=8,
                               data_dir=shared_data, batch_size=3,
                               options={"corruption": {"noise_sigmas": [0.3], "corruptions": []}})
    assert result["metrics"]["exact_set"]["exact_set"] == pytest.approx(
        exact_set_correct(logits, targets).float().mean().item())
    assert 0.0 <= result["metrics"]["corruption"]["noise_sigma_0.3"] <= 1.0
    # the masks set one phase per object (pi / 2 and -pi / 2): coherent objects, mutually opposite, at every step
    synchrony = result["metrics"]["synchrony"]
    for t in (1, 2):
        assert synchrony[f"order_parameter_step_{t}"] == pytest.approx(1.0, abs=1e-6)
        assert synchrony[f"synchrony_loss_step_{t}"] == pytest.approx(0.0, abs=1e-6)


def test_the_oracle_trains_with_validation_and_test_passes_that_give_it_the_masks(shared_data, tmp_path):
    run = neurozoo.train("kuramoto", "komplexnet_oracle", "multimnist_o25", data_dir=shared_data, out=tmp_path / "run",
                         epochs=1, batch_size=8, limit=32, eval_limit=8, val_fraction=0.25, select="best",
                         options={"timesteps": 2})
    epoch = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert 0.0 <= epoch["val_exact_set"] <= 1.0 and 0.0 <= epoch["test_exact_set"] <= 1.0
