"""``neurozoo.evaluate``: resolve the model, check everything up front, run the metrics, add provenance.

Every check that can fail (metric and dataset names, split, task, what each metric requires of the
model, metric options, class count and input size) runs before any data is loaded, so a bad
request fails at once with the reason and the fix.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import inspect
import itertools
import math
import os
import platform
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from neurozoo import __version__, registry, zoo
from neurozoo.checkpoint import WEIGHTS_NAME, load_folder, sha256_file
from neurozoo.errors import ConfigError
from neurozoo.evaluation.context import EvalContext, requirements_of
from neurozoo.evaluation.onnx_model import OnnxModel
from neurozoo.model import NeurozooModel
from neurozoo.options import signature_options

DEFAULT_METRIC = {"multiclass": "top1", "multilabel": "exact_set"}
# distributions whose versions go into every result (scikit-learn etc. by distribution name), after neurozoo's
VERSIONED = ("torch", "torchvision", "timm", "torchattacks", "scikit-learn", "numpy", "onnxruntime")


@dataclass
class Target:
    """The model under evaluation and where it came from."""

    model: Any
    source: str
    sha256: str | None  # of model.safetensors, or of the .onnx file; None for an in-memory model
    dataset: str | None  # the dataset it was trained on, if known
    num_classes: int
    input_size: tuple[int, ...]


def open_model(model: Any, device: str | torch.device | None) -> Target:
    """Accept a NeurozooModel, an OnnxModel, a ``.onnx`` path, or anything ``neurozoo.load`` takes."""
    if isinstance(model, NeurozooModel):
        config = model.config
        return Target(model, f"in-memory {config['arch']} ({config['method']})", None, config.get("dataset"),
                      config["num_classes"], tuple(config["input_size"]))
    if isinstance(model, nn.Module):
        raise TypeError(
            f"neurozoo.evaluate needs a neurozoo model, got {type(model).__name__}: build it with "
            "neurozoo.create_model or load it with neurozoo.load"
        )
    if isinstance(model, OnnxModel):
        return Target(model, str(model.path), sha256_file(model.path), model.metadata.dataset,
                      model.num_classes, model.metadata.input_size)
    text = os.fspath(model)
    if text.endswith(".onnx"):
        return open_model(OnnxModel(text), device)
    folder = zoo.resolve(model)  # a PathLike stays a path (a bare word is a registered name)
    net = load_folder(folder, device=str(device or "cpu"))
    return Target(net, text, sha256_file(folder / WEIGHTS_NAME), net.config.get("dataset"),
                  net.config["num_classes"], tuple(net.config["input_size"]))


def parse_metric_names(metrics: str | Sequence[str] | None) -> list[str] | None:
    """Names from "a,b" or a list, duplicates dropped; None stays None (the task's default)."""
    if metrics is None:
        return None
    names = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    if not names:
        raise ConfigError("no metric names given; `neurozoo list --kind metrics` shows them")
    return names


def check_request(target: Target, dataset, split: str, metrics: list, options: dict[str, dict]) -> None:
    """Every reason this evaluation cannot run, raised together before any work."""
    problems = []
    is_torch = isinstance(target.model, nn.Module)
    if split not in dataset.splits:
        problems.append(f"dataset {dataset.name!r} has no split {split!r} (it has {list(dataset.splits)})")
    if target.num_classes != dataset.num_classes:
        problems.append(
            f"{target.source} predicts {target.num_classes} classes but dataset {dataset.name!r} has "
            f"{dataset.num_classes}; evaluate it on the dataset it was trained for ({target.dataset or 'unknown'})"
        )
    if tuple(target.input_size) != tuple(dataset.input_size):
        problems.append(
            f"{target.source} takes inputs of size {list(target.input_size)} but dataset {dataset.name!r} "
            f"gives {list(dataset.input_size)}"
        )
    for metric in metrics:
        needs = requirements_of(metric.compute)
        if dataset.task not in metric.tasks:
            problems.append(
                f"metric {metric.name!r} applies to {'/'.join(metric.tasks)} datasets; {dataset.name!r} is "
                f"{dataset.task} (use {DEFAULT_METRIC[dataset.task]!r} there)"
            )
        if not is_torch and (needs.gradients or needs.module):
            problems.append(
                f"metric {metric.name!r} needs a torch model (gradients or layers); {target.source} is ONNX: "
                "evaluate the checkpoint it was exported from instead"
            )
        if not is_torch and needs.embeddings:
            problems.append(f"metric {metric.name!r} needs penultimate embeddings, which an ONNX model does not give")
        if dataset.num_classes < needs.min_classes:
            problems.append(f"metric {metric.name!r} needs at least {needs.min_classes} classes; "
                            f"{dataset.name!r} has {dataset.num_classes}")
        missing = [s for s in needs.splits if s not in dataset.splits]
        if missing:
            problems.append(f"metric {metric.name!r} reads split(s) {missing} that {dataset.name!r} does not have")
        problems += _option_problems(metric, options.get(metric.name, {}))
    unused = sorted(set(options) - {m.name for m in metrics})
    if unused:
        problems.append(f"options given for metric(s) {unused} that are not being evaluated")
    if problems:
        raise ConfigError("cannot evaluate: " + "; ".join(problems))


def _option_problems(metric, given: dict) -> list[str]:
    parameters = list(inspect.signature(metric.compute).parameters.values())[1:]  # after ctx
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return []
    accepted = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    unknown = sorted(set(given) - accepted)
    if unknown:
        return [f"metric {metric.name!r} has no option(s) {unknown}; its options: {sorted(accepted) or 'none'}"]
    return []


def _figures(metric, value: Any) -> dict[str, float | None]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"metric {metric.name!r} returned {type(value).__name__}; compute must return "
                        "a dict of figure name -> number (see neurozoo.evaluation)")
    figures = {}
    for name, number in value.items():
        if number is not None and not isinstance(number, (int, float)):
            raise TypeError(f"metric {metric.name!r}: figure {name!r} is {type(number).__name__}, not a number")
        # an undefined figure (NaN) is stored as None so the JSON stays strict
        figures[name] = None if number is None or not math.isfinite(number) else float(number)
    return figures


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "neurozoo": __version__}  # the import name, whatever the distribution
    for name in VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _progress_bar():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True))


def evaluate(
    model: Any,
    dataset: str | None = None,
    metrics: str | Sequence[str] | None = None,
    *,
    limit: int | None = None,
    batch_size: int = 256,
    data_dir: str | os.PathLike | None = None,
    split: str = "test",
    device: str | None = None,
    bf16: bool = False,
    channels_last: bool = True,
    options: dict[str, dict[str, Any]] | None = None,
    dataset_options: dict[str, Any] | None = None,
    progress: bool = False,
    command: str | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` on ``dataset`` with the named metrics; return the result dict.

    model: a registered name, checkpoint or run folder, ``hf-hub:`` reference, ``.onnx`` file,
        or a model object (``NeurozooModel`` / ``OnnxModel``).
    dataset: a registered dataset name (default: the one the checkpoint was trained on).
    metrics: names or "a,b" (default: top1, or exact_set for multi-label sets).
    limit: evaluate the first ``limit`` samples of the split only.
    bf16: bf16 autocast for the forward passes (off by default: fp32 figures are exact).
    options: per-metric keyword options, e.g. ``{"pgd_linf": {"eps": [2 / 255]}}``.
    progress: show a progress bar on stderr.
    A torch model is evaluated in eval mode and channels_last memory format (faster convolutions
    on CPU); both are restored afterwards.
    The result layout is described in :mod:`neurozoo.evaluation`.
    """
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"limit must be a positive int or None, got {limit!r}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size!r}")
    options = {name: dict(opts) for name, opts in (options or {}).items()}
    names = parse_metric_names(metrics)
    for name in names or ():
        registry.get_metric(name)  # unknown names fail before the model is fetched
    if dataset is not None:
        registry.get_dataset(dataset)
    target = open_model(model, device)
    dataset = dataset or target.dataset
    if dataset is None:
        raise ConfigError(f"{target.source} does not record the dataset it was trained on; pass dataset=")
    record = registry.get_dataset(dataset)
    names = names or [DEFAULT_METRIC[record.task]]
    metric_records = [registry.get_metric(name) for name in names]
    check_request(target, record, split, metric_records, options)

    bar = _progress_bar() if progress else None
    with prepared(target.model, device, channels_last) as device:
        ctx = EvalContext(target.model, record, split=split, limit=limit, batch_size=batch_size, device=device,
                          data_dir=None if data_dir is None else os.fspath(data_dir),
                          dataset_options=dataset_options, bf16=bf16, channels_last=channels_last, progress=bar)
        for needed in dict.fromkeys([split, *(s for m in metric_records for s in requirements_of(m.compute).splits)]):
            ctx.data(needed)  # missing data fails here, before any forward pass
        results, seconds = run_metrics(ctx, metric_records, options, bar)
    return {
        "model": target.source,
        "dataset": record.name,
        "split": split,
        "limit": limit,
        "num_samples": len(ctx.data()),
        "metrics": results,
        "curves": [{**asdict(c), "x": list(c.x), "y": list(c.y)} for c in ctx.curves],
        "options": options,
        "settings": {m.name: resolved_options(m, options.get(m.name, {})) for m in metric_records},
        "seconds": seconds,
        "checkpoint_sha256": target.sha256,
        "command": command or _python_call(target.source, record.name, names, limit, split, options),
        "versions": package_versions(),
        "device": str(device),
        "bf16": bf16,
    }


@contextlib.contextmanager
def prepared(model: Any, device: str | None, channels_last: bool) -> Iterator[torch.device]:
    """A torch model in eval mode on ``device`` (default: where it is), channels_last if asked;
    its mode and memory format are restored afterwards. Yields the device."""
    if not isinstance(model, nn.Module):
        yield torch.device("cpu")  # onnxruntime's CPU provider
        return
    device = torch.device(device) if device else _device_of(model)
    was_training = model.training
    model.eval().to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    try:
        yield device
    finally:
        model.train(was_training)
        if channels_last:
            model.to(memory_format=torch.contiguous_format)


def run_metrics(ctx: EvalContext, metrics: list, options: dict[str, dict], bar) -> tuple[dict, dict]:
    """Each metric's figures (names unique across metrics) and the seconds it took; the first metric
    to read ``ctx.outputs()`` carries the time of the shared forward pass."""
    results: dict[str, dict[str, float | None]] = {}
    seconds: dict[str, float] = {}
    owners: dict[str, str] = {}
    with bar if bar is not None else contextlib.nullcontext():
        for metric in metrics:
            start = time.perf_counter()
            figures = _figures(metric, metric.compute(ctx, **options.get(metric.name, {})))
            seconds[metric.name] = time.perf_counter() - start
            for figure in figures:
                if figure in owners:
                    raise ValueError(f"metrics {owners[figure]!r} and {metric.name!r} both give figure {figure!r}")
                owners[figure] = metric.name
            results[metric.name] = figures
    return results, seconds


def resolved_options(metric, given: dict[str, Any]) -> dict[str, Any]:
    """Every option a metric runs with: ``given`` over the defaults of its ``compute`` (a result records
    them, so a figure says how it was measured, e.g. an attack's steps, even after a default changes)."""
    return {**signature_options(metric.compute, skip=1)[0], **given}


def _device_of(model: nn.Module) -> torch.device:
    tensor = next(itertools.chain(model.parameters(), model.buffers()), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def _python_call(source: str, dataset: str, names: list[str], limit: int | None, split: str, options: dict) -> str:
    extra = f", options={options!r}" if options else ""
    return f"neurozoo.evaluate({source!r}, {dataset!r}, metrics={names!r}, limit={limit!r}, split={split!r}{extra})"
