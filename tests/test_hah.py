"""HaH mechanism: layers and cost against hand computations, gradient routing, model surgery."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import neurozoo
from neurozoo.training.method import StepContext
from neurozoo_plugins.hah.layers import (
    DivisiveNormalization2d,
    HaHBlock,
    ImplicitNormConv2d,
    TopFractionThreshold,
    hah_blocks,
    keep_count,
)
from neurozoo_plugins.hah.losses import capture_local_outputs, hah_loss, hah_objective
from neurozoo_plugins.hah.method import HaHMethod


def test_divisive_normalisation_equals_hand_computation():
    x = torch.tensor([[[[1.0, -2.0, 0.0], [0.5, 3.0, -1.0]],
                       [[0.0, 1.0, 4.0], [-2.0, 0.0, 0.5]]]])  # (1, 2, 2, 3)
    sigma = 0.1
    _, channels, height, width = x.shape
    field = torch.zeros(height, width)
    for h in range(height):
        for w in range(width):
            for c in range(channels):  # 3x3 max of |x| (out-of-image ignored), averaged over channels
                window = [abs(x[0, c, i, j].item()) for i in range(h - 1, h + 2) for j in range(w - 1, w + 2)
                          if 0 <= i < height and 0 <= j < width]
                field[h, w] += max(window) / channels
    divisor = sigma * field.max() + (1 - sigma) * field + 1e-7
    expected = x / divisor
    # e.g. at (0, 0): channel maxima 3 and 2 -> s = 2.5; max s = (3 + 4) / 2 = 3.5
    assert field[0, 0].item() == pytest.approx(2.5) and field.max().item() == pytest.approx(3.5)
    torch.testing.assert_close(DivisiveNormalization2d(sigma)(x), expected)
    nonnegative = x.clamp_min(0)
    layer = DivisiveNormalization2d(sigma)
    torch.testing.assert_close(layer(nonnegative, magnitude=nonnegative), layer(nonnegative))


def test_divisive_normalisation_gradient_equals_autograd_of_the_formula():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 6, 7, dtype=torch.float64, requires_grad=True)

    def formula(v, sigma=0.3):
        field = F.max_pool2d(v.abs(), 3, stride=1, padding=1).mean(dim=1, keepdim=True)
        return v / (sigma * field.amax(dim=(2, 3), keepdim=True) + (1 - sigma) * field + 1e-7)

    weights = torch.randn(2, 5, 6, 7, dtype=torch.float64)
    for layout in (torch.contiguous_format, torch.channels_last):
        v = x.contiguous(memory_format=layout)
        got = torch.autograd.grad((DivisiveNormalization2d(0.3)(v) * weights).sum(), x)[0]
        expected = torch.autograd.grad((formula(v) * weights).sum(), x)[0]
        torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("positions, kept", [(32 * 32, 205), (16 * 16, 52), (8 * 8, 13), (10, 2), (5, 1)])
def test_keep_count_matches_hahtorch_rounding(positions, kept):
    # hahtorch keeps the values above the floor((1 - r) * HW)-th smallest
    assert keep_count(positions, 0.2) == kept == positions - math.floor(0.8 * positions + 1e-9)


def test_threshold_keeps_exactly_the_top_fraction_per_channel():
    x = torch.tensor([[[[0.3, 0.9, 0.1, 0.7, 0.2], [0.8, 0.4, 0.6, 0.5, 0.0]],
                       [[5.0, 4.0, 3.0, 2.0, 1.0], [0.0, 0.0, 0.0, 0.0, 6.0]]]])  # (1, 2, 2, 5): keep 2 of 10
    expected = torch.tensor([[[[0.0, 0.9, 0.0, 0.0, 0.0], [0.8, 0.0, 0.0, 0.0, 0.0]],
                              [[5.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 6.0]]]])
    torch.testing.assert_close(TopFractionThreshold(0.2)(x), expected)

    random = torch.rand(3, 4, 16, 16)
    out = TopFractionThreshold(0.2)(random)
    assert ((out != 0).flatten(2).sum(-1) == 52).all()
    kth_largest = random.flatten(2).topk(52, dim=-1).values[..., -1:]
    assert torch.equal(out.flatten(2) != 0, random.flatten(2) >= kth_largest)
    # layout does not change the result (the training engine runs channels_last)
    torch.testing.assert_close(TopFractionThreshold(0.2)(random.contiguous(memory_format=torch.channels_last)), out)


def test_threshold_ties_keep_exactly_k_deterministically():
    tied = torch.full((2, 3, 4, 5), 0.5)  # every value ties: still exactly 4 of 20 kept per channel
    tied[1, 2, 0, 0] = 0.9
    threshold = TopFractionThreshold(0.2)
    first, second = threshold(tied), threshold(tied)
    assert ((first != 0).flatten(2).sum(-1) == 4).all()
    assert torch.equal(first, second)
    assert first[1, 2, 0, 0] == tied[1, 2, 0, 0] and torch.equal(first.unique(), torch.tensor([0.0, 0.5, 0.9]))
    # fewer positive values than k: all of them survive, nothing else appears
    sparse = torch.zeros(1, 1, 4, 5)
    sparse[0, 0, 1, 2] = 2.0
    torch.testing.assert_close(threshold(sparse), sparse)


def test_threshold_gradient_flows_through_kept_values_only():
    x = torch.rand(2, 3, 5, 5, requires_grad=True)
    out = TopFractionThreshold(0.2)(x)
    out.sum().backward()
    assert torch.equal(x.grad, (out != 0).float())


def test_implicit_norm_conv_divides_each_filter_response_by_its_norm():
    torch.manual_seed(0)
    conv = ImplicitNormConv2d(3, 4, 3, padding=1)
    x = torch.randn(2, 3, 6, 6)
    norms = torch.stack([w.pow(2).sum().sqrt() for w in conv.weight]).view(1, -1, 1, 1)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight, padding=1) / (norms + 1e-6))
    y, local = conv.forward_with_local_copy(x)
    torch.testing.assert_close(y, conv(x))
    torch.testing.assert_close(local, y)


def _sorted_hah(y: torch.Tensor, ratio: float, lam: float) -> torch.Tensor:
    """The authors' formulation: sort the channels at each position."""
    a = F.relu(y).sort(dim=1, descending=True).values
    k = math.ceil(ratio * y.shape[1])
    return (a[:, :k].mean(1) - lam * a[:, k:].mean(1)).mean()


def test_hah_objective_equals_hand_computation_and_sorted_form():
    y = torch.tensor([4.0, -1.0, 2.0, 0.0, 6.0, 1.0, -3.0, 3.0, 5.0, 0.5]).view(1, 10, 1, 1)
    # ratio 0.2 -> K = 2: top {6, 5} -> 5.5; rest ReLU {4, 0, 2, 0, 1, 0, 3, 0.5} -> 10.5 / 8
    assert hah_objective(y, 0.2, 1.0).item() == pytest.approx(5.5 - 10.5 / 8)
    assert hah_objective(y, 0.2, 0.1).item() == pytest.approx(5.5 - 0.1 * 10.5 / 8)
    # ratio 0.1 -> K = ceil(1.0) = 1: top {6}; rest 15.5 / 9
    assert hah_objective(y, 0.1, 1.0).item() == pytest.approx(6.0 - 15.5 / 9)

    torch.manual_seed(0)
    random = torch.randn(3, 20, 4, 4, requires_grad=True)
    value = hah_objective(random, 0.1, 1.0)
    reference = _sorted_hah(random, 0.1, 1.0)
    torch.testing.assert_close(value, reference)
    torch.testing.assert_close(torch.autograd.grad(value, random)[0], torch.autograd.grad(reference, random)[0])


@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
@pytest.mark.parametrize("lam", [1.0, 0.1])
def test_hah_objective_gradient_equals_the_sorted_form_in_either_layout(layout, lam):
    torch.manual_seed(1)
    y = torch.randn(2, 30, 5, 3).contiguous(memory_format=layout)
    y[0, :, 0, 0] = 0.0  # a position with no positive channel: top K tied at zero
    y = y.requires_grad_(True)
    value = hah_objective(y, 0.1, lam)
    (grad,) = torch.autograd.grad(value, y)
    reference = y.detach().contiguous().requires_grad_(True)
    expected = _sorted_hah(reference, 0.1, lam)
    torch.testing.assert_close(value, expected)
    torch.testing.assert_close(grad, torch.autograd.grad(expected, reference)[0])
    assert grad.is_contiguous(memory_format=layout)
    smooth = torch.randn(2, 30, 5, 3, dtype=torch.float64).contiguous(memory_format=layout)  # no ties, no zeros
    assert torch.autograd.gradcheck(lambda t: hah_objective(t, 0.1, lam), (smooth.requires_grad_(True),))


def _tiny_hah_net(num_classes=3):
    """Three HaH blocks (with a max-pool) and a linear head: small enough to check every gradient."""
    from neurozoo_plugins.hah.models import HaHVGG

    return HaHVGG([4, "M", 6, 8], num_classes, in_chans=3, hah_layers=3)


def test_each_hah_layer_gets_only_its_own_hah_gradient_plus_end_to_end_ce():
    torch.manual_seed(0)
    model = neurozoo.create_model("hah_vgg16", num_classes=3, method="hah")
    model.net = _tiny_hah_net()
    images, targets = torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 1])
    alphas = (1.0, 2.0, 3.0)  # large, so the HaH part dominates the comparison
    method = HaHMethod(alphas=alphas)
    ctx = StepContext(model=model, net=model, phase=method.phases()[0], phase_index=0, epoch=0,
                      epoch_in_phase=0, step=0, device=torch.device("cpu"), num_classes=3)
    method.training_step(ctx, (images, targets))["loss"].backward()
    routed = {name: p.grad.clone() for name, p in model.named_parameters()}

    # reference: plain forward with hooks on the conv outputs; per layer, autograd.grad of its own
    # HaH term with respect to its own weights only, plus the cross-entropy gradient everywhere
    model.zero_grad(set_to_none=True)
    blocks = hah_blocks(model)
    outputs = []
    hooks = [b.conv.register_forward_hook(lambda m, i, o: outputs.append(o)) for b in blocks]
    ce = F.cross_entropy(model(images), targets)
    for hook in hooks:
        hook.remove()
    params = dict(model.named_parameters())
    expected = dict(zip(params, torch.autograd.grad(ce, list(params.values()), retain_graph=True)))
    own = {}
    for index, (block, y, alpha) in enumerate(zip(blocks, outputs, alphas)):
        name = next(n for n, p in params.items() if p is block.conv.weight)
        own[name] = torch.autograd.grad(-alpha * hah_objective(y), block.conv.weight, retain_graph=True)[0]
        expected[name] = expected[name] + own[name]
    for name in params:
        torch.testing.assert_close(routed[name], expected[name], msg=name)

    # end to end (no routing) the deeper layers' HaH terms would also reach the first layer
    first = next(iter(own))
    all_hah = sum(-a * hah_objective(y) for a, y in zip(alphas, outputs))
    end_to_end = torch.autograd.grad(all_hah, params[first], retain_graph=True)[0]
    assert not torch.allclose(end_to_end, own[first], atol=1e-4)


def test_local_copy_routing_under_bf16_autocast_returns_fp32_gradients():
    torch.manual_seed(0)
    block = HaHBlock(3, 8)
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    with capture_local_outputs([block]) as captured, torch.autocast("cpu", dtype=torch.bfloat16):
        out = block(x)
        loss = out.float().sum() + hah_loss(captured, (1.0,))
    loss.backward()
    assert block.conv.weight.grad.dtype == torch.float32 and torch.isfinite(block.conv.weight.grad).all()
    assert x.grad is not None and block.local_outputs is None


def test_hah_loss_needs_one_alpha_per_layer_and_skips_zero_alphas():
    y = [[torch.randn(2, 10, 3, 3)], [torch.randn(2, 10, 3, 3)]]
    with pytest.raises(ValueError, match="alphas"):
        hah_loss(y, (0.1,))
    torch.testing.assert_close(hah_loss(y, (0.5, 0.0)), -0.5 * hah_objective(y[0][0]))
    assert hah_loss(y, (0.0, 0.0)).item() == 0.0


def test_hah_vgg16_layout_and_vgg_conversion():
    net = neurozoo.create_model("hah_vgg16", num_classes=10, method="hah").net
    convs = [m for m in net.features.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 13 and len(hah_blocks(net)) == 6
    assert all(c.bias is None and c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert net.head.in_features == 512 and net.head.out_features == 10

    vgg11 = neurozoo.create_model("vgg11", num_classes=10, method="hah", method_kwargs={"hah_layers": 2,
                                                                                        "sigma": 0.3})
    features = vgg11.net.features
    assert isinstance(features[0], HaHBlock) and isinstance(features[4], HaHBlock)
    assert [type(m).__name__ for m in features[1:3]] == ["Identity", "Identity"]  # its BN and ReLU
    assert isinstance(features[8], torch.nn.Conv2d)  # third conv untouched
    assert all(b.divisive.sigma == 0.3 for b in hah_blocks(vgg11))
    assert vgg11(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_conversion_errors_name_the_fix():
    with pytest.raises(ValueError, match="hah_layers"):
        neurozoo.create_model("vgg16", num_classes=10, method="hah")  # no HaH blocks at all
    with pytest.raises(ValueError, match="already has HaH blocks"):
        neurozoo.create_model("hah_vgg16", num_classes=10, method="hah", method_kwargs={"hah_layers": 2})
    with pytest.raises(ValueError, match="no option"):
        HaHMethod(lambda_=0.1)


def test_checkpoint_of_a_converted_model_rebuilds_the_same_tree(tmp_path):
    from neurozoo.checkpoint import load_folder

    model = neurozoo.create_model("vgg11", num_classes=10, method="hah", method_kwargs={"hah_layers": 3})
    neurozoo.save(model, tmp_path / "ckpt")
    loaded = load_folder(tmp_path / "ckpt")
    assert len(hah_blocks(loaded)) == 3
    x = torch.rand(2, 3, 32, 32)
    model.eval()
    torch.testing.assert_close(loaded(x), model(x))


def test_recipe_defaults_follow_the_paper():
    method = HaHMethod()
    phase = method.phases()[0]
    assert (phase.optimizer, phase.lr, phase.weight_decay, phase.schedule) == ("adam", 1e-3, 0.0, "step")
    assert phase.epochs == 100 and phase.milestones == (60, 80) and phase.gamma == 0.1
    assert HaHMethod(epochs=10).phases()[0].milestones == (6, 8)
    assert HaHMethod(epochs=1).phases()[0].milestones == ()  # no decay before the first step
    assert method.recipe["hah_lambda"] == 1.0 and method.recipe["alphas"][0] == 0.0045

