"""Model cards generated from what was measured: the checkpoint, its run and its evaluation JSON.

``neurozoo card RUN --eval RUN/eval.json --baseline-eval BASELINE/eval.json`` writes ``RUN/README.md``:
YAML metadata (``huggingface_hub.ModelCardData``: library_name, license, tags, datasets,
model-index from the evaluation figures) and a body with the method and its citation, how to load
it (torch and the ONNX runtime), the exact training command and budget, the baseline's figures
beside the method's, robustness plots, limitations and the sha256 of every file.

Every number comes from a file: an evaluation JSON whose ``checkpoint_sha256`` is not this
checkpoint's is refused, so a card cannot quote another model's figures.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neurozoo import registry
from neurozoo.checkpoint import CARD_NAME, WEIGHTS_NAME, atomic_write_bytes, read_config, sha256_file
from neurozoo.errors import ConfigError
from neurozoo.zoo import resolve

RUN_CONFIG = "run.json"  # written by the training engine (neurozoo.training.runfolder)
METRICS_LOG = "metrics.jsonl"
PLOTS_DIR = "plots"


def _read_json(path: str | os.PathLike) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read evaluation JSON {path}: {exc}") from None


def _checked_evaluations(paths: Sequence[str | os.PathLike], sha256: str | None) -> list[dict[str, Any]]:
    results = []
    for path in paths:
        result = _read_json(path)
        if sha256 is not None and result.get("checkpoint_sha256") != sha256:
            raise ConfigError(
                f"{path} evaluated checkpoint {result.get('checkpoint_sha256')}, not this one ({sha256}); "
                "re-run `neurozoo eval` on this checkpoint"
            )
        results.append(result)
    return results


def _figures(results: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str], float | None]:
    """(dataset/split, metric, figure) -> value over several evaluation results."""
    return {
        (f"{r['dataset']}/{r['split']}", metric, figure): value
        for r in results
        for metric, figures in r["metrics"].items()
        for figure, value in figures.items()
    }


def _training_command(run: dict[str, Any]) -> str:
    """The `neurozoo train` command line, or the `neurozoo.train(...)` call when run from Python."""
    command = run.get("command", {})
    argv = command.get("argv") or []
    if argv and Path(argv[0]).name == "neurozoo":
        return "neurozoo " + shlex.join(argv[1:])
    arguments = ", ".join(f"{key}={value!r}" for key, value in command.get("call", {}).items())
    return f"neurozoo.train({arguments})"


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
        for (dataset, metric, figure), value in _figures(results).items()
        if value is not None
    ]
    return ModelCardData(
        library_name="neurozoo",
        license=license,
        tags=["neurozoo", config["method"], config["arch"], *( [config["dataset"]] if config["dataset"] else [])],
        datasets=[config["dataset"]] if config["dataset"] else None,
        model_name=name,
        eval_results=eval_results or None,
    )


def _evaluation_section(results, baseline, is_baseline: bool) -> list[str]:
    if not results:
        return ["No evaluation JSON was given: this card reports no figures. Run `neurozoo eval` and "
                "regenerate the card."]
    ours, theirs = _figures(results), _figures(baseline)
    samples = {(f"{r['dataset']}/{r['split']}", metric): r["num_samples"] for r in results for metric in r["metrics"]}
    if is_baseline:
        lines = ["This checkpoint is the plain cross-entropy baseline the methods are compared with.", ""]
    elif not baseline:
        lines = ["No evaluation of a baseline trained with the same budget was given: the figures below "
                 "stand alone.", ""]
    else:
        lines = []
    header = "| data | samples | metric | figure | this model |"
    lines += [header + (" baseline (same budget) |" if baseline else ""), "|---" * (5 + bool(baseline)) + "|"]
    for (dataset, metric, figure), value in ours.items():
        row = f"| {dataset} | {samples[dataset, metric]} | {metric} | {figure} | {_fmt(value)} |"
        if baseline:
            other = theirs.get((dataset, metric, figure))
            row += f" {_fmt(other) if other is not None else 'not measured'} |"
        lines.append(row)
    lines += ["", "Commands that produced these figures:", ""]
    lines += [f"- this model: `{r['command']}`" for r in results]
    lines += [f"- baseline: `{r['command']}` (checkpoint sha256 `{r['checkpoint_sha256']}`)" for r in baseline]
    return lines


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"


def build_card(
    source: str | os.PathLike,
    *,
    evaluations: Sequence[str | os.PathLike] = (),
    baseline_evaluations: Sequence[str | os.PathLike] = (),
    license: str = "mit",
    name: str | None = None,
) -> str:
    """The model card text (YAML front matter + markdown) for a checkpoint or run folder."""
    folder = Path(resolve(source))
    config = read_config(folder)
    weights_sha = sha256_file(folder / WEIGHTS_NAME)
    results = _checked_evaluations(evaluations, weights_sha)
    baseline = _checked_evaluations(baseline_evaluations, None)
    name = name or f"{config['method']}-{config['arch']}-{config['dataset'] or 'custom'}"
    method = registry.get_method(config["method"])
    run = json.loads((folder / RUN_CONFIG).read_text()) if (folder / RUN_CONFIG).is_file() else None

    body = [f"# {name}", ""]
    body += [f"Trained with the `{method.name}` method: {method.description or 'no description'}.", ""]
    if method.paper:
        body += [f"Paper: {method.paper}", ""]
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
    if run is not None:
        engine = run.get("engine", {})
        body += [
            f"Command: `{_training_command(run)}`",
            "",
            *([f"The run was stopped and resumed {len(run['resumes'])} time(s) (exact resume: same weights "
               "as an uninterrupted run).", ""] if run.get("resumes") else []),
            f"Budget: {sum(p['epochs'] for p in run.get('phases', []))} epoch(s) over "
            f"{'the first ' + str(engine['limit']) + ' images of ' if engine.get('limit') else ''}the "
            f"{run['dataset']} training split, batch {engine.get('batch_size')}, seed {engine.get('seed')}, "
            f"{engine.get('precision')} on {engine.get('device')}.",
            "",
            "Recipe (method options):",
            "",
            "```json",
            json.dumps(run.get("recipe", {}), indent=2),
            "```",
            "",
        ]
    else:
        body += ["This checkpoint has no run record (`run.json`): how it was trained is not known.", ""]
    body += ["## Evaluation", "", *_evaluation_section(results, baseline, config["method"] == "baseline"), ""]
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
        "## Files",
        "",
        "| file | sha256 |",
        "|---|---|",
    ]
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != CARD_NAME and not p.name.startswith("."))
    body += [f"| {p.name} | `{sha256_file(p)}` |" for p in files]
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
    p.add_argument("--eval", dest="evaluations", action="append", default=[], metavar="JSON",
                   help="evaluation JSON of this checkpoint (`neurozoo eval --json`); repeatable")
    p.add_argument("--baseline-eval", dest="baseline_evaluations", action="append", default=[], metavar="JSON",
                   help="evaluation JSON of the baseline trained with the same budget; repeatable")
    p.add_argument("--license", default="mit")
    p.add_argument("--name", default=None, help="checkpoint name shown in the card (default method-arch-dataset)")
    p.add_argument("--out", default=None, help="where to write (default: README.md in the folder)")
    p.set_defaults(func=_cmd_card)


def _cmd_card(args) -> int:
    path = write_card(args.source, args.out, evaluations=args.evaluations,
                      baseline_evaluations=args.baseline_evaluations, license=args.license, name=args.name)
    print(f"wrote {path}")
    return 0
