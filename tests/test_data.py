"""Real datasets: sources in order, verification, clear errors, in-memory batches, augmentation."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset
from torchvision.transforms.v2 import functional as TF

import neurozoo
from neurozoo.data import real
from neurozoo.data.files import DataIntegrityError, DataNotFoundError
from neurozoo.data.tensors import Cutout, ImageTensorDataset, RandomCropFlip, with_cutout

REAL = ["mnist", "fashion_mnist", "cifar10", "cifar100", "svhn", "tinyimagenet"]


def fake_split(record, n, seed=0):
    rng = np.random.default_rng(seed)
    c, h, w = record.input_size
    images = rng.integers(0, 256, size=(n, h, w, c), dtype=np.uint8)
    labels = rng.integers(0, record.num_classes, size=n)
    return images, labels


@pytest.mark.parametrize("name", REAL)
def test_each_dataset_loads_from_the_shared_layout(name, write_data_folder):
    record = neurozoo.get_dataset(name)
    arrays = {split: fake_split(record, 5 + i, seed=i) for i, split in enumerate(record.splits)}
    root = write_data_folder({name: arrays})
    for split, (images, labels) in arrays.items():
        dataset = record.load(split, root=root)
        assert len(dataset) == len(images)
        image, target = dataset[3]
        assert image.dtype == torch.float32 and tuple(image.shape) == record.input_size
        assert torch.equal(image, torch.from_numpy(images[3]).permute(2, 0, 1).float() / 255)
        assert target.dtype == torch.int64 and int(target) == labels[3]


def test_root_defaults_to_the_environment_variable(write_data_folder, monkeypatch):
    record = neurozoo.get_dataset("mnist")
    root = write_data_folder({"mnist": {"test": fake_split(record, 4)}})
    monkeypatch.setenv("NEUROZOO_DATA", str(root))
    assert len(record.load("test")) == 4


def test_wrong_sha256_is_a_clear_error(write_data_folder):
    record = neurozoo.get_dataset("cifar10")
    root = write_data_folder({"cifar10": {"test": fake_split(record, 4)}})
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["cifar10"]["splits"]["test"]["sha256"] = "0" * 64
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataIntegrityError, match=r"cifar10_test\.npz has sha256 [0-9a-f]{64}, but .*expects 0{64}"):
        record.load("test", root=root)


def test_a_file_changed_after_verification_is_hashed_again(write_data_folder):
    record = neurozoo.get_dataset("mnist")
    root = write_data_folder({"mnist": {"test": fake_split(record, 4)}})
    assert len(record.load("test", root=root)) == 4
    (root / "mnist_test.npz").write_bytes(b"not the verified file")
    with pytest.raises(DataIntegrityError, match="sha256"):
        record.load("test", root=root)


def test_verified_files_are_not_hashed_on_every_load(write_data_folder, monkeypatch):
    import neurozoo.hub

    record = neurozoo.get_dataset("mnist")
    root = write_data_folder({"mnist": {"test": fake_split(record, 4)}})
    calls = []
    original = neurozoo.hub.sha256_file
    monkeypatch.setattr(neurozoo.hub, "sha256_file", lambda path: calls.append(path) or original(path))
    for _ in range(3):
        record.load("test", root=root)
    assert len(calls) == 1


@pytest.mark.parametrize("name", REAL)
def test_missing_dataset_names_every_path_tried(name, tmp_path, monkeypatch):
    monkeypatch.setattr(real, "FASHION_MNIST_DEBIAN", tmp_path / "debian" / "fashion-mnist")
    with pytest.raises(DataNotFoundError) as info:
        neurozoo.get_dataset(name).load("train", root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "manifest.json") in message
    expected_layout = {
        "mnist": "MNIST/raw", "fashion_mnist": "FashionMNIST/raw", "cifar10": "cifar-10-batches-py",
        "cifar100": "cifar-100-python", "svhn": "train_32x32.mat", "tinyimagenet": "tiny-imagenet-200",
    }[name]
    assert str(tmp_path) + "/" + expected_layout.split("/")[0] in message
    assert "To get it" in message
    if name == "fashion_mnist":
        assert str(tmp_path / "debian" / "fashion-mnist") in message and "dataset-fashion-mnist" in message


def test_unknown_split_and_wrong_shape_are_clear_errors(write_data_folder):
    cifar = neurozoo.get_dataset("cifar10")
    with pytest.raises(ValueError, match="no split 'val'; splits: train, test"):
        cifar.load("val")
    mnist_images, labels = fake_split(neurozoo.get_dataset("mnist"), 3)
    root = write_data_folder({"cifar10": {"test": (mnist_images, labels)}})
    with pytest.raises(DataIntegrityError, match=r"images are \(1, 28, 28\).*expected \(3, 32, 32\)"):
        cifar.load("test", root=root)


def write_idx(path, array, compress):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def idx_files(folder, n, seed, compress):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix in ("train", "t10k"):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        suffix = ".gz" if compress else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)
        arrays[prefix] = (images, labels)
    return arrays


def test_torchvision_layout_is_the_second_source(tmp_path):
    arrays = idx_files(tmp_path / "MNIST" / "raw", n=6, seed=1, compress=False)
    dataset = neurozoo.get_dataset("mnist").load("test", root=tmp_path)
    images, labels = arrays["t10k"]
    assert torch.equal(dataset.images[:, 0], torch.from_numpy(images))
    assert dataset.targets.tolist() == labels.tolist()


def test_fashion_mnist_falls_back_to_the_debian_package_files(tmp_path, monkeypatch):
    debian = tmp_path / "usr-share-datasets-fashion-mnist"
    arrays = idx_files(debian, n=7, seed=2, compress=True)
    monkeypatch.setattr(real, "FASHION_MNIST_DEBIAN", debian)
    dataset = neurozoo.get_dataset("fashion_mnist").load("train", root=tmp_path / "empty")
    images, labels = arrays["train"]
    assert torch.equal(dataset.images[:, 0], torch.from_numpy(images))
    assert dataset.targets.tolist() == labels.tolist()


def test_truncated_idx_file_is_a_clear_error(tmp_path):
    from neurozoo.data.files import read_idx_gz

    write_idx(tmp_path / "x.gz", np.zeros((4, 28, 28), np.uint8), compress=True)
    data = gzip.decompress((tmp_path / "x.gz").read_bytes())
    (tmp_path / "x.gz").write_bytes(gzip.compress(data[:-10]))
    with pytest.raises(DataIntegrityError, match="truncated"):
        read_idx_gz(tmp_path / "x.gz")


def test_tinyimagenet_reads_the_standard_folder(tmp_path):
    from PIL import Image

    from neurozoo.data.class_names import TINYIMAGENET_WNIDS

    folder = tmp_path / "tiny-imagenet-200"
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(3, 64, 64, 3), dtype=np.uint8)
    wnids = [TINYIMAGENET_WNIDS[5], TINYIMAGENET_WNIDS[199], TINYIMAGENET_WNIDS[5]]
    (folder / "val" / "images").mkdir(parents=True)
    rows = []
    for i, (wnid, image) in enumerate(zip(wnids, pixels)):
        train_dir = folder / "train" / wnid / "images"
        train_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(train_dir / f"{wnid}_{i}.JPEG")
        Image.fromarray(image[..., 0], mode="L").save(folder / "val" / "images" / f"val_{i}.JPEG")  # grayscale
        rows.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(rows) + "\n")
    record = neurozoo.get_dataset("tinyimagenet")
    train = record.load("train", root=tmp_path)
    assert sorted(train.targets.tolist()) == [5, 5, 199]
    test = record.load("test", root=tmp_path)
    assert test.targets.tolist() == [5, 199, 5]
    assert test.images.shape == (3, 3, 64, 64)
    assert torch.equal(test.images[:, 0], test.images[:, 2])  # grayscale JPEGs come out as RGB


def test_dataloader_batches_match_items_and_subsets_work(write_data_folder):
    record = neurozoo.get_dataset("cifar10")
    root = write_data_folder({"cifar10": {"test": fake_split(record, 10)}})
    dataset = record.load("test", root=root)
    images, targets = next(iter(DataLoader(Subset(dataset, [7, 2, 5]), batch_size=3)))
    assert images.shape == (3, 3, 32, 32) and images.dtype == torch.float32
    for row, index in enumerate([7, 2, 5]):
        assert torch.equal(images[row], dataset[index][0]) and targets[row] == dataset[index][1]


def test_random_crop_flip_crops_each_image_like_torchvision():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8)
    out = RandomCropFlip(padding=2)(images)
    assert out.shape == images.shape and out.dtype == torch.uint8
    offsets_seen, flips_seen = set(), set()
    for image, result in zip(images, out):
        padded = TF.pad(image, [2])
        matches = [
            (top, left, flip)
            for top in range(5)
            for left in range(5)
            for flip in (False, True)
            if torch.equal(result, (TF.horizontal_flip if flip else lambda x: x)(TF.crop(padded, top, left, 8, 8)))
        ]
        assert matches, "every output is a crop (optionally flipped) of the zero-padded image"
        offsets_seen.add(matches[0][:2])
        flips_seen.add(matches[0][2])
    assert len(offsets_seen) > 5 and flips_seen == {False, True}  # drawn per image, not per batch


def test_augment_flag_applies_the_training_augmentation_only_when_asked(write_data_folder):
    record = neurozoo.get_dataset("cifar10")
    root = write_data_folder({"cifar10": {"train": fake_split(record, 32)}})
    plain = record.load("train", root=root)
    assert plain.augment is None
    torch.manual_seed(0)
    augmented = record.load("train", root=root, augment=True)
    batch = torch.stack([item[0] for item in augmented.__getitems__(list(range(32)))])
    assert batch.shape == (32, 3, 32, 32) and 0 <= batch.min() and batch.max() <= 1
    assert not torch.equal(batch, plain.images.float() / 255)


def test_cutout_blanks_one_mean_filled_square_per_image_clipped_at_the_border():
    torch.manual_seed(0)
    images = torch.full((64, 3, 16, 16), 250, dtype=torch.uint8)
    out = Cutout(6, fill=(10, 20, 30))(images)
    blanked = out[:, 0] == 10
    assert torch.equal(blanked, out[:, 1] == 20) and torch.equal(blanked, out[:, 2] == 30)  # every channel alike
    assert torch.equal(out[~blanked.unsqueeze(1).expand_as(out)], images[~blanked.unsqueeze(1).expand_as(out)])
    boxes = set()
    for mask in blanked:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        assert mask.sum() == len(rows) * len(cols), "the blanked pixels form one rectangle"
        assert 1 <= len(rows) <= 6 and 1 <= len(cols) <= 6
        boxes.add((rows[0].item(), cols[0].item(), len(rows), len(cols)))
    sizes = [h * w for _, _, h, w in boxes]
    assert 36 in sizes and min(sizes) < 36  # whole squares inside, partial ones at the border
    assert len(boxes) > 20  # drawn per image, not per batch


def test_with_cutout_follows_the_dataset_augmentation_and_refuses_what_it_cannot_blank(write_data_folder):
    record = neurozoo.get_dataset("cifar10")
    root = write_data_folder({"cifar10": {"train": fake_split(record, 32)}})
    data = with_cutout(record.load("train", root=root, augment=True), 8, record.mean)
    crop, cutout = data.augment.transforms
    assert isinstance(crop, RandomCropFlip) and cutout.size == 8
    assert cutout.fill == tuple(round(m * 255) for m in record.mean)
    with pytest.raises(ValueError, match="train without --cutout"):
        with_cutout(record.load("train", root=root), 8, record.mean)
    with pytest.raises(ValueError, match="give --cutout 32 or less"):
        with_cutout(record.load("train", root=root, augment=True), 33, record.mean)


def test_dataset_rejects_inconsistent_tensors():
    with pytest.raises(ValueError, match="uint8"):
        ImageTensorDataset(torch.zeros(2, 1, 4, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="2 images but 3 targets"):
        ImageTensorDataset(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.zeros(3, dtype=torch.long))


# ------------------------------------------------------------------ real data
@pytest.mark.slow
@pytest.mark.parametrize("name", ["mnist", "cifar10", "tinyimagenet"])
def test_records_match_the_real_data(name, shared_data):
    record = neurozoo.get_dataset(name)
    manifest = json.loads((shared_data / "manifest.json").read_text())[name]
    assert list(record.class_names) == manifest["class_names"]
    split = "val_sample" if name == "tinyimagenet" else "train"
    dataset = record.load(split, root=shared_data)
    assert len(dataset) == manifest["splits"][split]["count"]
    assert torch.bincount(dataset.targets).tolist() == (
        [10] * 200 if name == "tinyimagenet" else list(manifest["splits"][split]["counts_per_class"].values())
    )
    # exact per-channel moments from pixel-value histograms
    values = torch.arange(256, dtype=torch.float64) / 255
    counts = torch.stack([torch.bincount(channel.flatten(), minlength=256) for channel in dataset.images.unbind(1)])
    mean = (counts * values).sum(1) / counts.sum(1)
    std = ((counts * (values - mean[:, None]) ** 2).sum(1) / counts.sum(1)).sqrt()
    # full training splits give the published statistics; the Tiny ImageNet sample is 2,000 val images
    tolerance = 0.01 if name == "tinyimagenet" else 1e-3
    assert mean.tolist() == pytest.approx(record.mean, abs=tolerance)
    assert std.tolist() == pytest.approx(record.std, abs=tolerance)
