"""Every registered checkpoint record is consistent with its files, evaluation JSON and card.

A record with weights in the repository's ``model_cards/<name>/`` must match them exactly: sha256
and size of each file, parameters and GFLOPs recomputed from the weights, the storage dtype, the
recipe against run.json, every figure against the evaluation JSON of those very weights (int8
figures against the evaluation of the int8 export), the same-budget baseline against its own
record, and every number of the card (README.md, parsed back with huggingface_hub) against the
same JSON. Published names load offline; planned names are not listed unless asked for.
"""

from __future__ import annotations

import json
import re

import pytest
import torch
from huggingface_hub import ModelCard
from safetensors import safe_open

import neurozoo
from neurozoo import hub
from neurozoo.cards import (RUN_CONFIG, build_card, comparable_engine, figures, folder_evaluations, is_baseline_record,
                            is_whole_split, metric_images, record_figures, training_command, training_data_terms)
from neurozoo.checkpoint import read_config, sha256_file
from neurozoo.cli import main as cli_main
from neurozoo.model_stats import count_params, gflops_per_image
from neurozoo.publish import _training_images
from neurozoo.record_format import clean_figure

PUBLISHED = [neurozoo.get_checkpoint(name) for name in neurozoo.list_models()]
EVERY = [neurozoo.get_checkpoint(name) for name in neurozoo.list_models(include_planned=True)]
LOCAL = [r for r in PUBLISHED if (hub.MODEL_CARDS_DIR / r.name / "model.safetensors").exists()]
FLOAT_TYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}  # safetensors' names


@pytest.mark.parametrize("record", EVERY, ids=lambda r: r.name)
def test_record_names_registered_parts(record):
    assert record.method in neurozoo.list_methods()
    assert record.arch in neurozoo.list_architectures()
    assert record.dataset in neurozoo.list_datasets()
    if not record.pretrained:
        assert not record.metrics and not record.int8_metrics, "a planned record must not carry figures"


def test_planned_names_are_listed_only_when_asked_for():
    planned = [r.name for r in EVERY if not r.pretrained]
    assert planned, "the built-in plugins register planned names"
    assert set(neurozoo.list_models()) == {r.name for r in EVERY if r.pretrained}
    assert set(planned) <= set(neurozoo.list_models(include_planned=True))
    assert not set(planned) & set(neurozoo.list_models(include_planned=True, pretrained=True))


def test_at_least_one_checkpoint_ships_with_the_repository():
    assert LOCAL, "model_cards/ holds no checkpoint"


@pytest.mark.parametrize("record", PUBLISHED, ids=lambda r: r.name)
def test_published_record_states_everything(record):
    """torchvision's Weights.meta: size, cost, recipe, licence, paper and figures, none left to a default."""
    assert set(record.file_sizes) == set(record.files)
    assert record.params and record.gflops and record.recipe and record.paper
    assert record.license is not None and record.license.weights
    assert training_data_terms(record.dataset, record.license.data), "the training data's terms are stated"
    assert "--data-dir DATA" in record.recipe.command and record.recipe.images_seen >= record.recipe.epochs
    assert record.headline in record.metrics
    assert set(record.metric_images) <= set(record.metrics)
    if not is_baseline_record(record):
        assert record.baseline, "a method's checkpoint names the baseline trained at the same budget"


@pytest.mark.parametrize("record", PUBLISHED, ids=lambda r: r.name)
def test_baseline_record_has_the_same_budget_and_the_figures(record):
    if not record.baseline:
        return
    baseline = neurozoo.get_checkpoint(record.baseline)
    assert baseline.pretrained and is_baseline_record(baseline) and baseline.dataset == record.dataset
    assert baseline.method in ("baseline", record.method), "a method's own baseline variant is of that method"
    assert (baseline.recipe.epochs, baseline.recipe.images_seen) == (record.recipe.epochs, record.recipe.images_seen)
    assert record.headline in baseline.metrics and clean_figure(record) in baseline.metrics


@pytest.mark.parametrize("record", [r for r in LOCAL if r.baseline], ids=lambda r: r.name)
def test_local_baseline_was_trained_with_the_same_settings(record):
    """Same budget means more than epochs: the engine settings (batch, seed, split, precision, selection)
    and every recipe option both runs have (learning rate, schedule, optimiser) are the same; a method's
    own baseline variant differs from it only in the method's baseline options."""
    ours, theirs = (json.loads((hub.MODEL_CARDS_DIR / name / RUN_CONFIG).read_text())
                    for name in (record.name, record.baseline))
    own = neurozoo.get_method(record.method).trainer.baseline_options if theirs["method"] == ours["method"] else {}
    assert {key: theirs["recipe"][key] for key in own} == own
    for part, settings, skipped in (("engine", comparable_engine, ()), ("recipe", dict, tuple(own))):
        mine, other = settings(ours[part]), settings(theirs[part])
        shared = (mine.keys() & other.keys()) - set(skipped)
        assert {k: mine[k] for k in shared} == {k: other[k] for k in shared}, part


@pytest.mark.parametrize("record", LOCAL, ids=lambda r: r.name)
def test_local_files_match_the_record(record):
    folder = hub.MODEL_CARDS_DIR / record.name
    for filename, digest in record.files.items():
        assert sha256_file(folder / filename) == digest, filename
        assert (folder / filename).stat().st_size == record.file_sizes[filename], filename
    config = read_config(folder)
    assert (config["method"], config["arch"], config["dataset"]) == (record.method, record.arch, record.dataset)
    assert config["dtype"] == record.dtype
    with safe_open(folder / "model.safetensors", "pt") as weights:
        stored = {weights.get_slice(name).get_dtype() for name in weights.keys()}
    floating = {FLOAT_TYPES[t] for t in stored if t in FLOAT_TYPES}
    assert record.dtype in floating <= {record.dtype, "float32"}  # parameters in the dtype, buffers may stay float32
    model = neurozoo.load(record.name)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # load returns float32 whatever is stored
    assert count_params(model) == record.params
    assert gflops_per_image(model) == record.gflops


@pytest.mark.parametrize("record", LOCAL, ids=lambda r: r.name)
def test_local_recipe_matches_run_json(record, shared_data):
    run = json.loads((hub.MODEL_CARDS_DIR / record.name / RUN_CONFIG).read_text())
    epochs = sum(phase["epochs"] for phase in run["phases"])
    assert record.recipe.command == training_command(run)
    assert record.recipe.epochs == epochs
    assert record.recipe.batch_size == run["engine"]["batch_size"] * run["engine"].get("world_size", 1)
    assert record.recipe.images_seen == epochs * _training_images(run, shared_data)
    assert run["engine"]["precision"] in record.recipe.precision


@pytest.mark.parametrize("record", LOCAL, ids=lambda r: r.name)
def test_local_figures_are_those_of_the_evaluation_json(record):
    evaluations = folder_evaluations(hub.MODEL_CARDS_DIR / record.name)  # refuses JSON of other weights
    # figure -> (value, test images, whole split?) as the evaluation JSON says
    measured = {figure: (v, metric_images(r, metric), is_whole_split(r, metric))
                for figure, (r, metric, v) in record_figures(evaluations.torch, record.dataset).items()}
    for name, value in record.metrics.items():
        images = record.metric_images.get(name)
        expected = (value, images, False) if images else (value, measured.get(name, (0, 0))[1], True)
        assert measured.get(name) == expected, f"{name}: record {expected}, JSON {measured.get(name)}"
    int8 = {figure: v for figure, (r, metric, v) in record_figures(evaluations.int8, record.dataset).items()
            if is_whole_split(r, metric)}
    assert record.int8_metrics == {k: v for k, v in int8.items() if k in record.int8_metrics}
    assert set(record.int8_metrics) >= {"top1"} & set(int8)


def _table_rows(text: str, header_start: str) -> list[list[str]]:
    """The rows of the markdown table whose header starts with ``header_start``, as lists of cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


@pytest.mark.parametrize("record", LOCAL, ids=lambda r: r.name)
def test_local_card_numbers_are_those_of_the_evaluation_json(record):
    folder = hub.MODEL_CARDS_DIR / record.name
    text = (folder / "README.md").read_text()
    assert text == build_card(record.name), "the card is stale: run `neurozoo card NAME`"
    card = ModelCard(text)
    assert card.data.library_name == "neurozoo" and card.data.license == record.license.weights
    evaluations = folder_evaluations(folder)
    ours = figures(evaluations.torch)
    indexed = [(r.dataset_split, r.metric_type, r.metric_value) for r in card.data.eval_results]
    assert sorted(indexed) == sorted((d.split("/")[1], f, v) for (d, _, f), v in ours.items() if v is not None)
    # the card's model-index holds the record's figures, those of other test sets under their names
    named = {(f if d == record.dataset else f"{d}/{f}"): v for d, f, v in
             ((r.dataset_name, r.metric_type, r.metric_value) for r in card.data.eval_results)}
    assert all(named[f] == v for f, v in record.metrics.items() if f not in record.metric_images)

    baseline = folder_evaluations(hub.MODEL_CARDS_DIR / record.baseline).torch if record.baseline else ()
    theirs = {(d, f): v for (d, _, f), v in figures(baseline).items()}
    by_figure = {(d, f): v for (d, _, f), v in ours.items()}
    rows = _table_rows(text, "| data | images | figure | this model |")
    assert len(rows) == len(ours)
    def shown(value):  # a figure without a value (a convergence epoch never reached) reads "undefined"
        return "undefined" if value is None else f"{value:.4f}"

    for row in rows:
        figure = row[0], row[2]
        assert row[3] == shown(by_figure[figure]), figure
        if baseline:  # a figure the baseline cannot have (a KomplexNet's synchrony) reads "not measured"
            assert row[4] == (shown(theirs[figure]) if figure in theirs else "not measured"), figure
    int8 = {(d, f): v for (d, _, f), v in figures(evaluations.int8).items()}
    for row in (_table_rows(text, "| data | images | figure | float32 (torch) | int8 ONNX |") if int8 else []):
        assert (row[3], row[4]) == (shown(by_figure[row[0], row[2]]), shown(int8[row[0], row[2]]))
    model_rows = dict(row[:2] for row in _table_rows(text, "| | |"))
    assert model_rows["parameters"] == f"{record.params:,}"
    assert model_rows["GFLOPs per image"].startswith(f"{record.gflops} ")
    assert model_rows["weights"].startswith(f"model.safetensors, {record.file_sizes['model.safetensors']:,} bytes")
    assert record.recipe.command in text and record.files["model.safetensors"] in text
    assert not re.search(r"(/work/|/home/|/root/|\.\./shared)", text), "machine paths in the card"


def test_every_listed_name_loads_offline(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cli_main(["list"]) == 0
    listed = re.findall(r"^│ (\S+)", capsys.readouterr().out, re.MULTILINE)
    assert listed == neurozoo.list_models()
    for name in listed:
        assert neurozoo.load(name).training is False


@pytest.mark.parametrize("record", LOCAL, ids=lambda r: r.name)
def test_local_checkpoint_loads_by_name_and_classifies_real_images(record, shared_data):
    model = neurozoo.load(record.name)
    figure = clean_figure(record)  # top1, or exact_set for a multi-label set (both digits in the top two)
    result = neurozoo.evaluate(model, record.dataset, [figure], limit=256, data_dir=shared_data)
    # 256 images: within 0.15 of the recorded full-test-set figure
    assert abs(result["metrics"][figure][figure] - record.metrics[figure]) < 0.15
