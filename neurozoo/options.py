"""Typed options: what values a recipe, architecture or metric option takes, checked before any work.

An option's type comes from its default: ``bool``, ``int``, ``float`` (an int is accepted and made a
float), ``str``, or a list (a tuple or list default; the item type from its first item). An
:class:`Option` adds what a default cannot say: a range (``gt``/``ge``/``lt``/``le``, on the value
or on each item of a list), a set of ``choices``, and the type of an option whose default is None
(None is then also allowed). A scalar given for a list option is read as a one-element list (what
``--set eps=0.03`` means). Every value must be JSON (it is written to run.json and result files).

    check_options({"lr": "abc"}, {"lr": 0.1}, {"lr": Option(gt=0)}, "method 'baseline'")
    # ConfigError: method 'baseline': lr must be a number > 0, got 'abc'

:func:`signature_options` reads the defaults and annotations of a function (a metric's ``compute``,
an architecture's builder), so their options are checked the same way without declaring anything.
"""

from __future__ import annotations

import collections.abc
import inspect
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from neurozoo.errors import ConfigError

SCALARS = (bool, int, float, str)
_NAMES = {bool: "True or False", int: "an int", float: "a number", str: "a string"}
_PLURALS = {bool: "booleans", int: "ints", float: "numbers", str: "strings"}
_SEQUENCES = (list, tuple, collections.abc.Sequence)
_SHOWN = 60  # characters of a refused value shown in the message


@dataclass(frozen=True)
class Option:
    """The values an option takes beyond its default's type; None fields are not checked."""

    type: type | None = None  # bool, int, float, str or list; None: the default's
    item: type | None = None  # the item type of a list option
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    choices: tuple = ()
    nullable: bool = False  # None is allowed (always, when the default is None)

    def describe(self) -> str:
        """The rule as the end of "must be ...", e.g. "None or a number > 0"."""
        if self.type is list:
            text = f"a list of {_PLURALS.get(self.item, 'values')}" + self._range(" each")
        elif self.type in _NAMES:
            text = _NAMES[self.type] + self._range("")
        else:
            text = "a JSON value (number, string, true/false, None or a list)"
        if self.choices:
            text = f"one of {', '.join(repr(c) for c in self.choices)}"
        return f"None or {text}" if self.nullable and self.type is not None else text

    def _range(self, prefix: str) -> str:
        bounds = [f"{sign} {bound:g}" for sign, bound in ((">", self.gt), (">=", self.ge), ("<", self.lt),
                                                           ("<=", self.le)) if bound is not None]
        return f"{prefix} {' and '.join(bounds)}" if bounds else ""


def option_for(default: Any, declared: Option | None = None) -> Option:
    """``declared`` completed with the type (and nullability) its ``default`` implies."""
    option = declared or Option()
    if option.type is None:
        if isinstance(default, SCALARS):
            option = replace(option, type=type(default))
        elif isinstance(default, (list, tuple)):
            option = replace(option, type=list)
    if option.type is list and option.item is None and default:
        first = next(iter(default))
        option = replace(option, item=type(first) if isinstance(first, SCALARS) else None)
    if default is None:
        option = replace(option, nullable=True)
    return option


def check_value(name: str, value: Any, option: Option, owner: str) -> Any:
    """``value`` as the option takes it (int -> float, scalar -> [scalar]); ConfigError otherwise."""
    try:
        return _checked(value, option)
    except _Refused:
        shown = repr(value)
        shown = shown if len(shown) <= _SHOWN else shown[:_SHOWN] + "..."
        raise ConfigError(f"{owner}: {name} must be {option.describe()}, got {shown}") from None


def check_options(values: Mapping[str, Any], defaults: Mapping[str, Any],
                  declared: Mapping[str, Option], owner: str) -> dict[str, Any]:
    """Every value of ``values`` checked against its option (``defaults`` and ``declared`` by name).
    A name without a default is only checked to be JSON: reporting unknown names is the caller's
    business (a builder's ``**kwargs`` may take them)."""
    return {name: check_value(name, value, option_for(defaults.get(name), declared.get(name))
                              if name in defaults else Option(nullable=True), owner)
            for name, value in values.items()}


def signature_options(function: Callable, skip: int = 0) -> tuple[dict[str, Any], dict[str, Option]]:
    """(defaults, options) of the keyword parameters of ``function`` after the first ``skip``;
    an annotation (``int | None``, ``Sequence[float]``) gives the type where the default cannot."""
    try:
        parameters = list(inspect.signature(function, eval_str=True).parameters.values())
    except (NameError, TypeError, ValueError, SyntaxError):  # an annotation that cannot be evaluated here
        parameters = list(inspect.signature(function).parameters.values())
    defaults, options = {}, {}
    for parameter in parameters[skip:]:
        if parameter.default is inspect.Parameter.empty:
            continue
        defaults[parameter.name] = parameter.default
        declared = _from_annotation(parameter.annotation)
        if declared is not None:
            options[parameter.name] = declared
    return defaults, options


class _Refused(Exception):
    pass


def _checked(value: Any, option: Option) -> Any:
    if value is None:
        if option.nullable:
            return None
        raise _Refused
    if option.type is list:
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        return [_checked(item, Option(type=option.item, gt=option.gt, ge=option.ge, lt=option.lt, le=option.le,
                                      choices=option.choices)) for item in items]
    value = _typed(value, option.type)
    if option.choices and value not in option.choices:
        raise _Refused
    if not _in_range(value, option):
        raise _Refused
    return value


def _typed(value: Any, kind: type | None) -> Any:
    if kind is None:
        if not _is_json(value):
            raise _Refused
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)  # 1e3 means 1000
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif isinstance(value, kind):
        return value
    raise _Refused


def _in_range(value: Any, option: Option) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return True
    return ((option.gt is None or value > option.gt) and (option.ge is None or value >= option.ge)
            and (option.lt is None or value < option.lt) and (option.le is None or value <= option.le))


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_is_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _from_annotation(annotation: Any) -> Option | None:
    """An Option for ``X``, ``X | None``, ``Sequence[X]`` / ``list[X]`` / ``tuple[X, ...]`` (and their
    unions); None for anything else (the default alone then gives the type)."""
    if annotation in SCALARS:
        return Option(type=annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        nullable = type(None) in args
        found = {_from_annotation(a) for a in args if a is not type(None)}
        if len(found) == 1 and None not in found:
            return replace(found.pop(), nullable=nullable)
        return None
    if origin in _SEQUENCES and args and args[0] in SCALARS:
        return Option(type=list, item=args[0])
    return None
