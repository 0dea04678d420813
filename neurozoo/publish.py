"""Publishing a checkpoint: its record (``neurozoo record``) and its upload (``neurozoo push``).

``neurozoo record RUN --data-dir DATA --hardware ... --license ...`` measures a
run folder and prints the :class:`~neurozoo.records.Checkpoint` record to register: files and
sha256, sizes, storage dtype, parameters, GFLOPs, the recipe (command, epochs, images seen), the
figures of the folder's evaluation JSON (``eval*.json``; int8 ones apart) and the terms. Adding a
checkpoint to the zoo is: a run folder, its evaluation JSON, this record in a plugin's checkpoints,
the folder copied to ``model_cards/<name>/``, ``neurozoo card <name>`` and ``scripts/zoo_table.py``.

``neurozoo push`` uploads a checkpoint folder to a Hub repo in one commit. The folder is checked
first (schema-valid config, strictly loadable weights), so nothing broken is published. The token
comes from ``HF_TOKEN`` or the stored Hugging Face login; the endpoint from ``HF_ENDPOINT`` at call
time. The result carries the commit sha and the sha256 of every uploaded file, i.e. everything a
``Checkpoint`` record needs to pin the upload.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurozoo.checkpoint import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME, load_folder, read_config, sha256_file
from neurozoo.errors import ConfigError, NeurozooError
from neurozoo.records import Checkpoint, License, Recipe
from neurozoo.zoo import resolve

PUBLISHED_FILES = (WEIGHTS_NAME, CONFIG_NAME, CARD_NAME, "model.onnx", "model.int8.onnx")
RECORD_FILES = (WEIGHTS_NAME, CONFIG_NAME)  # what load needs, so what a record pins
PRECISION_POLICY = {
    "bf16": "bf16 autocast of the forward pass, fp32 weights, gradients and optimiser state",
    "fp32": "fp32 throughout",
}


def _py(value: Any, indent: str = "") -> str:
    """Python source of a record value: records as keyword calls, one field per line."""
    if dataclasses.is_dataclass(value):
        inner = indent + "    "
        fields = [f for f in dataclasses.fields(value) if getattr(value, f.name) != _default(f)]
        body = "".join(f"{inner}{f.name}={_py(getattr(value, f.name), inner)},\n" for f in fields)
        return f"{type(value).__name__}(\n{body}{indent})"
    if isinstance(value, dict):
        entries = [f"{_py(k)}: {_py(v)}" for k, v in value.items()]
        if len(indent) + sum(len(e) + 2 for e in entries) <= 100:
            return "{" + ", ".join(entries) + "}"
        return "{\n" + "".join(f"{indent}    {e},\n" for e in entries) + indent + "}"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    return field.default_factory() if field.default_factory is not dataclasses.MISSING else dataclasses.MISSING


def record_source(record: Checkpoint) -> str:
    """Python source of ``record`` (fields left at their defaults omitted), to paste into a plugin."""
    return _py(record)


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    revision: str
    commit: str
    files: dict[str, str]  # filename -> sha256
    config: dict

    def record_source(self) -> str:
        """Python source of the ``Checkpoint`` fields that pin this upload (merge them into its record)."""
        return record_source(Checkpoint(
            method=self.config["method"], arch=self.config["arch"], dataset=self.config.get("dataset") or "UNKNOWN",
            repo_id=self.repo_id, revision=self.commit,
            files={name: digest for name, digest in sorted(self.files.items()) if name in RECORD_FILES},
        ))


def push(
    name_or_path: str | os.PathLike,
    repo_id: str,
    *,
    revision: str | None = None,
    private: bool = False,
    token: str | None = None,
    commit_message: str | None = None,
) -> PushResult:
    import huggingface_hub
    from huggingface_hub import errors

    folder = Path(resolve(name_or_path))
    config = read_config(folder)
    load_folder(folder)  # refuse to publish weights that do not load strictly
    present = [name for name in PUBLISHED_FILES if (folder / name).is_file()]
    token = token or huggingface_hub.get_token()
    if not token:
        raise NeurozooError("no Hugging Face token: set HF_TOKEN or run `hf auth login`, then push again")
    api = huggingface_hub.HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=token)
    branch = revision or "main"
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        if branch != "main":
            api.create_branch(repo_id, branch=branch, exist_ok=True)
        info = api.upload_folder(
            folder_path=folder,
            repo_id=repo_id,
            revision=branch,
            allow_patterns=present,
            commit_message=commit_message or f"Upload {config['method']}-{config['arch']} with neurozoo",
        )
    except errors.HfHubHTTPError as exc:
        raise NeurozooError(f"pushing {folder} to {repo_id}@{branch} failed: {exc}") from None
    return PushResult(
        repo_id=repo_id,
        revision=branch,
        commit=info.oid,
        files={name: sha256_file(folder / name) for name in present},
        config=config,
    )


def _training_images(run: dict[str, Any], data_dir: str | os.PathLike | None) -> int:
    """Images of one training epoch: the split, limited, less the validation images held out."""
    from neurozoo.registry import get_dataset
    from neurozoo.training.data import first
    from neurozoo.training.validation import split_indices

    engine = run["engine"]
    count = len(first(get_dataset(run["dataset"]).load("train", root=data_dir), engine.get("limit")))
    if engine.get("val_fraction"):
        count = len(split_indices(count, engine["val_fraction"], engine["seed"])[0])
    return count


def draft_record(
    source: str | os.PathLike,
    *,
    hardware: str,
    license: str,
    data_terms: str = "",
    data_dir: str | os.PathLike | None = None,
    name: str | None = None,
    repo_id: str | None = None,
    baseline: str = "",
    headline: str = "",
    paper: str | None = None,
    description: str = "",
) -> Checkpoint:
    """The record of a run folder, every number measured from its files and evaluation JSON.

    ``metrics`` holds the figures of the evaluations of the whole test split (those of a metric that
    stops at ``max_samples``, the attacks, with their image count in ``metric_images``), and
    ``headline`` (the robustness figure of the zoo table) from whichever evaluation has it, its image
    count then in ``metric_images``; ``int8_metrics`` the figures of whole-test-split evaluations of the int8
    export. Figures of a set other than the training set's are named with that set first
    (``multimnist_o50/exact_set``, :func:`neurozoo.cards.record_figures`). ``hardware`` says what
    trained it, in words (run.json does not know); ``data_terms`` the training data's terms, needed
    only where the dataset's record states none.
    """
    from neurozoo import registry
    from neurozoo.cards import (
        RUN_CONFIG,
        folder_evaluations,
        is_whole_split,
        metric_images,
        record_figures,
        training_command,
        training_data_terms,
    )
    from neurozoo.model_stats import count_params, gflops_per_image

    folder = Path(resolve(source))
    config = read_config(folder)
    run_path = folder / RUN_CONFIG
    if not run_path.is_file():
        raise ConfigError(f"{folder} has no {RUN_CONFIG}: a record states how its weights were trained")
    run = json.loads(run_path.read_text())
    if not training_data_terms(config["dataset"], data_terms):
        raise ConfigError(f"dataset {config['dataset']!r} states no terms of use: say what they are, and where "
                          "they are stated, with --data-terms")
    base = f"{config['method']}-{config['arch']}-{config['dataset']}"
    name = name or base
    if name != base and not name.startswith(base + "."):
        raise ConfigError(f"name {name!r} must be {base!r} or {base}.TAG (method-arch-dataset of the checkpoint)")
    model = load_folder(folder)
    evaluations = folder_evaluations(folder)
    # figure -> (value, test images, whole split?, evaluation of the whole split?)
    measured = {figure: (value, metric_images(r, metric), is_whole_split(r, metric), r["limit"] is None)
                for figure, (r, metric, value) in record_figures(evaluations.torch, config["dataset"]).items()
                if value is not None}
    metrics = {figure: value for figure, (value, *_, unlimited) in measured.items() if unlimited}
    # an attack of a whole-split evaluation stops at its max_samples: say how many
    images = {figure: count for figure, (_, count, whole, unlimited) in measured.items() if unlimited and not whole}
    if headline and headline not in metrics:
        if headline not in measured:
            raise ConfigError(f"no evaluation JSON in {folder} has the figure {headline!r}")
        metrics[headline], images[headline], *_ = measured[headline]
    engine = run["engine"]
    epochs = sum(phase["epochs"] for phase in run["phases"])
    record = Checkpoint(
        method=config["method"], arch=config["arch"], dataset=config["dataset"], tag=name[len(base) + 1:],
        repo_id=repo_id or f"neurozoo/{name}",
        files={f: sha256_file(folder / f) for f in RECORD_FILES},
        file_sizes={f: (folder / f).stat().st_size for f in RECORD_FILES},
        dtype=config["dtype"],
        params=count_params(model),
        gflops=gflops_per_image(model),
        recipe=Recipe(
            command=training_command(run),
            epochs=epochs,
            images_seen=epochs * _training_images(run, data_dir),
            batch_size=engine["batch_size"] * engine.get("world_size", 1),
            precision=PRECISION_POLICY.get(engine["precision"], engine["precision"])
            + (", channels_last" if engine.get("channels_last") else ""),
            hardware=hardware,
        ),
        license=License(weights=license, data=data_terms),
        paper=registry.get_method(config["method"]).paper if paper is None else paper,
        metrics=metrics,
        metric_images=images,
        headline=headline,
        baseline=baseline,
        int8_metrics={figure: value
                      for figure, (r, metric, value) in record_figures(evaluations.int8, config["dataset"]).items()
                      if value is not None and is_whole_split(r, metric)},
        description=description,
    )
    record.validate()
    return record


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "record", help="print the Checkpoint record of a run folder, measured from its files and eval*.json",
        description="Measure a run folder (sha256, sizes, parameters, GFLOPs, recipe, figures of its eval*.json) "
        "and print the Checkpoint record to register for it.",
    )
    p.add_argument("source", metavar="RUN_OR_FOLDER")
    p.add_argument("--hardware", required=True, help='what trained it, e.g. "CPU: 2 cores of an AMD EPYC (Zen 4)"')
    p.add_argument("--license", required=True, help="the weights' licence, e.g. mit")
    p.add_argument("--data-terms", default="",
                   help="the training data's terms, in words, with where they are stated (default: the dataset's)")
    p.add_argument("--data-dir", help="dataset folder, to count the training images (default: $NEUROZOO_DATA)")
    p.add_argument("--name", help="checkpoint name (default method-arch-dataset; METHOD-ARCH-DATASET.TAG for a tag)")
    p.add_argument("--repo-id", help="Hub repo (default neurozoo/NAME)")
    p.add_argument("--baseline", default="", help="name of the baseline record trained at the same budget")
    p.add_argument("--headline", default="", help="the robustness figure the zoo table shows, e.g. noise_sigma_0.1")
    p.add_argument("--paper", default=None, help="the paper (default: the method's)")
    p.add_argument("--description", default="")
    p.set_defaults(func=_cmd_record)

    p = subparsers.add_parser("push", help="upload a checkpoint folder to a Hugging Face Hub repo")
    p.add_argument("source", metavar="NAME_OR_RUN", help="registered name, run folder or checkpoint folder")
    p.add_argument("--repo-id", required=True, help="ORG/NAME of the Hub repo (created if needed)")
    p.add_argument("--revision", default=None, help="branch to commit to (created if needed; default main)")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.set_defaults(func=_cmd_push)


def _cmd_record(args) -> int:
    record = draft_record(
        args.source, hardware=args.hardware, license=args.license, data_terms=args.data_terms,
        data_dir=args.data_dir, name=args.name, repo_id=args.repo_id, baseline=args.baseline,
        headline=args.headline, paper=args.paper, description=args.description,
    )
    print(record_source(record))
    return 0


def _cmd_push(args) -> int:
    result = push(args.source, args.repo_id, revision=args.revision, private=args.private)
    print(f"pushed {', '.join(result.files)} to {result.repo_id}@{result.revision}")
    print(f"commit {result.commit}")
    print("checkpoint record pinning this upload:")
    print(result.record_source())
    return 0
