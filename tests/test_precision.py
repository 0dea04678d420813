"""The precision policy: declarations become one policy, honoured in training and evaluation, and
recorded in run.json; the gradient-fidelity check tells a bf16-fragile computation from a sound one."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import neurozoo
from neurozoo import Architecture, Method, hookimpl, plugins, registry
from neurozoo.evaluation.context import EvalContext
from neurozoo.training import precision
from neurozoo.training.engine import build_engine
from neurozoo.training.fidelity import Float32Draws, Float64Reference, gradient_fidelity
from neurozoo.training.method import TrainingMethod
from neurozoo.training.precision import Policy

from tiny_training_plugin import DATASET, TinyTrainingPlugin


class FiniteDifference(nn.Module):
    """(lin(x + 1e-3) - lin(x)) / 1e-3: a step far below bf16's resolution of x (2**-8 relative),
    so under bf16 autocast the linear layer sees x + 1e-3 rounded to x or to its neighbour."""

    def __init__(self, features: int):
        super().__init__()
        self.lin = nn.Linear(features, features)

    def forward(self, x):
        return (self.lin(x + 1e-3) - self.lin(x)) * 1e3


class Float32FiniteDifference(FiniteDifference):
    precision = "fp32"


class FragileNet(nn.Module):
    """flatten -> linear -> finite difference (declared fp32 or not) -> linear."""

    def __init__(self, num_classes: int, in_chans: int = 3, declared: bool = False):
        super().__init__()
        self.stem = nn.Sequential(nn.Flatten(), nn.Linear(in_chans * 64, 16))
        self.difference = (Float32FiniteDifference if declared else FiniteDifference)(16)
        self.head = nn.Linear(16, num_classes)

    def embed(self, x):
        return self.difference(self.stem(x))

    def classify(self, z):
        return self.head(z)


class Float32Net(FragileNet):
    precision = "fp32"


class Backboned(nn.Module):
    """A net that calls a declared net's ``embed``, as BinEnc calls its backbone's."""

    def __init__(self, num_classes: int, in_chans: int = 3):
        super().__init__()
        self.backbone = Float32Net(num_classes, in_chans)
        self.head = nn.Linear(16, num_classes)

    def embed(self, x):
        return self.backbone.embed(x)

    def classify(self, z):
        return self.head(z)


class Float32CE(TrainingMethod):
    name = "float32_ce"
    precision = "fp32"


class PolicyPlugin:
    @hookimpl
    def register_architectures(self, register):
        register(Architecture("fragile_net", FragileNet, (3, 8, 8), "test: a bf16-fragile finite difference"))
        register(Architecture("float32_net", Float32Net, (3, 8, 8), "test: a net declared fp32"))
        register(Architecture("backboned_net", Backboned, (3, 8, 8), "test: a declared net as a backbone"))

    @hookimpl
    def register_methods(self, register):
        register(Method("float32_ce", Float32CE, description="test: cross-entropy declared fp32"))


@pytest.fixture(scope="module", autouse=True)
def test_plugins():
    plugins.register(TinyTrainingPlugin(), name="tiny_training")
    plugins.register(PolicyPlugin(), name="policy_plugin")
    yield
    plugins.unregister("policy_plugin")
    plugins.unregister("tiny_training")


def _batch(size: int = 32):
    data = registry.get_dataset(DATASET).load("train")
    return torch.utils.data.default_collate([data[i] for i in range(size)])


def _model(arch: str = "fragile_net", method: str = "baseline", **arch_kwargs):
    torch.manual_seed(0)
    return neurozoo.create_model(arch, dataset=DATASET, method=method, **arch_kwargs)


def test_declarations_resolve_to_one_policy():
    assert precision.resolve(_model()) == Policy("bf16")
    declared = precision.resolve(_model(declared=True))
    assert declared == Policy("bf16", ("net.difference",), ("module Float32FiniteDifference",))
    assert precision.resolve(_model("float32_net")) == Policy(None, declared_by=("architecture Float32Net",))
    # the method comes from the model's config, or is given (the engine gives its trainer)
    assert precision.resolve(_model(method="float32_ce")) == Policy(None, declared_by=("method float32_ce",))
    assert precision.resolve(_model(), method=Float32CE()).autocast is None
    # asking for fp32 turns autocast off whatever is declared
    assert precision.resolve(_model(declared=True), "fp32") == Policy(None)
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.resolve(_model(), "fp16")


def test_declared_modules_run_in_float32_under_autocast_only_inside_the_context():
    model = _model(declared=True)
    seen = {}
    model.net.difference.lin.register_forward_hook(lambda m, i, o: seen.update(lin_in=i[0].dtype, lin_out=o.dtype))
    model.net.stem[1].register_forward_hook(lambda m, i, o: seen.update(stem_out=o.dtype))
    x = torch.rand(4, 3, 8, 8)
    with precision.autocast(model, precision.resolve(model), "cpu"):
        model(x)
        assert torch.is_autocast_enabled("cpu")  # restored after the float32 region
    assert seen == {"stem_out": torch.bfloat16, "lin_in": torch.float32, "lin_out": torch.float32}
    assert "forward" not in model.net.difference.__dict__  # the region is gone with the context


def test_a_declared_net_used_as_a_backbone_is_a_float32_region_through_embed():
    model = _model("backboned_net")
    policy = precision.resolve(model)
    assert policy == Policy("bf16", ("net.backbone",), ("module Float32Net",))
    seen = {}
    model.net.backbone.stem[1].register_forward_hook(lambda m, i, o: seen.update(backbone=o.dtype))
    model.net.head.register_forward_hook(lambda m, i, o: seen.update(head=o.dtype))
    with precision.autocast(model, policy, "cpu"):
        model(torch.rand(4, 3, 8, 8))
    assert seen == {"backbone": torch.float32, "head": torch.bfloat16}
    assert not {"forward", "embed", "classify"} & set(model.net.backbone.__dict__)


def test_float32_region_is_left_cleanly_when_the_forward_raises():
    model = _model(declared=True)
    with pytest.raises(RuntimeError):
        with precision.autocast(model, precision.resolve(model), "cpu"):
            model(torch.rand(4, 5))  # wrong shape: the stem raises inside the region's caller
    with pytest.raises(RuntimeError):
        with precision.autocast(model, precision.resolve(model), "cpu"):
            model.net.difference(torch.rand(4, 5))  # raises inside the region itself
    assert not torch.is_autocast_enabled("cpu")
    assert "forward" not in model.net.difference.__dict__


def test_engine_trains_and_evaluates_under_the_policy_and_run_json_records_it(tmp_path):
    engine = build_engine("baseline", "fragile_net", DATASET, arch_kwargs={"declared": True}, device=torch.device("cpu"))
    assert engine.policy.fp32_modules == ("net.difference",)
    run = neurozoo.train("baseline", "fragile_net", DATASET, epochs=1, batch_size=64, limit=64, eval_limit=0,
                         arch_kwargs={"declared": True}, out=tmp_path / "run")
    recorded = json.loads((run / "run.json").read_text())["engine"]["precision_policy"]
    assert recorded == {"autocast": "bf16", "fp32_modules": ["net.difference"],
                        "declared_by": ["module Float32FiniteDifference"]}


def test_bf16_evaluation_follows_the_policy():
    model = _model("float32_net").eval()
    images = torch.rand(8, 3, 8, 8)
    bf16 = EvalContext(model, registry.get_dataset(DATASET), bf16=True).predict(images)
    fp32 = EvalContext(model, registry.get_dataset(DATASET)).predict(images)
    assert torch.equal(bf16, fp32)  # a net declared fp32 is evaluated in fp32 even when bf16 is asked for
    plain = _model().eval()
    assert not torch.equal(EvalContext(plain, registry.get_dataset(DATASET), bf16=True).predict(images),
                           EvalContext(plain, registry.get_dataset(DATASET)).predict(images))


def test_random_draws_do_not_depend_on_the_dtype():
    with Float32Draws():
        draws = {}
        for dtype in (torch.float32, torch.float64):
            torch.manual_seed(0)
            like = torch.zeros(1000, dtype=dtype)
            draws[dtype] = [torch.rand_like(like), torch.randn(1000, dtype=dtype), torch.empty_like(like).uniform_()]
    for single, double in zip(draws[torch.float32], draws[torch.float64]):
        assert double.dtype == torch.float64
        assert torch.equal(single.double(), double)


def test_float64_pass_keeps_casts_meant_to_leave_bf16_in_float64():
    with Float64Reference():
        assert torch.ones(2).dtype == torch.float64
        assert torch.ones(2, dtype=torch.float32).float().dtype == torch.float64
        assert torch.arange(3).float().dtype == torch.float64
    assert torch.get_default_dtype() == torch.float32
    assert torch.ones(2).float().dtype == torch.float32


def test_float64_pass_replays_the_engine_pass_top_k_selections_and_counts_changes():
    values = torch.tensor([[3.0, 1.0, 2.0, 0.5]])
    with Float32Draws() as engine_pass:
        kept = torch.topk(values, 2).indices
    assert engine_pass.selections[0].tolist() == kept.tolist() == [[0, 2]]
    near_tie = torch.tensor([[3.0, 2.0 + 1e-12, 2.0, 0.5]], dtype=torch.float64, requires_grad=True)
    with Float64Reference(engine_pass.selections) as reference:
        result = near_tie.topk(2, dim=-1)
    assert result.indices.tolist() == [[0, 2]]  # the engine's units, though float64 ranks unit 1 above 2
    assert result.values.tolist() == [[3.0, 2.0]] and result.values.dtype == torch.float64
    result.values.sum().backward()
    assert near_tie.grad.tolist() == [[1.0, 0.0, 1.0, 0.0]]
    assert (reference.selected, reference.selection_changes) == (2, 1)
    with pytest.raises(RuntimeError, match="more top-k selections"), Float64Reference([]):
        near_tie.topk(2)


def test_fidelity_check_fails_bf16_small_differences_and_passes_their_float32_region():
    batch = _batch()
    fragile = gradient_fidelity(_model(), TrainingMethod(), batch)
    assert "net.difference.lin" in {g.name for g in fragile.failures()}
    assert fragile.policy == Policy("bf16")
    declared = gradient_fidelity(_model(declared=True), TrainingMethod(), batch)
    assert not declared.failures(), declared
    compared = {g.name: g.cosine for g in declared.compared()}
    assert {"net.difference.lin", "net.head"} <= set(compared) and min(compared.values()) > 0.999
    # the same weights under a method declared fp32: no autocast at all
    whole = gradient_fidelity(_model(), Float32CE(), batch)
    assert whole.policy.autocast is None and not whole.failures(), whole
    # and the declared model under plain bf16 (the engine before the policy) fails again
    overridden = gradient_fidelity(_model(declared=True), TrainingMethod(), batch, policy=Policy("bf16"))
    assert overridden.failures()


def test_fidelity_report_rules_for_unused_and_negligible_groups():
    model = _model()
    model.net.stem.append(nn.ReLU())
    with torch.no_grad():
        model.net.stem[1].bias.fill_(-1e3)  # every unit dead: the stem's gradient is exactly 0
    model.net.unused = nn.Linear(2, 2)  # never called: no gradient in either pass
    report = gradient_fidelity(model, TrainingMethod(), _batch(), precision="fp32")
    status = {g.name: g.status for g in report.groups}
    assert status["net.stem.1"] == "negligible"
    assert status["net.unused"] == "unused"
    assert status["net.head"] == "compared"
    assert not report.failures(), report
