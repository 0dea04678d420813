"""Gradient fidelity: how close the engine's gradients are to the float64 gradients of the same step.

    from neurozoo.training.fidelity import engine_fidelity, gradient_fidelity
    report = gradient_fidelity(model, trainer, batch)   # the engine's defaults: bf16 policy, channels_last
    report = engine_fidelity(engine, batch)              # an engine's model, method, phase and settings
    print(report)                                        # one line per parameter group
    assert not report.failures(), report

:func:`gradient_fidelity` computes one training step's gradients twice, through the engine's own
forward and backward (:meth:`~neurozoo.training.engine.Engine.gradients`): once as the engine
runs it (the precision policy of the method and architecture, channels_last) and once on a
float64 copy of the model and the batch without autocast. In that pass float64 is the default
dtype and ``tensor.float()`` gives float64, so code that casts to float32 to leave bf16 (a loss
computed "in fp32") stays in float64 there. Both passes start from the same weights, see the same
batch in the same memory layout, and draw the same random numbers: each pass runs under a forked
random stream seeded alike, and random draws are made in float32 and cast to the dtype asked for
(torch's float64 generator consumes the stream differently, so a float64 ``rand_like`` would
otherwise draw other numbers than the float32 one).

Hard selections are replayed the same way: the units a ``torch.topk`` picks in the engine's pass are
the units it returns in the float64 pass (values read from float64 tensors at those indices). A
forward built on top-k cuts (HaH) is piecewise: where two values nearly tie, float32 and float64 can
keep different units, and the two gradients then belong to different pieces, which says nothing about
the precision of either. How many units the float64 pass would have chosen differently is reported
(``selection_changes`` of ``selected`` units), so the discontinuity stays visible.

Parameter groups are layers: the parameters a module holds itself (a conv's weight and bias, a
BatchNorm's scale and shift), named after the module (``net.body.layer1.0.bn1``; a method's
extra modules under ``extra.``). Per group the report gives the cosine between the two
gradients and the norm ratio ``|g_engine| / |g_float64|``. Layers rather than single tensors:
a BatchNorm shift alone is a few dozen numbers whose gradient partly cancels, and its cosine
under plain bf16 sits at 0.989-0.990 on a ResNet-18 at batch 8 while the layer's is 0.991+.

Negligible gradients: a group whose float64 gradient norm is at most ``negligible`` (default
1e-6) times the total float64 gradient norm has no direction worth comparing; it passes when its
engine gradient is that small too and fails otherwise (noise where the exact gradient is ~0).
A group that gets no gradient in either pass (unused in the step) passes.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from neurozoo.training.engine import Engine
from neurozoo.training.precision import Policy

MIN_COSINE = 0.99
NORM_RATIO = (0.9, 1.1)
NEGLIGIBLE = 1e-6


@dataclass(frozen=True)
class GroupFidelity:
    """One parameter group's agreement. ``status``: "compared", "negligible" (both gradients
    tiny), "unused" (no gradient in either pass) or "one-sided" (tiny exact gradient, large
    engine gradient)."""

    name: str
    status: str
    cosine: float | None
    norm_ratio: float | None
    norm: float  # of the float64 gradient

    def passes(self, min_cosine: float = MIN_COSINE, norm_ratio: tuple[float, float] = NORM_RATIO) -> bool:
        if self.status == "compared":
            return self.cosine >= min_cosine and norm_ratio[0] <= self.norm_ratio <= norm_ratio[1]
        return self.status in ("negligible", "unused")


@dataclass(frozen=True)
class FidelityReport:
    """Per-group agreement of the engine's gradient with the float64 gradient (see module doc)."""

    groups: tuple[GroupFidelity, ...]
    policy: Policy
    selected: int = 0  # units kept by torch.topk in the step (replayed in the float64 pass)
    selection_changes: int = 0  # of those, units the float64 pass would have replaced by others

    def failures(self, min_cosine: float = MIN_COSINE,
                 norm_ratio: tuple[float, float] = NORM_RATIO) -> list[GroupFidelity]:
        return [g for g in self.groups if not g.passes(min_cosine, norm_ratio)]

    def compared(self) -> list[GroupFidelity]:
        return [g for g in self.groups if g.status == "compared"]

    def worst(self) -> GroupFidelity:
        """The compared group with the lowest cosine."""
        return min(self.compared(), key=lambda g: g.cosine)

    def summary(self) -> str:
        ratios = [g.norm_ratio for g in self.compared()]
        worst = self.worst()
        selections = (f", top-k selections replayed: {self.selection_changes} of {self.selected:,} kept units "
                      "differ in float64" if self.selected else "")
        return (f"{self.policy.describe()}: min cosine {worst.cosine:.4f} ({worst.name}), norm ratio "
                f"{min(ratios):.3f}-{max(ratios):.3f} over {len(ratios)} of {len(self.groups)} groups, "
                f"{len(self.failures())} failing{selections}")

    def __str__(self) -> str:
        width = max(len(g.name) for g in self.groups)
        lines = [self.summary()]
        for g in self.groups:
            values = (f"cosine {g.cosine:8.5f}  norm ratio {g.norm_ratio:7.4f}" if g.status == "compared"
                      else g.status)
            lines.append(f"  {g.name:<{width}}  {values}  |g64| {g.norm:.3e}{'' if g.passes() else '  FAIL'}")
        return "\n".join(lines)


def gradient_fidelity(model: nn.Module, method, batch, *, precision: str = "bf16", channels_last: bool = True,
                      device: str | torch.device = "cpu", phase_index: int = 0, epoch: int = 0, step: int = 0,
                      policy: Policy | None = None, seed: int = 0, negligible: float = NEGLIGIBLE) -> FidelityReport:
    """Compare the engine's gradients of one step of ``method`` (a trainer instance) on ``model``
    (a ``NeurozooModel``) and ``batch`` (a collated batch) with the float64 gradients.

    ``precision`` and ``channels_last`` are the engine settings under test (default: the
    engine's defaults); ``policy`` replaces the policy they resolve to (e.g. ``Policy("bf16")``:
    everything in bf16, ignoring what the method and architecture declare). ``phase_index``,
    ``epoch`` and ``step`` place the step in the recipe (e.g. NM-Hebb's metric phase). ``model``
    and ``method`` are not changed: both passes run on copies, in training mode.
    """
    device = torch.device(device)
    engine = _copy_engine(model, method, device, precision, channels_last, torch.float32, phase_index, epoch, step)
    if policy is not None:
        engine.policy = policy
    # the same memory layout too: rand_like fills memory in order, so the layout decides which
    # element gets which number
    reference = _copy_engine(model, method, device, "fp32", channels_last, torch.float64, phase_index, epoch, step)
    engine_pass = Float32Draws()
    grads = _layer_gradients(engine, batch, seed, engine_pass)
    reference_pass = Float64Reference(engine_pass.selections)
    exact = _layer_gradients(reference, _to_float64(batch), seed, reference_pass)
    total = math.sqrt(sum(float(g.square().sum()) for g in exact.values() if g is not None))
    groups = tuple(_compare(name, grads[name], exact[name], negligible * total) for name in exact)
    return FidelityReport(groups, engine.policy, reference_pass.selected, reference_pass.selection_changes)


def engine_fidelity(engine: Engine, batch, **options) -> FidelityReport:
    """:func:`gradient_fidelity` of ``engine``'s model and method at its current weights, phase,
    epoch and step, under its settings; ``options`` as in :func:`gradient_fidelity`."""
    settings = {"precision": engine.precision, "channels_last": engine.channels_last, "device": engine.device,
                "phase_index": engine.phase_index, "epoch": engine.epoch, "step": engine.step_count}
    return gradient_fidelity(engine.net, engine.trainer, batch, **{**settings, **options})


def _copy_engine(model, method, device, precision, channels_last, dtype, phase_index, epoch, step) -> Engine:
    trainer = copy.deepcopy(method)
    extra = trainer.extra_modules()
    if extra is not None:
        extra.to(dtype)
    engine = Engine(trainer, copy.deepcopy(model).to(dtype), device=device, precision=precision,
                    channels_last=channels_last)
    engine.phase_index, engine.epoch, engine.step_count = phase_index, epoch, step
    engine.train_mode()
    return engine


def _layer_gradients(engine: Engine, batch, seed: int, mode: TorchFunctionMode) -> dict[str, torch.Tensor | None]:
    """Each layer's gradient (its own parameters' gradients, flattened, float64) from one step run
    under ``mode``; None when none of its parameters got one."""
    devices = [engine.device] if engine.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), mode:
        torch.manual_seed(seed)
        engine.gradients(batch)
    parts = [("", engine.net)] + ([("extra.", engine.extra)] if engine.extra is not None else [])
    layers = {}
    for prefix, root in parts:
        for name, module in root.named_modules(prefix=prefix.rstrip(".")):
            params = list(module.parameters(recurse=False))
            if params and any(p.grad is not None for p in params):
                layers[name] = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten().double()
                                          for p in params])
            elif params:
                layers[name] = None
    return layers


def _compare(name: str, grad: torch.Tensor | None, exact: torch.Tensor | None, tiny: float) -> GroupFidelity:
    if grad is None and exact is None:
        return GroupFidelity(name, "unused", None, None, 0.0)
    grad = torch.zeros_like(exact) if grad is None else grad
    exact = torch.zeros_like(grad) if exact is None else exact
    norm, exact_norm = float(grad.norm()), float(exact.norm())
    if exact_norm <= tiny:
        return GroupFidelity(name, "negligible" if norm <= tiny else "one-sided", None, None, exact_norm)
    if norm == 0.0:
        return GroupFidelity(name, "compared", 0.0, 0.0, exact_norm)
    cosine = float((grad @ exact) / (norm * exact_norm))
    return GroupFidelity(name, "compared", cosine, norm / exact_norm, exact_norm)


def _to_float64(batch):
    if isinstance(batch, torch.Tensor):
        return batch.double() if batch.is_floating_point() else batch
    return type(batch)(_to_float64(v) for v in batch)


class Float32Draws(TorchFunctionMode):
    """Random draws (``rand``, ``randn``, their ``_like`` forms, ``uniform_``, ``normal_``) made in
    float32 and cast to the dtype asked for, so passes in different dtypes draw the same numbers.
    (Dropout masks come from ``bernoulli_``, whose draws do not depend on the dtype.) The indices
    of every ``topk`` are kept in ``selections``, in call order, for the float64 pass to replay."""

    FACTORIES = (torch.rand, torch.randn)
    LIKE = (torch.rand_like, torch.randn_like)
    IN_PLACE = (torch.Tensor.uniform_, torch.Tensor.normal_)
    TOPK = (torch.topk, torch.Tensor.topk)

    def __init__(self):
        super().__init__()
        self.selections: list[torch.Tensor] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in self.TOPK:
            return self._topk(func, args, kwargs)
        if func in self.FACTORIES or func in self.LIKE:
            dtype = kwargs.get("dtype") or (args[0].dtype if func in self.LIKE else torch.get_default_dtype())
            if dtype.is_floating_point and dtype != torch.float32:
                return func(*args, **{**kwargs, "dtype": torch.float32}).to(dtype)
        elif func in self.IN_PLACE and args[0].dtype != torch.float32:
            target = args[0]
            with torch.no_grad():
                return target.copy_(func(torch.empty_like(target, dtype=torch.float32), *args[1:], **kwargs))
        return func(*args, **kwargs)

    def _topk(self, func, args, kwargs):
        result = func(*args, **kwargs)
        self.selections.append(result.indices)
        return result


def _topk_dim(args, kwargs) -> int:
    """The dimension of a ``topk(input, k, dim=-1, largest=True, sorted=True)`` call."""
    return kwargs.get("dim", args[2] if len(args) > 2 else -1)


class Float64Reference(Float32Draws):
    """The float64 pass: float64 is the default dtype and ``tensor.float()`` gives float64 (a cast
    meant to leave bf16 keeps full precision), with :class:`Float32Draws`' random numbers."""

    def __init__(self, selections: list[torch.Tensor] = ()):
        super().__init__()
        self._replay = list(selections)
        self.selected = self.selection_changes = 0

    def _topk(self, func, args, kwargs):
        """The engine pass's units, with this pass's values; counts the units it would have changed."""
        if not self._replay:
            raise RuntimeError("the float64 pass made more top-k selections than the engine pass")
        source, dim = args[0], _topk_dim(args, kwargs)
        indices = self._replay.pop(0).to(source.device)
        own = func(*args, **kwargs).indices
        kept = torch.zeros_like(source, dtype=torch.bool).scatter_(dim, indices, True)
        self.selected += indices.numel()
        self.selection_changes += int((kept & ~torch.zeros_like(kept).scatter_(dim, own, True)).sum())
        return torch.return_types.topk((source.gather(dim, indices), indices))

    def __enter__(self):
        self._default = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        return super().__enter__()

    def __exit__(self, *exc):
        torch.set_default_dtype(self._default)
        return super().__exit__(*exc)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is torch.Tensor.float:
            return args[0].to(torch.float64)
        return super().__torch_function__(func, types, args, kwargs)
