"""Hook implementations registering the core datasets.

Real datasets (see :mod:`neurozoo.data.real` for where their files are looked for):

============= =========== ======================== ==============================================
name          input       splits                   training augmentation (``augment=True``)
============= =========== ======================== ==============================================
mnist         1 x 28 x 28 train, test              random crop 28, zero padding 2 (no flip: digits)
fashion_mnist 1 x 28 x 28 train, test              random crop 28, zero padding 2
cifar10       3 x 32 x 32 train, test              random crop 32, padding 4 + horizontal flip
cifar100      3 x 32 x 32 train, test              random crop 32, padding 4 + horizontal flip
svhn          3 x 32 x 32 train, test              random crop 32, padding 4 (no flip: digits)
tinyimagenet  3 x 64 x 64 train, test, val_sample  random crop 64, padding 8 + horizontal flip
============= =========== ======================== ==============================================

Tiny ImageNet: ``test`` is the official labelled validation set (the official test set has no
labels); ``val_sample`` is the 2,000-image pipeline sample of the shared offline data (10 per class),
the only Tiny ImageNet split available offline.

Mean/std are per-channel statistics of the training split over all pixels. MNIST and CIFAR-10 are
checked against the shared data by tests/test_data.py, Fashion-MNIST matches the Debian package's
files; CIFAR-100, SVHN and Tiny ImageNet are the commonly published values (the Tiny ImageNet sample
agrees within 0.01).

Multi-object digit sets (multi-label, 1 x 32 x 32, splits train/test, items ``(image, multi_hot,
masks)``; generator, mask layout and the overlap measure: :mod:`neurozoo.data.multidigits`). Each
name fixes the variant that checkpoint configs record; ``load(..., n_digits=, max_overlap=, overlap=,
background=, seed=, size=)`` overrides any of them for one-off tests. ``max_overlap`` bounds the
authors' overlap measure (make_multi_mnist.py: signed product of the per-axis box gaps over twice
the first box's area): 0 means side by side or stacked, never diagonal, never intersecting; 0.25
lets the boxes intersect on up to half the first box (the authors' ``object_025``). Their mean/std
are 0 and 1: the models trained on them (KomplexNet and its baselines) take the [0, 1] pixels as
the authors feed them, since the Kuramoto coupling weights tanh(amplitude) depend on the input scale:

================= ======== =========== ==========
name               n_digits max_overlap background
================= ======== =========== ==========
multimnist         2        0           none
multimnist_o25     2        0.25        none
multimnist_o50     2        0.5         none
multimnist3        3        0           none
multimnist_cifar   2        0           cifar10
================= ======== =========== ==========
"""

from __future__ import annotations

import functools

from neurozoo.data import class_names, multidigits, real
from neurozoo.data.tensors import RandomCropFlip
from neurozoo.hookspecs import hookimpl
from neurozoo.records import Dataset

DIGITS = tuple(str(d) for d in range(10))
# each dataset's terms of use, as its own page states them (cards cite them: neurozoo.cards)
CIFAR_TERMS = ("{name} (Krizhevsky, Learning Multiple Layers of Features from Tiny Images, 2009; "
               "https://www.cs.toronto.edu/~kriz/cifar.html) states no licence; its page asks users to cite that report")
TERMS = {
    "mnist": "MNIST (LeCun, Cortes & Burges, http://yann.lecun.com/exdb/mnist/) states no licence; it is commonly "
             "used under CC BY-SA 3.0",
    "fashion_mnist": "Fashion-MNIST (Xiao, Rasul & Vollgraf 2017; https://github.com/zalandoresearch/fashion-mnist) "
                     "is released under the MIT licence",
    "cifar10": CIFAR_TERMS.format(name="CIFAR-10"),
    "cifar100": CIFAR_TERMS.format(name="CIFAR-100"),
    "svhn": "SVHN (Netzer et al. 2011; http://ufldl.stanford.edu/housenumbers/) is for non-commercial use only, "
            "as its page states",
    "tinyimagenet": "Tiny ImageNet (Stanford CS231n, http://cs231n.stanford.edu/) is a subset of ImageNet, whose "
                    "terms (https://image-net.org/download) allow non-commercial research and teaching only",
}


def _real(name, *, class_names, mean, std, input_size, augment, description, splits=("train", "test")):
    load = functools.partial(real.load_split, name, input_size=input_size, splits=splits, train_augment=augment)
    return Dataset(
        name=name,
        load=load,
        num_classes=len(class_names),
        class_names=tuple(class_names),
        mean=mean,
        std=std,
        input_size=input_size,
        splits=splits,
        description=description,
        terms=TERMS[name],
    )


REAL_DATASETS = (
    _real(
        "mnist", class_names=DIGITS, mean=(0.1307,), std=(0.3081,), input_size=(1, 28, 28),
        augment=RandomCropFlip(padding=2, flip=False), description="MNIST handwritten digits (LeCun et al. 1998)",
    ),
    _real(
        "fashion_mnist", class_names=class_names.FASHION_MNIST, mean=(0.2860,), std=(0.3530,),
        input_size=(1, 28, 28), augment=RandomCropFlip(padding=2, flip=False),
        description="Fashion-MNIST Zalando article images (Xiao et al. 2017)",
    ),
    _real(
        "cifar10", class_names=class_names.CIFAR10, mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
        input_size=(3, 32, 32), augment=RandomCropFlip(padding=4), description="CIFAR-10 (Krizhevsky 2009)",
    ),
    _real(
        "cifar100", class_names=class_names.CIFAR100, mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762),
        input_size=(3, 32, 32), augment=RandomCropFlip(padding=4),
        description="CIFAR-100, 100 fine labels (Krizhevsky 2009)",
    ),
    _real(
        "svhn", class_names=DIGITS, mean=(0.4377, 0.4438, 0.4728), std=(0.1980, 0.2010, 0.1970),
        input_size=(3, 32, 32), augment=RandomCropFlip(padding=4, flip=False),
        description="SVHN cropped digits, train + test (Netzer et al. 2011)",
    ),
    _real(
        "tinyimagenet", class_names=class_names.TINYIMAGENET, mean=(0.4802, 0.4481, 0.3975),
        std=(0.2770, 0.2691, 0.2821), input_size=(3, 64, 64), augment=RandomCropFlip(padding=8),
        splits=("train", "test", "val_sample"),
        description="Tiny ImageNet 200 classes; test = official val set; val_sample = 2,000-image offline sample",
    ),
)


def _multidigits(name, *, description, **variant):
    sources = [f"digits from {TERMS['mnist']}"]
    if variant.get("background") == "cifar10":
        sources.append(f"backgrounds from {TERMS['cifar10']}")
    return Dataset(
        name=name,
        load=functools.partial(multidigits.load, **variant),
        num_classes=10,
        class_names=DIGITS,
        mean=(0.0,),
        std=(1.0,),
        input_size=(1, 32, 32),
        task="multilabel",
        description=description,
        terms="generated by neurozoo.data.multidigits: " + "; ".join(sources),
    )


MULTIDIGIT_DATASETS = (
    _multidigits(
        "multimnist",
        description="2 MNIST digits of different classes, boxes side by side or stacked (authors' overlap 0)",
    ),
    _multidigits(
        "multimnist_o25", max_overlap=0.25,
        description="2 MNIST digits, authors' overlap <= 0.25 (boxes intersect on up to half the first box)",
    ),
    _multidigits(
        "multimnist_o50", max_overlap=0.5,
        description="2 MNIST digits, authors' overlap <= 0.5 (boxes may intersect in any amount)",
    ),
    _multidigits("multimnist3", n_digits=3, description="3 MNIST digits of different classes (authors' overlap 0)"),
    _multidigits(
        "multimnist_cifar", background="cifar10",
        description="2 MNIST digits on grayscale CIFAR-10 backgrounds (authors' overlap 0)",
    ),
)


@hookimpl
def register_datasets(register):
    for record in REAL_DATASETS + MULTIDIGIT_DATASETS:
        register(record)
