"""HaH metrics against independent computations, and the sparsity of a briefly trained HaH-VGG16."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import neurozoo
from neurozoo.model import NeurozooModel, build_config
from neurozoo_plugins.hah.metrics import activation_layers, channel_top_rest_means

IMAGES = 8


class ShiftedReLUNet(nn.Module):
    """One activation layer, relu(x - 0.5), so every metric has a closed form on the images."""

    def __init__(self):
        super().__init__()
        self.act = nn.ReLU()
        self.head = nn.Linear(3, 10)

    def embed(self, x):
        return self.act(x - 0.5).mean(dim=(2, 3))

    def classify(self, z):
        return self.head(z)


def _cifar_model_and_images(shared_data):
    dataset = neurozoo.get_dataset("cifar10")
    config = build_config("shifted_relu", num_classes=10, input_size=(3, 32, 32), mean=(0.0,) * 3, std=(1.0,) * 3,
                          class_names=dataset.class_names, dataset="cifar10")
    test = dataset.load("test", root=shared_data)
    images = torch.stack([test[i][0] for i in range(IMAGES)])
    return NeurozooModel(ShiftedReLUNet(), config), images


def test_channel_top_rest_means_hand_computation():
    a = torch.tensor([3.0, 0.0, 1.0, 2.0]).view(1, 4, 1, 1)
    assert channel_top_rest_means(a, 0.5) == (2.5, 0.5)  # top {3, 2}; rest {0, 1}
    assert channel_top_rest_means(a, 0.25) == (3.0, 1.0)  # top {3}; rest {0, 1, 2}


def test_activation_layers_are_one_per_conv_in_vgg16_and_hah_vgg16():
    vgg16 = neurozoo.create_model("vgg16", num_classes=10)
    assert len(activation_layers(vgg16)) == 13 and len(activation_layers(vgg16, layers=6)) == 6
    assert len(activation_layers(neurozoo.create_model("hah_vgg16", num_classes=10, method="hah"))) == 13


def test_metrics_equal_their_closed_form(shared_data):
    from neurozoo.data.corruptions import gaussian_noise
    from neurozoo.evaluation.corruption import batch_seed

    model, images = _cifar_model_and_images(shared_data)
    result = neurozoo.evaluate(model, "cifar10", ["hah_sparsity", "hah_disparity", "hah_snr"], limit=IMAGES,
                               data_dir=shared_data)["metrics"]
    clean = torch.relu(images - 0.5)
    assert result["hah_sparsity"]["nonzero_fraction_layer1"] == pytest.approx((images > 0.5).float().mean().item())

    top = clean.max(dim=1).values  # 3 channels, ratio 0.1 -> K = 1
    rest = (clean.sum(dim=1) - top) / 2
    assert result["hah_disparity"]["topk_rest_ratio_layer1"] == pytest.approx((top.sum() / rest.sum()).item(),
                                                                              rel=1e-5)

    noisy = torch.relu(gaussian_noise(images, 0.1, batch_seed(0, 0, 0)) - 0.5)  # one batch, first draw
    snr = 10 * math.log10(clean.pow(2).sum().item() / (noisy - clean).pow(2).sum().item())
    assert result["hah_snr"]["snr_db_layer1"] == pytest.approx(snr, rel=1e-5)


@pytest.mark.slow
def test_briefly_trained_hah_vgg16_is_sparser_than_vgg16_in_early_layers(shared_data, tmp_path):
    runs = {}
    for method, arch in (("hah", "hah_vgg16"), ("baseline", "vgg16")):
        runs[arch] = neurozoo.train(method, arch, "cifar10", out=tmp_path / arch, epochs=1, batch_size=8, limit=16,
                                    eval_limit=0, data_dir=shared_data)
    nonzero = {
        arch: neurozoo.evaluate(str(run), "cifar10", ["hah_sparsity"], limit=16, data_dir=shared_data,
                                options={"hah_sparsity": {"layers": 6}})["metrics"]["hah_sparsity"]
        for arch, run in runs.items()
    }
    for layer in range(1, 7):
        figure = f"nonzero_fraction_layer{layer}"
        assert nonzero["hah_vgg16"][figure] <= 0.2 + 1 / 64  # the threshold keeps ceil(20 %) per channel
        assert nonzero["hah_vgg16"][figure] < nonzero["vgg16"][figure]
