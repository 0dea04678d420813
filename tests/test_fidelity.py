"""Every built-in method trains with gradients that agree with float64, under the engine's defaults.

Cases (listed from the registry, so a new method or architecture joins or fails loudly): each
built-in method on its default architecture (``DEFAULT_ARCH``), the other architectures a method
registers checkpoints for, NM-Hebb's second phase, and the baseline on every registered
architecture. A case builds the engine for the method (seed 0), takes a small real batch of the
dataset matching the architecture's input (CIFAR-10, MNIST, or the multi-digit set of the kuramoto
plugin) and checks ``neurozoo.training.fidelity`` at initialisation and after ``STEPS`` engine
steps on the next real images: every layer's gradient under the engine's default precision
(bf16 autocast with the float32 regions the method and architecture declare) has cosine >= 0.99
and norm ratio in [0.9, 1.1] against float64 (negligible and unused layers: see that module).

The training steps run in fp32: they only move the weights away from initialisation, and on CPUs
without bf16 units a bf16 step costs ~8x an fp32 one (ResNet-18, 8 images: 21 s vs 2.6 s here).
The check itself runs the engine's default precision.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pytest
import torch
from torch.utils.data import default_collate

from neurozoo import registry
from neurozoo.training.engine import build_engine
from neurozoo.training.fidelity import engine_fidelity
from neurozoo.training.precision import Policy

BUILTIN_PLUGINS = {"baseline", "nmhebb", "kuramoto", "ffcl", "hah", "binenc"}
DEFAULT_ARCH = {"baseline": "resnet18", "nmhebb": "resnet18", "kuramoto": "komplexnet", "ffcl": "ffcl_mlp",
                "hah": "hah_vgg16", "binenc": "resnet18"}
DATASET_BY_INPUT = {(3, 32, 32): "cifar10", (1, 28, 28): "mnist", (1, 32, 32): "multimnist_o25"}
# images per batch: bf16's agreement depends on it (plain bf16 on ResNet-18 layers: cosine 0.96 with 2
# images of 16x16, 0.99 with 8 of 32x32); float64 KomplexNet steps cost ~2 s per image here, so the
# multi-digit batches are small
BATCH = {"cifar10": 8, "mnist": 16, "multimnist_o25": 4}
STEPS = 3
# architectures whose float64 and bf16 passes take tens of seconds on a 2-core CPU
HEAVY = {"resnet18", "vgg11", "vgg16", "vgg16_std", "mobilenetv2", "densenet121", "efficientnetv2_s", "hah_vgg16",
         "komplexnet", "komplexnet_fb"}
# smaller inputs for the baseline where the architecture allows: KomplexNets with 3 Kuramoto steps
# instead of 15 (their precision is the architecture's declaration, whatever T; the kuramoto method's
# own cases run T = 15), the larger timm nets on 16 x 16 centre crops
BASELINE_ARCH_KWARGS = {arch: {"timesteps": 3} for arch in ("komplexnet", "komplexnet_fb", "komplexnet_random")}
BASELINE_CROP = {"mobilenetv2": 16, "densenet121": 16, "efficientnetv2_s": 16}
# architectures the baseline cannot train (their forward needs what only one method gives): they are
# checked under that method instead
OWN_METHOD = {"komplexnet_oracle": "kuramoto"}  # its phases come from the object masks the kuramoto method passes


@dataclass(frozen=True)
class Case:
    method: str
    arch: str
    phase: int = 0

    @property
    def dataset(self) -> str:
        return DATASET_BY_INPUT[tuple(registry.get_architecture(self.arch).input_size)]

    @property
    def arch_kwargs(self) -> dict:
        return BASELINE_ARCH_KWARGS.get(self.arch, {}) if self.method == "baseline" else {}

    @property
    def crop(self) -> int | None:
        return BASELINE_CROP.get(self.arch) if self.method == "baseline" else None

    def __str__(self) -> str:
        return f"{self.method}-{self.arch}" + (f"-phase{self.phase}" if self.phase else "")


def _builtin(kind: str, names: list[str]) -> list[str]:
    return [n for n in names if registry.owner(kind, n) in BUILTIN_PLUGINS]


def cases() -> list[Case]:
    methods = _builtin("method", registry.list_methods())
    found = {Case(m, DEFAULT_ARCH.get(m, "")) for m in methods}
    found |= {Case(c.method, c.arch) for c in map(registry.get_checkpoint, registry.list_models(include_planned=True))
              if c.method in methods and c.method != "nmhebb"}  # NM-Hebb's backbones: the baseline's below
    found.add(Case("nmhebb", DEFAULT_ARCH["nmhebb"], phase=1))  # metric learning
    archs = _builtin("architecture", registry.list_architectures())
    found |= {Case(OWN_METHOD.get(a, "baseline"), a) for a in archs}
    return sorted(found, key=str)


def _param(case: Case):
    marks = [pytest.mark.slow] if case.arch in HEAVY else []
    return pytest.param(case, id=str(case), marks=marks)


def test_every_builtin_method_has_a_default_architecture():
    assert set(_builtin("method", registry.list_methods())) <= set(DEFAULT_ARCH)
    for arch in _builtin("architecture", registry.list_architectures()):
        assert tuple(registry.get_architecture(arch).input_size) in DATASET_BY_INPUT, arch


@functools.cache
def _images(dataset: str, root: str, count: int):
    options = {"size": count} if dataset.startswith("multimnist") else {}  # generate only what is used
    data = registry.get_dataset(dataset).load("train", root=root, augment=False, **options)
    return [data[i] for i in range(count)]


def _batches(case: Case, root) -> list:
    """The check batch, then one batch per training step (real images, centre-cropped if asked)."""
    size = BATCH[case.dataset]
    images = _images(case.dataset, str(root), size * (1 + STEPS))
    batches = [default_collate(images[i:i + size]) for i in range(0, len(images), size)]
    if case.crop is None:
        return batches
    top = (batches[0][0].shape[-1] - case.crop) // 2
    return [[t[..., top:top + case.crop, top:top + case.crop] if t.dim() == 4 else t for t in batch]
            for batch in batches]


def _engine(case: Case):
    torch.manual_seed(0)
    engine = build_engine(case.method, case.arch, case.dataset, arch_kwargs=case.arch_kwargs,
                          device=torch.device("cpu"), precision="fp32")
    engine.start_phase(case.phase, steps_per_epoch=STEPS)
    engine.epoch = engine.first_epoch(case.phase)
    engine.train_mode()
    return engine


@pytest.mark.parametrize("case", [_param(c) for c in cases()])
def test_gradients_agree_with_float64_at_initialisation(case, shared_data):
    check = _batches(case, shared_data)[0]
    report = engine_fidelity(_engine(case), check, precision="bf16")  # the engine's default precision
    print(f"{case} at initialisation: {report.summary()}")  # shown with -s: the measured figures
    assert not report.failures(), f"{case} at initialisation: {report}"


@pytest.mark.parametrize("case", [_param(c) for c in cases()])
def test_gradients_agree_with_float64_after_training_steps(case, shared_data):
    check, *train = _batches(case, shared_data)
    engine = _engine(case)
    for batch in train:
        engine.step(batch)
    report = engine_fidelity(engine, check, precision="bf16")
    print(f"{case} after {STEPS} steps: {report.summary()}")
    assert not report.failures(), f"{case} after {STEPS} steps: {report}"


def test_plain_bf16_breaks_kuramoto_dynamics(shared_data):
    """What the policy prevents: with bf16 everywhere (the engine before the policy) the Gabor and
    coupling gradients of KomplexNet point elsewhere."""
    case = Case("kuramoto", "komplexnet")
    report = engine_fidelity(_engine(case), _batches(case, shared_data)[0], policy=Policy("bf16"))
    failing = {g.name for g in report.failures()}
    assert {"net.amplitude", "net.coupling"} <= failing, report


def test_resnet18_runs_in_bf16_with_its_stem_conv_in_float32():
    """The policy the resnet18 cases above check: only the stem conv is a float32 region (and it
    keeps a Conv2d's state-dict keys, so checkpoints saved before the region existed still load)."""
    from neurozoo import create_model
    from neurozoo.training import precision

    model = create_model("resnet18", dataset="cifar10", method="baseline")
    assert precision.resolve(model) == Policy("bf16", ("net.body.conv1",), ("module Float32Conv2d",))
    assert isinstance(model.net.body.conv1, torch.nn.Conv2d)
    assert {"net.body.conv1.weight"} == {k for k in model.state_dict() if k.startswith("net.body.conv1")}
