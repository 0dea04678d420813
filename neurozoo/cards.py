"""Model cards generated from what was measured: the checkpoint, its run, its evaluation JSON and its record.

``neurozoo card NAME_OR_RUN [--eval JSON] [--int8-eval JSON] [--baseline-eval JSON]`` writes README.md
in the checkpoint folder: YAML metadata (``huggingface_hub.ModelCardData``: library_name, license,
tags, datasets, model-index from the evaluation figures) and a body with the method and its
citation, the model's size and cost, how to load it (torch and the ONNX runtime), the training
command and budget, the same-budget baseline's figures beside this model's (and those of its control
arms), the paper's claims against the measured gains, the int8 ONNX figures, robustness plots,
limitations, the licence and the sha256 of every file.

Every number comes from a file: parameters and GFLOPs from the weights, figures from evaluation
JSON. An evaluation JSON whose ``checkpoint_sha256`` is not this checkpoint's is refused, so a card
cannot quote another model's figures. Without ``--eval``, the folder's own ``eval*.json`` are used
(``neurozoo eval RUN/model.int8.onnx`` results among them are the int8 figures); for a registered
name, the baseline figures default to the evaluation JSON in its baseline record's folder, and the
licence to its record's. A control arm (trained at the same budget but not published, e.g. the
method's schedule with its own terms off) is an evaluation JSON in ``controls/NAME/`` of the folder,
with the control's ``run.json``; another architecture trained with the same method, data and recipe
(e.g. the random-phase net beside a KomplexNet) likewise in ``arms/NAME/``. Commands are printed
without machine paths: ``DATA`` stands for the dataset folder and ``RUN`` for the run folder.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurozoo import registry
from neurozoo.checkpoint import (CARD_NAME, CONFIG_NAME, WEIGHTS_NAME, atomic_write_bytes, load_folder, read_config,
                                 sha256_file)
from neurozoo.errors import ConfigError, UnknownNameError
from neurozoo.evaluation.catalog import METRICS as SHARED_METRICS
from neurozoo.evaluation.report import readings
from neurozoo.evaluation.runner import resolved_options
from neurozoo.hub import MODEL_CARDS_DIR
from neurozoo.records import Checkpoint, Claim
from neurozoo.training.run import DEFAULTS as ENGINE_DEFAULTS
from neurozoo.zoo import resolve

RUN_CONFIG = "run.json"  # written by the training engine (neurozoo.training.runfolder)
PLOTS_DIR = "plots"
CONTROLS_DIR = "controls"
ARMS_DIR = "arms"
EVAL_GLOB = "eval*.json"
INT8_FILE = "model.int8.onnx"  # neurozoo.export.INT8_NAME (not imported: export pulls in onnx)
# arguments whose values name places on the machine that ran the command -> what the card prints
PLACEHOLDERS = {"--data-dir": "DATA", "--out": "RUN"}
CALL_PLACEHOLDERS = {"data_dir": "DATA", "out": "RUN"}
DROPPED = ("--resume", "resume")  # a resumed run repeats its command (resumes are exact)
# engine settings that say where a run ran, not how it trained: a control may differ in them
RUN_LOCATION = ("data_dir", "device", "num_workers", "eval_limit")


def comparable_engine(engine: dict[str, Any]) -> dict[str, Any]:
    """The engine settings two runs of one budget share: without where they ran (``RUN_LOCATION``), and
    with the precision policy reduced to its autocast dtype, as the modules it keeps in float32 are
    named by the net's structure, which another arm or a method's baseline variant changes
    (``net.body.conv1`` against ``net.backbone.body.conv1``). A setting added to the engine after a run
    was written (e.g. ``cutout``) reads as its default, as a resume of that run reads it."""
    found = {key: value for key, value in {**ENGINE_DEFAULTS, **engine}.items() if key not in RUN_LOCATION}
    if isinstance(found.get("precision_policy"), dict):
        found["precision_policy"] = found["precision_policy"].get("autocast")
    return found


def portable_command(command: str | Sequence[str], model: str | None = None) -> str:
    """A ``neurozoo`` command line without machine paths: dataset folder -> ``DATA``, run folder ->
    ``RUN``, other absolute paths -> their file name, ``--resume`` dropped; the evaluated model
    (``neurozoo eval MODEL``) -> ``model`` when given. A metric option naming the evaluated folder
    (``--set convergence_epoch.run=/runs/x``, the training log beside the weights) -> ``RUN``."""
    if isinstance(command, str) and not command.startswith("neurozoo "):  # a Python call: its quoted paths
        return re.sub(r"'((?:/|~)[^']*)'", lambda m: repr(Path(m.group(1)).name), command)
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if argv and Path(argv[0]).name == "neurozoo":
        argv[0] = "neurozoo"
    evaluated = argv[2] if len(argv) > 2 and argv[1] == "eval" else None  # the model folder of `neurozoo eval`
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        flag, eq, _ = arg.partition("=")
        if flag in DROPPED:
            i += 1 if eq else 2
            continue
        if flag in PLACEHOLDERS:
            out += [f"{flag}={PLACEHOLDERS[flag]}"] if eq else [arg, PLACEHOLDERS[flag]]
            i += 1 if eq else 2
            continue
        if model is not None and i == 2 and argv[1] == "eval":
            out.append(model)
        elif out and out[-1] == "--set" and "=" in arg:
            key, _, value = arg.partition("=")
            if _is_path(value):
                value = "RUN" if evaluated is not None and Path(value) == Path(evaluated) else Path(value).name
            out.append(f"{key}={value}")
        elif _is_path(arg):
            out.append(Path(arg).name)
        else:
            out.append(arg)
        i += 1
    return shlex.join(out)


def _is_path(arg: str) -> bool:
    return os.path.isabs(arg) or arg.startswith("~")


def training_command(run: dict[str, Any]) -> str:
    """The `neurozoo train` command line of a run (``portable_command``), or the `neurozoo.train(...)` call.
    A run extended to more epochs (``extensions`` in run.json) trained what its command with the final
    epochs trains (neurozoo.training.run), so that is the command given."""
    command = run.get("command", {})
    argv = command.get("argv") or []
    epochs = run["recipe"]["epochs"] if run.get("extensions") else None
    # the console script, or `python -m neurozoo.cli` (argv[0] is then the module's file)
    if argv and (Path(argv[0]).name == "neurozoo" or Path(argv[0]).parts[-2:] == ("neurozoo", "cli.py")):
        return portable_command(["neurozoo", *_with_epochs(argv[1:], epochs)])
    call = {key: CALL_PLACEHOLDERS.get(key, value) for key, value in command.get("call", {}).items()
            if key not in DROPPED}
    if epochs is not None:
        call["epochs"] = epochs
    return "neurozoo.train(" + ", ".join(f"{key}={value!r}" for key, value in call.items()) + ")"


def _with_epochs(args: list[str], epochs: int | None) -> list[str]:
    """``args`` with ``--epochs`` set to ``epochs`` (added when absent); unchanged for None."""
    if epochs is None:
        return args
    out, i = [], 0
    while i < len(args):
        flag, eq, _ = args[i].partition("=")
        if flag == "--epochs":
            i += 1 if eq else 2
            continue
        out.append(args[i])
        i += 1
    return [*out, "--epochs", str(epochs)]


# ---------------------------------------------------------------- evaluation files
@dataclass(frozen=True)
class Evaluations:
    """Evaluation results of one checkpoint: of its weights (torch) and of its int8 ONNX export."""

    torch: tuple[dict[str, Any], ...] = ()
    int8: tuple[dict[str, Any], ...] = ()


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


def is_int8(result: dict[str, Any]) -> bool:
    return Path(result.get("model", "")).name == INT8_FILE


def _checked(paths: Sequence[str | os.PathLike], sha256: str | None) -> tuple[dict[str, Any], ...]:
    results = []
    for path in paths:
        result = read_json(path)
        if sha256 is not None and result.get("checkpoint_sha256") != sha256:
            raise ConfigError(
                f"{path} evaluated checkpoint {result.get('checkpoint_sha256')}, not this one ({sha256}); "
                "re-run `neurozoo eval` on this checkpoint"
            )
        results.append(result)
    return tuple(results)


def folder_evaluations(folder: str | os.PathLike) -> Evaluations:
    """The ``eval*.json`` of a checkpoint folder, checked against its weights (int8 ones apart)."""
    folder = Path(folder)
    paths = sorted(folder.glob(EVAL_GLOB))
    int8 = [p for p in paths if is_int8(read_json(p))]
    torch_paths = [p for p in paths if p not in int8]
    return Evaluations(_checked(torch_paths, sha256_file(folder / WEIGHTS_NAME)), _checked(int8, None))


def _departures(run: dict[str, Any], other: dict[str, Any], same: Sequence[str],
                recipe_may_differ: Callable[[Any, Any], bool]) -> list[str]:
    """How ``other``'s run.json departs from ``run``'s: the keys ``same``, the engine settings
    (:func:`comparable_engine`) and the recipe options, except those where ``recipe_may_differ(ours, theirs)``."""
    found = [f"{key} {other.get(key)!r} (checkpoint: {run.get(key)!r})"
             for key in same if other.get(key) != run.get(key)]
    ours, theirs = comparable_engine(run.get("engine", {})), comparable_engine(other.get("engine", {}))
    found += [f"engine.{key} {theirs.get(key)!r} (checkpoint: {ours.get(key)!r})"
              for key in sorted(ours.keys() | theirs.keys()) if ours.get(key) != theirs.get(key)]
    ours, theirs = run.get("recipe", {}), other.get("recipe", {})
    found += [f"recipe.{key} {theirs.get(key)!r} (checkpoint: {ours.get(key)!r})"
              for key in sorted(ours.keys() | theirs.keys())
              if ours.get(key) != theirs.get(key) and not recipe_may_differ(ours.get(key), theirs.get(key))]
    return found


def control_differences(run: dict[str, Any], control: dict[str, Any]) -> list[str]:
    """How a control arm's run.json departs from its checkpoint's beyond what a control may change.

    A control is the checkpoint's training with the method's own terms off: the same method, net,
    data, phases and engine settings (where it ran aside), and a recipe that differs only in options
    that are 0 in the control and not in the checkpoint. Anything else (another learning rate,
    seed or budget) makes the card's "same budget" column false."""
    return _departures(run, control, ("method", "arch", "arch_kwargs", "dataset", "phases"),
                       lambda ours, theirs: theirs == 0 and bool(ours))


def arm_differences(run: dict[str, Any], arm: dict[str, Any]) -> list[str]:
    """How another arm's run.json departs from its checkpoint's beyond its net: an arm is another
    architecture (``arch``, ``arch_kwargs``) trained with the checkpoint's method, data, phases, engine
    settings and recipe, every option alike."""
    return _departures(run, arm, ("method", "dataset", "phases"), lambda ours, theirs: False)


@dataclass(frozen=True)
class ComparisonKind:
    """A kind of same-budget run whose figures stand beside a checkpoint's in its card."""

    directory: str  # the folder of the checkpoint holding one sub-folder per run
    label: str  # how the card names one: "control `NAME`"
    trained: str  # what its run.json must show, for the refusal
    fix: str
    differences: Callable[[dict[str, Any], dict[str, Any]], list[str]]


COMPARISONS = (
    ComparisonKind(CONTROLS_DIR, "control", "trained like this checkpoint with its terms off",
                   "retrain the control with the checkpoint's settings", control_differences),
    ComparisonKind(ARMS_DIR, "arm", "trained with this checkpoint's method, data and recipe (only the net may differ)",
                   "retrain the arm with the checkpoint's settings and its own --arch", arm_differences),
)


@dataclass(frozen=True)
class Comparison:
    """One same-budget run beside a checkpoint: its kind, its folder's name and its evaluation results."""

    kind: ComparisonKind
    name: str
    results: tuple[dict[str, Any], ...]

    @property
    def label(self) -> str:
        return f"{self.kind.label} `{self.name}`"


def folder_comparisons(folder: str | os.PathLike, run: dict[str, Any] | None) -> tuple[Comparison, ...]:
    """The same-budget runs beside a checkpoint, each kind of :data:`COMPARISONS` in its folder
    (``controls/NAME/eval*.json``, ``arms/NAME/eval*.json``). Their weights are not published, so the
    JSON cannot be checked against them; the results of one run must all be of one checkpoint, and
    its run.json (beside them) must show it was trained as its kind requires
    (:func:`control_differences`, :func:`arm_differences`), when the checkpoint's own ``run`` is known."""
    found = []
    for kind in COMPARISONS:
        for arm in sorted(p for p in (Path(folder) / kind.directory).glob("*") if p.is_dir()):
            results = _checked(sorted(arm.glob(EVAL_GLOB)), None)
            if len({r.get("checkpoint_sha256") for r in results}) > 1:
                raise ConfigError(f"{arm}: its evaluation JSON are of different checkpoints; keep one {kind.label} "
                                  "per folder")
            if not results:
                continue
            if not (arm / RUN_CONFIG).is_file():
                raise ConfigError(f"{arm} has no {RUN_CONFIG}: copy the {kind.label}'s run.json beside its evaluation, "
                                  "so the card can check it was trained like this checkpoint")
            if run is not None:
                differences = kind.differences(run, read_json(arm / RUN_CONFIG))
                if differences:
                    raise ConfigError(f"{arm} was not {kind.trained}: {'; '.join(differences)}; {kind.fix}, "
                                      "or remove its folder")
            found.append(Comparison(kind, arm.name, results))
    return tuple(found)


def figures(results: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str], float | None]:
    """(dataset/split, metric, figure) -> value over several evaluation results, the shared metrics first
    in the catalog's order (accuracy before calibration, corruptions and attacks) whichever evaluation
    piece holds them, then a plugin's own metrics in the order they were written."""
    found = [
        ((f"{r['dataset']}/{r['split']}", metric, figure), value)
        for r in results
        for metric, values in r["metrics"].items()
        for figure, value in values.items()
    ]
    rank = {metric.name: i for i, metric in enumerate(SHARED_METRICS)}
    return dict(sorted(found, key=lambda item: rank.get(item[0][1], len(rank))))



def record_figures(results: Sequence[dict[str, Any]],
                   dataset: str | None) -> dict[str, tuple[dict[str, Any], str, float | None]]:
    """Figure name as records and claims give it -> (evaluation result, metric, value), a later result
    overriding an earlier one: a figure of the checkpoint's own ``dataset`` by its name (``exact_set``),
    one of another evaluated set prefixed with that set (``multimnist_o50/exact_set``), so that the
    figures of several test sets never share a name."""
    return {(figure if r["dataset"] == dataset else f"{r['dataset']}/{figure}"): (r, metric, value)
            for r in results for (_, metric, figure), value in figures([r]).items()}

def metric_settings(result: dict[str, Any], metric: str) -> dict[str, Any]:
    """The options a metric's figures were measured with: those the result records, or, for a result
    written before results recorded them, the given options over the metric's current defaults."""
    if metric in result.get("settings", {}):
        return result["settings"][metric]
    given = result.get("options", {}).get(metric, {})
    record = registry.find_metric(metric)
    return given if record is None else resolved_options(record, given)


def metric_images(result: dict[str, Any], metric: str) -> int:
    """The test images a metric's figures were measured on: the evaluation's, or fewer for a metric
    that stops at ``max_samples`` (the attacks: 1,000 by default)."""
    return min(result["num_samples"], metric_settings(result, metric).get("max_samples", result["num_samples"]))


def is_whole_split(result: dict[str, Any], metric: str) -> bool:
    """Whether a metric's figures of an evaluation cover the whole split."""
    return result["limit"] is None and metric_images(result, metric) == result["num_samples"]


def _images(results: Sequence[dict[str, Any]]) -> dict[tuple[str, str], int]:
    return {(f"{r['dataset']}/{r['split']}", metric): metric_images(r, metric) for r in results for metric in r["metrics"]}


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"


# ---------------------------------------------------------------- card parts
def _card_data(config: dict[str, Any], name: str, license: str, results: Sequence[dict[str, Any]]):
    from huggingface_hub import EvalResult, ModelCardData

    eval_results = [
        EvalResult(
            task_type="image-classification" if config["task"] == "multiclass" else "multi-label-classification",
            dataset_type=dataset.split("/")[0],
            dataset_name=dataset.split("/")[0],
            dataset_split=dataset.split("/")[1],
            metric_type=figure,
            metric_name=figure if figure == metric else f"{metric}: {figure}",
            metric_value=value,
        )
        for (dataset, metric, figure), value in figures(results).items()
        if value is not None
    ]
    return ModelCardData(
        library_name="neurozoo",
        license=license,
        tags=["neurozoo", config["method"], config["arch"], *([config["dataset"]] if config["dataset"] else [])],
        datasets=[config["dataset"]] if config["dataset"] else None,
        model_name=name,
        eval_results=eval_results or None,
    )


def _model_section(folder: Path, config: dict[str, Any]) -> list[str]:
    from neurozoo.model_stats import count_params, gflops_per_image

    model = load_folder(folder)
    weights = folder / WEIGHTS_NAME
    return [
        "## Model",
        "",
        "| | |",
        "|---|---|",
        f"| architecture | `{config['arch']}`{' ' + json.dumps(config['arch_kwargs']) if config['arch_kwargs'] else ''} |",
        f"| parameters | {count_params(model):,} |",
        f"| GFLOPs per image | {gflops_per_image(model)} (one {'x'.join(map(str, config['input_size']))} image; "
        "2 FLOPs per multiply-add) |",
        f"| weights | {WEIGHTS_NAME}, {weights.stat().st_size:,} bytes, stored as {config['dtype']} "
        "(loaded as float32) |",
        f"| input | {config['input_size'][0]} channels, {config['input_size'][1]}x{config['input_size'][2]}, "
        "[0, 1] pixels (normalisation is inside the model) |",
        f"| classes | {config['num_classes']} ({config['task']}) |",
        "",
    ]


def _training_section(run: dict[str, Any] | None, record: Checkpoint | None) -> list[str]:
    if run is None:
        return ["This checkpoint has no run record (`run.json`): how it was trained is not known.", ""]
    engine = run.get("engine", {})
    epochs = sum(p["epochs"] for p in run.get("phases", []))
    lines = [f"Command (`DATA`: the dataset folder, `RUN`: the run folder): `{training_command(run)}`", ""]
    selection = run.get("selection") or {}
    if selection.get("select") == "best":
        lines += [f"Published weights: those of epoch {selection['epoch']} of {epochs}, the best on the validation "
                  f"split ({engine.get('val_fraction')} of the training images held out; {selection['criterion']} "
                  f"{selection['score']:.4f}).", ""]
    for extension in run.get("extensions", []):
        lines += [f"The run was trained for {extension['epochs_before']} epoch(s), then extended to "
                  f"{extension['epochs']} by resuming it with more epochs at its constant learning rate: the same "
                  "steps as the command above.", ""]
    if run.get("resumes") and engine.get("device") != "cpu":
        # resuming is bitwise exact on CPU (tested); elsewhere it is worth knowing
        lines += [f"The run was stopped and resumed {len(run['resumes'])} time(s) on {engine.get('device')}.", ""]
    if record is not None and record.recipe is not None:
        recipe = record.recipe
        lines += [
            f"Budget: {recipe.epochs} epoch(s), {recipe.images_seen:,} training images seen, batch "
            f"{recipe.batch_size}, seed {engine.get('seed')}.",
            "",
            f"Precision: {recipe.precision}. Hardware: {recipe.hardware}.",
            "",
        ]
    else:
        images = f"the first {engine['limit']} images of " if engine.get("limit") else ""
        lines += [
            f"Budget: {epochs} epoch(s) over {images}the {run['dataset']} training split, batch "
            f"{engine.get('batch_size')}, seed {engine.get('seed')}, {engine.get('precision')} on "
            f"{engine.get('device')}.",
            "",
        ]
    lines += ["Recipe (method options):", "", "```json", json.dumps(run.get("recipe", {}), indent=2), "```", ""]
    return lines


def is_baseline_record(record: Checkpoint) -> bool:
    """Whether a record is a baseline: the baseline method's, a method's baseline network, or its own
    baseline variant (its ``method_kwargs`` read from the repository's ``model_cards/<name>/config.json``,
    when there is one)."""
    folder = MODEL_CARDS_DIR / record.name
    kwargs = read_config(folder).get("method_kwargs") if (folder / CONFIG_NAME).is_file() else None
    return registry.is_baseline(record.method, kwargs, record.arch)


def _baseline_kind(config: dict[str, Any]) -> str:
    """How the card says that a checkpoint is a baseline ("" when it is not one)."""
    method, kwargs, arch = config["method"], config.get("method_kwargs") or {}, config["arch"]
    if method == "baseline":
        return "the plain cross-entropy baseline the methods are compared with"
    if not registry.is_baseline(method, kwargs, arch):
        return ""
    trainer = registry.get_method(method).trainer
    if arch in trainer.baseline_archs:
        return (f"the baseline network of the `{method}` method, trained with its recipe, which its other "
                "networks are compared with")
    options = trainer.baseline_options
    turned = ", ".join(f"`{key}={value}`" for key, value in options.items())
    return f"the baseline of the `{method}` method: its recipe with {turned}, which its checkpoints are compared with"


def _evaluation_section(name: str, results, baseline, baseline_name: str, baseline_kind: str,
                        comparisons: Sequence[Comparison]) -> list[str]:
    if not results:
        return ["No evaluation JSON was given: this card reports no figures. Run `neurozoo eval` and "
                "regenerate the card.", ""]
    ours, theirs, images = figures(results), figures(baseline), _images(results)
    others = {f"{c.label} (same budget)": figures(c.results) for c in comparisons}
    if baseline:
        others = {f"{baseline_name or 'baseline'} (same budget)": theirs, **others}
    if baseline_kind:
        lines = [f"This checkpoint is {baseline_kind}.", ""]
    elif not baseline:
        lines = ["No evaluation of a baseline trained with the same budget was given" +
                 (": only other arms stand beside this model." if comparisons else ": the figures below stand alone."),
                 ""]
    else:
        lines = []
    lines += ["| data | images | figure | this model |" + "".join(f" {column} |" for column in others),
              "|---" * (4 + len(others)) + "|"]
    for (dataset, metric, figure), value in ours.items():
        row = f"| {dataset} | {images[dataset, metric]} | {figure} | {_fmt(value)} |"
        for other in others.values():
            found = other.get((dataset, metric, figure), "missing")
            row += f" {'not measured' if found == 'missing' else _fmt(found)} |"
        lines.append(row)
    lines += ["", "Commands that produced these figures:", ""]
    lines += [f"- this model: `{portable_command(r['command'], name)}`" for r in results]
    lines += [f"- baseline: `{portable_command(r['command'], baseline_name or None)}` (checkpoint sha256 "
              f"`{r['checkpoint_sha256']}`)" for r in baseline]
    lines += [f"- {c.label}: `{portable_command(r['command'], 'RUN')}` (checkpoint sha256 "
              f"`{r['checkpoint_sha256']}`)" for c in comparisons for r in c.results]
    # in the table's order, one line per evaluation of a metric (two pieces may hold one metric with other options)
    settings = dict.fromkeys(
        f"- {metric}: " + ", ".join(f"{option}={_setting(value)}" for option, value in options.items())
        for metric in dict.fromkeys(m for _, m, _ in ours)
        for r in results if metric in r["metrics"]
        for options in [metric_settings(r, metric)] if options
    )
    if settings:
        lines += ["", "Settings of this model's figures (each metric's options, defaults included):", ""]
        lines += list(settings)
    readings = _readings(results)
    if readings:
        lines += ["", "What these figures say (each metric's reading of this model's figures):", ""] + readings
    return lines + [""]


def _readings(results: Sequence[dict[str, Any]]) -> list[str]:
    """One line per evaluated (data, metric) whose registered metric reads its figures in words
    (``Metric.reading``)."""
    return [f"- {metric} ({result['dataset']}/{result['split']}): {sentence}"
            for result in results for metric, sentence in readings(result)]


def _setting(value: Any) -> str:
    """An option's value as the card shows it: floats to 6 digits, a machine path by its name (as in commands)."""
    if isinstance(value, str) and _is_path(value):
        value = Path(value).name
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_setting(v) for v in value) + "]"
    return f"{value:.6g}" if isinstance(value, float) else json.dumps(value)


def gain_verdict(claim: Claim, gain: float | None, higher_is_better: bool = True, noise: float | None = None) -> str:
    """A plain verdict on a measured gain against the gain the paper claims. For a figure where
    lower is better (ECE) an improvement is a negative gain; a claim from 0 ("up to +0.15") needs a
    positive improvement; a claim below 0 is a cost the paper reports (e.g. clean accuracy traded for
    robustness), reproduced when ours costs no more. ``noise`` (two standard errors of the difference,
    :func:`sampling_noise`) is what an improvement must exceed to show anything."""
    if gain is None:
        return "not measured"
    low, high = (claim.low, claim.high) if higher_is_better else (-claim.high, -claim.low)
    improvement = gain if higher_is_better else -gain
    if improvement >= low and (improvement > 0 or low < 0):
        if low >= 0 and noise is not None and improvement <= noise:
            return f"not shown: the gain is within sampling noise (2 SE {noise:.4f})"
        return "reproduced at this budget" + (" (beyond the paper's range)" if improvement > high else "")
    if low < 0:
        return f"not reproduced: {low - improvement:.4f} worse than the paper's"
    if improvement > 0:
        return f"not reproduced: a smaller improvement, {low - improvement:.4f} short of the paper's smallest"
    return "not reproduced: no improvement"


def sampling_noise(first: float, first_images: int, second: float, second_images: int) -> float:
    """Two standard errors of the difference of two accuracies measured on ``first_images`` and
    ``second_images`` images, as if the samples were independent: an upper bound for two models scored
    on the same images, whose errors are correlated."""
    return 2 * math.sqrt(first * (1 - first) / first_images + second * (1 - second) / second_images)


def claim_text(claim: Claim) -> str:
    """The paper's gain as the card prints it: one value, a range, or a direction with a bound."""
    if math.isinf(claim.high):
        return "higher (direction only)" if claim.low == 0 else f"{claim.low:+.4f} or more"
    if math.isinf(claim.low):
        return "lower (direction only)" if claim.high == 0 else f"{claim.high:+.4f} or less"
    return f"{claim.low:+.4f}" if claim.low == claim.high else f"{claim.low:+.4f} to {claim.high:+.4f}"


def _test_figure(results: Sequence[dict[str, Any]], figure: str,
                 dataset: str) -> tuple[str, float | None, int] | None:
    """(metric, value, images) of ``figure`` (named as records name it, :func:`record_figures`) in the
    test-split evaluations among ``results`` (None if absent)."""
    found = record_figures([r for r in results if r["split"] == "test"], dataset).get(figure)
    if found is None:
        return None
    result, metric, value = found
    return metric, value, metric_images(result, metric)


def is_accuracy(metric: str) -> bool:
    """Whether a metric's figures are fractions of the images classified right (``Metric.accuracy``)."""
    record = registry.find_metric(metric)
    return record is not None and record.accuracy


def _higher_is_better(metric: str) -> bool:
    record = registry.find_metric(metric)
    return record is None or record.higher_is_better


def _claims_section(record: Checkpoint | None, results, baseline, baseline_name: str,
                    comparisons: Sequence[Comparison]) -> list[str]:
    if record is None or not record.claims:
        return []
    claimed_over = {arm for claim in record.claims for arm in claim.over}
    missing = claimed_over - {c.name for c in comparisons if c.kind.directory == ARMS_DIR}
    if missing:
        raise ConfigError(f"{record.name}: a claim is over the arm(s) {', '.join(sorted(missing))}, which the folder "
                          f"lacks: copy each arm's evaluation JSON and run.json into {ARMS_DIR}/ARCH/")
    # the baseline and every control; of the other arms, those a claim is over (not, e.g., an oracle's upper bound)
    shown = [c for c in comparisons if c.kind.directory != ARMS_DIR or c.name in claimed_over]
    against = {f"over {baseline_name}": (baseline, None), **{f"over {c.label}": (c.results, c) for c in shown}}
    lines = ["## Against the paper's claims", "",
             "The paper's gain of the method over its own baseline, beside the gain measured here over the "
             "same-budget arms (this model minus the arm, on the test split). An accuracy's gain shows an "
             "improvement only beyond two standard errors of the difference (binomial, the two scores taken "
             "as independent, which overstates the noise of two models scored on the same images):", "",
             "| figure | paper's gain | where the paper says it |" + "".join(f" {c} | verdict |" for c in against),
             "|---|---|---|" + "---|---|" * len(against)]
    for claim in record.claims:
        ours = _test_figure(results, claim.figure, record.dataset)
        higher_is_better = ours is None or _higher_is_better(ours[0])
        paper = claim_text(claim)
        row = f"| {claim.figure} | {paper} | {claim.source} |"
        for arm, comparison in against.values():
            theirs = _test_figure(arm, claim.figure, record.dataset)
            measured = not (ours is None or theirs is None or None in (ours[1], theirs[1]))
            gain = ours[1] - theirs[1] if measured else None
            noise = (sampling_noise(ours[1], ours[2], theirs[1], theirs[2])
                     if measured and is_accuracy(ours[0]) else None)
            claimed = comparison is None or comparison.kind.directory != ARMS_DIR or comparison.name in claim.over
            verdict = gain_verdict(claim, gain, higher_is_better, noise) if claimed else "not claimed over this arm"
            row += f" {'not measured' if gain is None else f'{gain:+.4f}'} | {verdict} |"
        lines.append(row)
    return lines + [""]


def _int8_section(name: str, results, int8) -> list[str]:
    if not int8:
        return []
    ours, images = figures(results), _images(int8)
    lines = [
        "## int8 ONNX",
        "",
        f"`neurozoo export {name} --int8 --data-dir DATA` writes `{INT8_FILE}` (static QDQ quantisation, "
        "calibrated on training images); its figures beside the float32 model's:",
        "",
        "| data | images | figure | float32 (torch) | int8 ONNX |",
        "|---|---|---|---|---|",
    ]
    for (dataset, metric, figure), value in figures(int8).items():
        lines.append(f"| {dataset} | {images[dataset, metric]} | {figure} | "
                     f"{_fmt(ours[dataset, metric, figure]) if (dataset, metric, figure) in ours else 'not measured'} | "
                     f"{_fmt(value)} |")
    lines += ["", "Commands:", ""]
    lines += [f"- `{portable_command(r['command'], INT8_FILE)}` (ONNX sha256 `{r['checkpoint_sha256']}`)" for r in int8]
    return lines + [""]


def _registered(name: str) -> Checkpoint | None:
    try:
        return registry.get_checkpoint(name)
    except UnknownNameError:
        return None


SEED_STUDY = "seed_study.json"


def _seed_study_section(folder: Path) -> list[str]:
    """A study over several seeds beside the weights (``seed_study.json``, written by the study's
    script): each arm's mean +- std of the figures it names, and the findings it draws."""
    path = folder / SEED_STUDY
    if not path.is_file():
        return []
    study = read_json(path)
    shown = study["shown"]
    lines = ["## Seeds", "", study["about"], "", "| arm | seeds | " + " | ".join(shown) + " |",
             "|---|---|" + "---|" * len(shown)]
    for arm in study["arms"].values():
        cells = [mean_std_text(arm["mean_std"][m]) for m in shown]
        lines.append(f"| {arm['description']} | {len(arm['per_seed'])} | " + " | ".join(cells) + " |")
    return lines + [""] + [f"- {finding}" for finding in study["findings"]] + [""]


def mean_std_text(figure: dict) -> str:
    """``{"mean": m, "std": s}`` as "m +- s" (4 decimals); one seed has no spread (std None): "m"; a figure
    no seed has (mean None, e.g. a convergence epoch never reached): "none"."""
    if figure["mean"] is None:
        return "none"
    return f"{figure['mean']:.4f}" + ("" if figure.get("std") is None else f" +- {figure['std']:.4f}")


def training_data_terms(dataset: str | None, stated: str = "") -> str:
    """The training data's terms: ``stated`` if given, else those of the dataset's registered record
    (``Dataset.terms``); "" when neither says."""
    if stated or not dataset or dataset not in registry.list_datasets():
        return stated
    return registry.get_dataset(dataset).terms


def build_card(
    source: str | os.PathLike,
    *,
    evaluations: Sequence[str | os.PathLike] | None = None,
    int8_evaluations: Sequence[str | os.PathLike] = (),
    baseline_evaluations: Sequence[str | os.PathLike] | None = None,
    license: str | None = None,
    data_terms: str | None = None,
    name: str | None = None,
) -> str:
    """The model card text (YAML front matter + markdown) for a checkpoint or run folder.

    ``evaluations`` default to the folder's ``eval*.json``; ``baseline_evaluations`` to those of
    the baseline named by the checkpoint's record. ``license`` (the weights' licence) and
    ``data_terms`` (the training data's terms) default to the record's; one of the two must state them.
    """
    folder = Path(resolve(source))
    config = read_config(folder)
    if name is None:  # a registered name (tag included) names itself; a folder its method-arch-dataset
        registered = isinstance(source, str) and _registered(source) is not None
        name = source if registered else f"{config['method']}-{config['arch']}-{config['dataset'] or 'custom'}"
    record = _registered(name)
    if evaluations is None:
        found = folder_evaluations(folder)
        results, int8 = found.torch, found.int8 + _checked(int8_evaluations, None)
    else:
        results, int8 = _checked(evaluations, sha256_file(folder / WEIGHTS_NAME)), _checked(int8_evaluations, None)
    baseline_name = record.baseline if record is not None else ""
    if baseline_evaluations is None:
        baseline = folder_evaluations(resolve(baseline_name)).torch if baseline_name else ()
    else:
        baseline = _checked(baseline_evaluations, None)
    terms = record.license if record is not None else None
    license = license or (terms.weights if terms else None)
    data_terms = training_data_terms(config["dataset"], data_terms or (terms.data if terms else ""))
    if not license or not data_terms:
        raise ConfigError(
            f"state the terms of {name}: the weights' licence (--license, e.g. mit) and the training data's "
            "terms (--data-terms), or register a Checkpoint record with license=License(...)"
        )
    method = registry.get_method(config["method"])
    run = json.loads((folder / RUN_CONFIG).read_text()) if (folder / RUN_CONFIG).is_file() else None
    paper = (record.paper if record is not None else "") or method.paper

    body = [f"# {name}", ""]
    what = method.description or "no description"
    kind = _baseline_kind(config)
    if kind and method.name != "baseline":  # a method's own baseline lacks the mechanism the description names
        body += [f"This checkpoint is {kind}; the method itself: {what}.", ""]
    else:
        body += [f"Trained with the `{method.name}` method: {what}.", ""]
    if record is not None and record.description:
        body += [f"{record.description}.", ""]
    if paper:
        body += [f"Paper: {paper}", ""]
    body += _model_section(folder, config)
    body += [
        "## How to use",
        "",
        "```python",
        "import neurozoo",
        f'model = neurozoo.load("{name}")  # or a local folder / "hf-hub:ORG/NAME"',
        "x = model.preprocess(pil_image).unsqueeze(0)  # [0, 1] pixels; normalisation is inside the model",
        "label = model.class_names[model(x).argmax(1).item()]",
        "```",
        "",
        "On a device without PyTorch (`pip install numpy pillow onnxruntime && pip install --no-deps neurozoo-models`),",
        "after `neurozoo export`:",
        "",
        "```python",
        "from neurozoo.runtime import OnnxClassifier",
        'print(OnnxClassifier("model.onnx").predict_file("image.png"))',
        "```",
        "",
        "## Training",
        "",
    ]
    body += _training_section(run, record)
    comparisons = folder_comparisons(folder, run)
    body += ["## Evaluation", ""]
    body += _evaluation_section(name, results, baseline, baseline_name, kind, comparisons)
    body += _claims_section(record, results, baseline, baseline_name, comparisons)
    body += _int8_section(name, results, int8)
    body += _seed_study_section(folder)
    plots = sorted((folder / PLOTS_DIR).glob("*.png")) if (folder / PLOTS_DIR).is_dir() else []
    if plots:
        body += ["## Robustness plots", ""] + [f"![{p.stem}]({PLOTS_DIR}/{p.name})" for p in plots] + [""]
    body += [
        "## Limitations",
        "",
        "- Figures are measured on the budget stated above (CPU training on a shared machine); they are not "
        "the paper's figures and are not comparable with fully trained models.",
        "- Inputs must match the configured size and channels; the model expects [0, 1] pixels.",
        "",
        "## Licence",
        "",
        f"- Weights: {license}.",
        f"- Training data: {data_terms}",
        "",
        "## Files",
        "",
        "| file | bytes | sha256 |",
        "|---|---|---|",
    ]
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != CARD_NAME and not p.name.startswith("."))
    body += [f"| {p.name} | {p.stat().st_size:,} | `{sha256_file(p)}` |" for p in files]
    data = _card_data(config, name, license, results)
    return f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body) + "\n"


def write_card(source: str | os.PathLike, out: str | os.PathLike | None = None, **kwargs: Any) -> Path:
    """Write the card to ``out`` (default: README.md in the checkpoint folder); return its path."""
    text = build_card(source, **kwargs)
    path = Path(out) if out else Path(resolve(source)) / CARD_NAME
    atomic_write_bytes(path, text.encode())
    return path


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("card", help="generate the model card (README.md) of a checkpoint or run")
    p.add_argument("source", metavar="NAME_OR_RUN")
    p.add_argument("--eval", dest="evaluations", action="append", default=None, metavar="JSON",
                   help="evaluation JSON of this checkpoint (`neurozoo eval --json`); repeatable "
                        "(default: the folder's eval*.json)")
    p.add_argument("--int8-eval", dest="int8_evaluations", action="append", default=[], metavar="JSON",
                   help=f"evaluation JSON of its {INT8_FILE} export; repeatable")
    p.add_argument("--baseline-eval", dest="baseline_evaluations", action="append", default=None, metavar="JSON",
                   help="evaluation JSON of the baseline trained with the same budget; repeatable "
                        "(default: those of the record's baseline)")
    p.add_argument("--license", default=None, help="the weights' licence, e.g. mit (default: the record's)")
    p.add_argument("--data-terms", default=None, help="the training data's terms, in words (default: the record's)")
    p.add_argument("--name", default=None, help="checkpoint name shown in the card (default method-arch-dataset)")
    p.add_argument("--out", default=None, help="where to write (default: README.md in the folder)")
    p.set_defaults(func=_cmd_card)


def _cmd_card(args) -> int:
    path = write_card(args.source, args.out, evaluations=args.evaluations, int8_evaluations=args.int8_evaluations,
                      baseline_evaluations=args.baseline_evaluations, license=args.license,
                      data_terms=args.data_terms, name=args.name)
    print(f"wrote {path}")
    return 0
