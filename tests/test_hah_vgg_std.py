"""HaH's comparator: the authors' standard VGG-16 (vgg16_std), and the recipe both models share."""

from __future__ import annotations

import json

import torch
from torch import nn

import neurozoo
from neurozoo import registry
from neurozoo_plugins.hah.layers import HaHBlock
from neurozoo_plugins.hah.method import HaHMethod

# The 13 convs of VGG-16 [code] (SparseStrongActivations, vgg_depth_dict["VGG16"]), written out
CONVS = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256), (256, 512),
         (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]


def net(arch: str, **kwargs) -> nn.Module:
    torch.manual_seed(0)
    return registry.get_architecture(arch).builder(num_classes=10, **kwargs)


def test_vgg16_std_has_the_hand_counted_parameters():
    conv_weights = sum(3 * 3 * c_in * c_out for c_in, c_out in CONVS)  # no conv biases
    batchnorm = sum(2 * c_out for _, c_out in CONVS)  # weight and bias per channel
    head = 512 * 10 + 10
    assert sum(p.numel() for p in net("vgg16_std").parameters()) == conv_weights + batchnorm + head == 14_724_042
    # torchvision's VGG-16-BN differs only by the conv biases
    assert sum(p.numel() for p in net("vgg16").parameters()) == 14_724_042 + sum(c for _, c in CONVS)


def test_vgg16_std_is_conv_relu_batchnorm_with_the_vgg16_widths_and_pools():
    model = net("vgg16_std")
    blocks = [m for m in model.features if isinstance(m, nn.Sequential)]
    assert [(b[0].in_channels, b[0].out_channels) for b in blocks] == CONVS
    for conv, relu, norm in blocks:
        assert (conv.kernel_size, conv.padding, conv.bias) == ((3, 3), (1, 1), None)
        assert isinstance(relu, nn.ReLU) and isinstance(norm, nn.BatchNorm2d)
    pools = [i for i, m in enumerate(model.features) if isinstance(m, nn.MaxPool2d)]
    assert pools == [2, 5, 9, 13, 17]  # after conv 2, 4, 7, 10, 13
    assert (model.head.in_features, model.head.out_features) == (512, 10)
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_hah_vgg16_is_vgg16_std_with_its_first_six_stacks_replaced():
    standard, plain_hah = net("vgg16_std"), net("hah_vgg16", hah_layers=0)
    shapes = {k: v.shape for k, v in standard.state_dict().items()}
    assert {k: v.shape for k, v in plain_hah.state_dict().items()} == shapes
    plain_hah.load_state_dict(standard.state_dict())
    images = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(plain_hah.eval()(images), standard.eval()(images))
    # converting vgg16_std's first 6 convs (the method option hah_layers) gives hah_vgg16's module tree
    converted = neurozoo.create_model("vgg16_std", num_classes=10, method="hah", method_kwargs={"hah_layers": 6})
    native = neurozoo.create_model("hah_vgg16", num_classes=10, method="hah")

    def kinds(model, skipped):  # the layers below the net itself, in order
        return [type(m).__name__ for m in list(model.net.modules())[1:] if not isinstance(m, skipped)]

    assert kinds(converted, (nn.Identity, nn.Sequential)) == kinds(native, nn.Sequential)
    assert sum(isinstance(m, HaHBlock) for m in converted.modules()) == 6


def test_one_set_of_flags_gives_hah_and_the_baseline_the_same_optimiser_and_schedule():
    recipe = {"epochs": 10, "lr": 1e-3, "optimizer": "adam", "weight_decay": 0.0, "label_smoothing": 0.0,
              "schedule": "step", "milestones": [6, 8]}
    (hah,) = HaHMethod(**recipe).phases()
    (baseline,) = registry.get_method("baseline").trainer(**recipe).phases()
    assert hah == baseline
    assert (hah.milestones, hah.gamma) == ((6, 8), 0.1)
    # HaH's default milestones are the same 60 % / 80 % of the epochs
    assert HaHMethod(epochs=10).phases()[0].milestones == (6, 8)


def test_hah_trains_in_fp32_by_default(shared_data, tmp_path):
    run = neurozoo.train("hah", "hah_vgg16", "cifar10", data_dir=shared_data, out=tmp_path / "run", epochs=1,
                         batch_size=4, limit=4, eval_limit=0)
    assert json.loads((run / "run.json").read_text())["engine"]["precision"] == "fp32"
