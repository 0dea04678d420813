"""The published checkpoint format: a folder laid out like a Hub model repo.

    model.safetensors   weights only (never pickle)
    config.json         the schema below; rebuilds the module tree
    README.md           the model card (optional for loading)

Writes are atomic per file (temporary file + rename), so an interrupted save never leaves a
half-written checkpoint under the final name. Loads are strict: missing or unexpected keys fail,
and the config is checked against the weights it describes: the parameters are stored in the
config's ``dtype`` and the normalisation buffers hold its ``mean`` and ``std``. ``load`` always
returns float32 modules (a float16/bfloat16 file is cast when it is loaded).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from neurozoo.errors import CheckpointError, ConfigError, NeurozooError
from neurozoo.model import FORMAT_VERSION, NeurozooModel, model_from_config
from neurozoo.records import STORAGE_DTYPES, TASKS

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
CARD_NAME = "README.md"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
# what a builder raises for options it cannot take (torch reports bad sizes as RuntimeError)
_BUILD_ERRORS = (TypeError, ValueError, RuntimeError, AssertionError, IndexError, KeyError)

# field -> (accepted types, required)
CONFIG_SCHEMA: dict[str, tuple[tuple[type, ...], bool]] = {
    "format_version": ((int,), True),
    "arch": ((str,), True),
    "arch_kwargs": ((dict,), True),
    "method": ((str,), True),
    "method_kwargs": ((dict,), False),
    "num_classes": ((int,), True),
    "input_size": ((list,), True),
    "mean": ((list,), True),
    "std": ((list,), True),
    "class_names": ((list,), True),
    "dtype": ((str,), True),
    "task": ((str,), False),
    "dataset": ((str, type(None)), False),
    "neurozoo_version": ((str,), False),
}
CONFIG_DEFAULTS = {"method_kwargs": {}, "task": "multiclass", "dataset": None}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _value_problems(config: dict[str, Any]) -> list[str]:
    """What is wrong with the values of a config whose fields have the schema's types."""
    problems = []
    if config["format_version"] < 1:
        problems.append(f"format_version must be >= 1, got {config['format_version']}")
    elif config["format_version"] > FORMAT_VERSION:
        problems.append(
            f"format_version {config['format_version']} is newer than this neurozoo reads "
            f"({FORMAT_VERSION}); upgrade neurozoo"
        )
    if config["dtype"] not in STORAGE_DTYPES:
        problems.append(f"field 'dtype' must be one of {list(STORAGE_DTYPES)}, got {config['dtype']!r}")
    if config.get("task", CONFIG_DEFAULTS["task"]) not in TASKS:
        problems.append(f"field 'task' must be one of {list(TASKS)}, got {config['task']!r}")
    if config["num_classes"] < 1:
        problems.append(f"field 'num_classes' must be >= 1, got {config['num_classes']}")
    if not all(isinstance(c, str) for c in config["class_names"]):
        problems.append("field 'class_names' must hold strings")
    elif len(config["class_names"]) != config["num_classes"]:
        problems.append(f"{len(config['class_names'])} class_names for num_classes={config['num_classes']}")
    size = config["input_size"]
    if len(size) != 3 or not all(_is_int(v) and v > 0 for v in size):
        problems.append(f"field 'input_size' must be [channels, height, width], got {size!r}")
    elif len(config["mean"]) != size[0] or len(config["std"]) != size[0]:
        problems.append(f"fields 'mean' and 'std' need {size[0]} values (one per channel)")
    if not all(_is_number(v) for v in config["mean"]):
        problems.append(f"field 'mean' must hold finite numbers, got {config['mean']!r}")
    if not all(_is_number(v) and v > 0 for v in config["std"]):
        problems.append(f"field 'std' must hold finite numbers > 0, got {config['std']!r}")
    return problems


def validate_config(config: Any, source: str = "config") -> dict[str, Any]:
    """Check ``config`` against the schema (fields, types, values); return it with optional fields filled in."""
    if not isinstance(config, dict):
        raise ConfigError(f"{source}: expected a JSON object, got {type(config).__name__}")
    unknown = sorted(set(config) - set(CONFIG_SCHEMA), key=str)
    if unknown:
        raise ConfigError(
            f"{source} has fields this neurozoo does not know: {unknown} (known: {sorted(CONFIG_SCHEMA)}); "
            "remove them, or upgrade neurozoo if a newer version wrote the checkpoint"
        )
    problems = []
    for key, (types, required) in CONFIG_SCHEMA.items():
        if key not in config:
            if required:
                problems.append(f"missing field {key!r}")
            continue
        value = config[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            expected = " or ".join(t.__name__ for t in types)
            problems.append(f"field {key!r} must be {expected}, got {type(value).__name__} {value!r}")
    if not problems:
        problems = _value_problems(config)
    if problems:
        raise ConfigError(f"{source} does not follow the neurozoo config schema: " + "; ".join(problems))
    return {**CONFIG_DEFAULTS, **config}


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes the file private; a checkpoint is not
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _weights_bytes(model, dtype: str = "float32") -> bytes:
    """The model.safetensors bytes: parameters stored as ``dtype``; buffers (normalisation, BatchNorm
    statistics) as they are, small and exact."""
    import torch
    from safetensors.torch import save

    parameters = {name for name, _ in model.named_parameters(remove_duplicate=False)}
    # contiguous copies: channels_last and tied tensors cannot be serialised as they are
    state = {k: (v.to(getattr(torch, dtype)) if k in parameters else v).detach().to("cpu").contiguous().clone()
             for k, v in model.state_dict().items()}
    return save(state, metadata={"format": "pt"})


def save(
    model: NeurozooModel,
    folder: str | os.PathLike,
    *,
    card: str | None = None,
    config_overrides: dict[str, Any] | None = None,
    dtype: str | None = None,
) -> Path:
    """Write ``model`` in the published format to ``folder`` (created if needed); return it.

    ``config_overrides`` updates ``model.config`` (e.g. class names of a custom dataset); the
    result is schema-checked before anything is written. ``dtype="float16"`` or ``"bfloat16"``
    stores the parameters in half the bytes (config.json says which; ``load`` returns float32
    modules); check the accuracy first with :func:`neurozoo.half_size.check_half_size`.
    """
    if not isinstance(model, NeurozooModel):
        raise TypeError(
            f"neurozoo.save needs a model from neurozoo.create_model or neurozoo.load, got {type(model).__name__}"
        )
    config = validate_config({**model.config, **(config_overrides or {}), **({"dtype": dtype} if dtype else {})},
                             "save()")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / WEIGHTS_NAME, _weights_bytes(model, config["dtype"]))
    atomic_write_bytes(folder / CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode())
    if card is not None:
        atomic_write_bytes(folder / CARD_NAME, card.encode())
    model.config = config
    return folder


def read_config(folder: str | os.PathLike) -> dict[str, Any]:
    path = Path(folder) / CONFIG_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{folder} has no {CONFIG_NAME}: not a neurozoo checkpoint folder") from None
    except OSError as exc:  # a folder in its place, no permission
        raise CheckpointError(f"{path} cannot be read ({exc.strerror or exc})") from None
    try:
        config = json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, nesting too deep
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise ConfigError(f"{path} is not valid JSON ({reason}); re-download or re-save the checkpoint") from None
    return validate_config(config, str(path))


def _refuse_pickles(folder: Path) -> None:
    weights = folder / WEIGHTS_NAME
    if weights.exists():
        return
    pickled = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickled:
        raise CheckpointError(
            f"{folder} holds {pickled} but no {WEIGHTS_NAME}: neurozoo never loads pickle files "
            "(they can run arbitrary code). Convert with safetensors.torch.save_file(state_dict, "
            f"'{WEIGHTS_NAME}') from a trusted environment."
        )
    raise CheckpointError(f"{folder} has no {WEIGHTS_NAME}")


def load_state(path: str | os.PathLike, device: str = "cpu") -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({exc}); it may be truncated: delete it and fetch it again"
        ) from None


def _check_config_against_weights(config: dict[str, Any], state: dict, model: NeurozooModel, path: Path) -> None:
    """Refuse a config that describes other weights: the parameters must be stored in its ``dtype``
    (floating buffers in it or in float32) and the normalisation buffers must hold its mean and std."""
    import torch

    dtype = getattr(torch, config["dtype"])
    parameters = {name for name, _ in model.named_parameters()}
    for name, tensor in sorted(state.items()):
        allowed = (dtype,) if name in parameters else (dtype, torch.float32)
        if tensor.is_floating_point() and tensor.dtype not in allowed:
            raise CheckpointError(
                f"{path} stores {name} as {str(tensor.dtype).removeprefix('torch.')}, but its config.json says "
                f"dtype {config['dtype']!r}: the config does not describe these weights; fix it or re-save"
            )
    for field in ("mean", "std"):
        stored = state.get(f"normalize.{field}")
        if stored is None or not stored.is_floating_point():
            continue  # the strict load reports it
        # the buffer is built in float32 (Normalize) and cast with the model, so round the same way
        expected = torch.tensor(config[field], dtype=torch.float32).to(stored.dtype)
        if stored.numel() != expected.numel() or not torch.equal(stored.flatten(), expected):
            raise CheckpointError(
                f"{path.parent / CONFIG_NAME} gives {field} {config[field]}, but the weights' normalisation holds "
                f"{[round(v, 6) for v in stored.flatten().tolist()]}: the config does not describe these weights; "
                "fix it or re-save"
            )


def load_folder(folder: str | os.PathLike, device: str = "cpu") -> NeurozooModel:
    """Build the model a checkpoint folder describes, check and load its weights strictly, eval mode."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder")
    config = read_config(folder)
    _refuse_pickles(folder)
    try:
        model = model_from_config(config)
    except NeurozooError:
        raise
    except _BUILD_ERRORS as exc:  # options from a file that the builder or the method cannot take
        raise ConfigError(
            f"{folder / CONFIG_NAME}: arch {config['arch']!r} (options {config['arch_kwargs']}) with method "
            f"{config['method']!r} (options {config['method_kwargs']}) cannot be built: {type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        ) from None
    state = load_state(folder / WEIGHTS_NAME)
    _check_config_against_weights(config, state, model, folder / WEIGHTS_NAME)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise CheckpointError(f"{folder / WEIGHTS_NAME} does not fit arch {config['arch']!r}: {exc}") from None
    if missing or unexpected:
        raise CheckpointError(
            f"{folder / WEIGHTS_NAME} does not match arch {config['arch']!r} (method {config['method']!r}): "
            f"missing keys {missing[:5]}{'...' if len(missing) > 5 else ''}, unexpected keys "
            f"{unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
        )
    return model.to(device).eval()
