"""A model that ``create_model`` returns runs on its input size, or is refused when it is built.

:func:`build_checked` (``create_model``'s last step) checks the architecture's options against its
builder's signature (types from the defaults, as recipe options are; see :mod:`neurozoo.options`),
reports a builder that rejects its options (a negative width, ...) as a :class:`ConfigError` naming
the architecture and the options, and runs the built model on one zero image of the input size.
An architecture that cannot take a dataset's images (``mlp``, made for 28x28 digits, on 3x32x32
CIFAR-10) is then refused at once, with the fix, instead of failing after the data is loaded.

The dry run is in eval mode (no batch statistics move), without gradients, under a forked random
stream (a model that draws random numbers in its forward leaves the training stream as it was).
``load`` does not call it: a checkpoint's config was checked when its model was built for training.
"""

from __future__ import annotations

from typing import Any

import torch

from neurozoo import registry
from neurozoo.errors import ConfigError
from neurozoo.options import check_options, signature_options

# what a builder or a forward pass raises for options or inputs it cannot take (torch: shapes, sizes)
BUILD_ERRORS = (RuntimeError, ValueError, AssertionError, IndexError)


def build_checked(config: dict[str, Any]):
    """The model ``config`` describes (:func:`neurozoo.model.model_from_config`), checked to run."""
    from neurozoo.model import model_from_config  # neurozoo.model imports this module

    arch = config["arch"]
    arch_kwargs = check_arch_options(arch, config["arch_kwargs"])
    config = {**config, "arch_kwargs": arch_kwargs}
    try:
        model = model_from_config(config)
    except ConfigError:
        raise
    except BUILD_ERRORS as exc:
        raise ConfigError(
            f"architecture {arch!r} cannot be built with options {arch_kwargs}: {_first_line(exc)}; "
            f"`neurozoo info {arch}` shows its builder"
        ) from None
    check_runs(model, registry.get_architecture(arch).input_size)
    return model


def check_arch_options(arch: str, arch_kwargs: dict[str, Any]) -> dict[str, Any]:
    """``arch_kwargs`` checked against the builder's signature (types from its defaults)."""
    defaults, declared = signature_options(registry.get_architecture(arch).builder)
    return check_options(arch_kwargs, defaults, declared, f"architecture {arch!r}")


def check_runs(model, made_for: tuple[int, ...]) -> None:
    """ConfigError unless ``model`` maps one zero image of its configured input size to logits."""
    config = model.config
    size = tuple(config["input_size"])
    was_training = model.training
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            model.eval()
            model(torch.zeros(1, *size))
    except BUILD_ERRORS as exc:
        shown = "x".join(str(v) for v in size)
        of_dataset = f" (dataset {config['dataset']!r})" if config.get("dataset") else ""
        raise ConfigError(
            f"architecture {config['arch']!r} cannot run on {shown} inputs{of_dataset}: {_first_line(exc)}; "
            f"choose an architecture for that size (`neurozoo list --kind architectures`; {config['arch']!r} "
            f"is made for {'x'.join(str(v) for v in made_for)}) or set its size options (`neurozoo info "
            f"{config['arch']}`, --arch-set)"
        ) from None
    finally:
        model.train(was_training)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
