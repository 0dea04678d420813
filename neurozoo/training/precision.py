"""The precision policy: what runs in bf16 autocast and what must stay float32.

The engine trains in bf16 autocast by default (weights and optimiser stay float32). That is
exact enough for convolutional backbones, not for computations made of long chains of small
updates (Kuramoto phase steps) or of hard selections that bf16 rounding ties (top-k cuts);
``neurozoo.training.fidelity`` measures which is which. Methods and architectures declare what
bf16 cannot compute, with one class attribute, ``precision = "fp32"``:

- on a :class:`~neurozoo.training.method.TrainingMethod` subclass: the method's whole step
  (forward and losses) runs without autocast;
- on an architecture's net (the class its builder returns): the model runs without autocast,
  in training and in evaluation;
- on any other ``nn.Module`` class: every call of such a module inside a net runs with autocast
  off and its floating-point inputs cast to float32 (its output is float32; what follows it
  autocasts again). The region covers the module's ``forward`` (``module(x)``) and, for a net of
  the neurozoo protocol used inside another (a backbone), its ``embed`` and ``classify``; other
  methods called directly are not covered.

:func:`resolve` turns the declarations of a model and its method into the effective
:class:`Policy`; :func:`autocast` is the one context that honours it. The engine's training step
and test evaluation and ``neurozoo.evaluate`` (``bf16=True``) all enter it, so a model is
evaluated in the precision it was trained in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

PRECISIONS = ("bf16", "fp32")
FP32 = "fp32"


@dataclass(frozen=True)
class Policy:
    """The effective precision of a run.

    autocast: "bf16", or None (no autocast: everything in float32).
    fp32_modules: qualified names, in the model, of the modules that run in float32 under autocast.
    declared_by: the declarations that shaped it, e.g. ``("method ffcl",)``, ``("module HaHBlock",)``.
    """

    autocast: str | None
    fp32_modules: tuple[str, ...] = ()
    declared_by: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        """The JSON form stored in ``run.json`` (engine settings)."""
        return {"autocast": self.autocast, "fp32_modules": list(self.fp32_modules),
                "declared_by": list(self.declared_by)}

    def describe(self) -> str:
        """One line for people: "bf16 autocast, float32 in 6 modules (module HaHBlock)"."""
        if self.autocast is None:
            why = f" ({', '.join(self.declared_by)})" if self.declared_by else ""
            return f"fp32{why}"
        if not self.fp32_modules:
            return f"{self.autocast} autocast"
        return (f"{self.autocast} autocast, float32 in {len(self.fp32_modules)} module(s) "
                f"({', '.join(self.declared_by)})")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def declares_fp32(owner: Any) -> bool:
    """True when the class of ``owner`` (or ``owner``, a class) says ``precision = "fp32"``."""
    cls = owner if isinstance(owner, type) else type(owner)
    return getattr(cls, "precision", None) == FP32


def resolve(model: nn.Module, precision: str = "bf16", method: Any = None) -> Policy:
    """The policy of ``model`` (a ``NeurozooModel`` or any module) trained or evaluated by
    ``method`` (a trainer class or instance; default: the method in ``model.config``) when
    ``precision`` is asked for ("fp32" turns autocast off whatever is declared)."""
    check_precision(precision)
    if precision == FP32:
        return Policy(None)
    if method is None:
        method = _method_of(model)
    if method is not None and declares_fp32(method):
        return Policy(None, declared_by=(f"method {method.name}",))
    net = getattr(model, "net", model)
    if declares_fp32(net):
        return Policy(None, declared_by=(f"architecture {type(net).__name__}",))
    names, classes = [], []
    for name, module in model.named_modules():
        if declares_fp32(module) and not any(name.startswith(outer + ".") for outer in names):
            names.append(name)
            classes.append(f"module {type(module).__name__}")
    return Policy(precision, tuple(names), tuple(dict.fromkeys(classes)))


def _method_of(model: nn.Module):
    config = getattr(model, "config", None)
    if not isinstance(config, dict) or "method" not in config:
        return None
    from neurozoo import registry

    return registry.get_method(config["method"]).trainer


@contextlib.contextmanager
def autocast(model: nn.Module, policy: Policy, device: torch.device | str) -> Iterator[None]:
    """Run the block under ``policy``: bf16 autocast on ``device``'s type, with the policy's
    float32 modules of ``model`` running as float32; nothing at all for a float32 policy."""
    if policy.autocast is None:
        yield
        return
    device_type = torch.device(device).type
    modules = [model.get_submodule(name) for name in policy.fp32_modules]
    with torch.autocast(device_type, dtype=torch.bfloat16), _float32_regions(modules, device_type):
        yield


# the methods a float32 region covers: forward (what module(x) calls) and the net protocol's entry points
REGION_METHODS = ("forward", "embed", "classify")
_NOT_SET = object()


@contextlib.contextmanager
def _float32_regions(modules: list[nn.Module], device_type: str) -> Iterator[None]:
    """Make every call of ``modules`` run without autocast on float32 inputs, for the block only.

    Each bound method of ``REGION_METHODS`` the module has is shadowed by an instance attribute
    and restored afterwards; unlike a pre-hook/post-hook pair this also covers methods that are not
    ``forward`` and leaves autocast right when the call raises.
    """
    saved = [(module, name, module.__dict__.get(name, _NOT_SET))
             for module in modules for name in REGION_METHODS if hasattr(module, name)]
    for module, name, _ in saved:
        setattr(module, name, _float32_call(getattr(module, name), device_type))
    try:
        yield
    finally:
        for module, name, previous in saved:
            if previous is _NOT_SET:
                delattr(module, name)
            else:
                setattr(module, name, previous)


def _float32_call(method, device_type: str):
    def run(*args, **kwargs):
        with torch.autocast(device_type, enabled=False):
            return method(*_to_float32(args), **_to_float32(kwargs))

    return run


def _to_float32(value):
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, list):
        return [_to_float32(v) for v in value]
    if isinstance(value, tuple):
        cast = [_to_float32(v) for v in value]
        return type(value)(*cast) if hasattr(value, "_fields") else tuple(cast)
    if isinstance(value, dict):
        return {k: _to_float32(v) for k, v in value.items()}
    return value
