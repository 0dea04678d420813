"""Model cards: generated from the run and evaluation JSON; refuse figures of another checkpoint."""

from __future__ import annotations

import json

import pytest
from huggingface_hub import ModelCard

import neurozoo
from neurozoo import plugins
from neurozoo.cards import build_card
from neurozoo.checkpoint import sha256_file
from neurozoo.cli import main as cli_main
from neurozoo.evaluation.report import write_json

from tiny_training_plugin import ARCH, DATASET, TinyTrainingPlugin


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    plugins.register(TinyTrainingPlugin(), name="tiny_training_cards")
    root = tmp_path_factory.mktemp("card_runs")
    method_run = neurozoo.train("baseline", ARCH, DATASET, epochs=1, batch_size=32, out=root / "method")
    baseline_run = neurozoo.train("baseline", ARCH, DATASET, epochs=1, batch_size=32, seed=1, out=root / "base")
    evals = {}
    for run in (method_run, baseline_run):
        evals[run] = write_json(neurozoo.evaluate(run, DATASET, ["top1"]), run / "eval.json")
    yield method_run, baseline_run, evals
    plugins.unregister("tiny_training_cards")


def test_card_metadata_and_figures_come_from_the_files(runs):
    method_run, baseline_run, evals = runs
    text = build_card(method_run, evaluations=[evals[method_run]], baseline_evaluations=[evals[baseline_run]])
    card = ModelCard(text)
    assert card.data.library_name == "neurozoo"
    assert card.data.license == "mit"
    assert {"neurozoo", "baseline", ARCH, DATASET} <= set(card.data.tags)
    measured = json.loads(evals[method_run].read_text())["metrics"]["top1"]["top1"]
    [result] = card.data.eval_results
    assert (result.metric_type, result.metric_value, result.dataset_split) == ("top1", measured, "test")
    baseline = json.loads(evals[baseline_run].read_text())["metrics"]["top1"]["top1"]
    assert f"| {measured:.4f} | {baseline:.4f} |" in text  # method and baseline side by side
    assert sha256_file(method_run / "model.safetensors") in text
    assert "neurozoo train baseline" in text or "neurozoo.train(" in text
    assert "1 epoch(s)" in text


def test_an_evaluation_of_another_checkpoint_is_refused(runs):
    method_run, baseline_run, evals = runs
    with pytest.raises(neurozoo.ConfigError, match="re-run `neurozoo eval`"):
        build_card(method_run, evaluations=[evals[baseline_run]])


def test_card_command_writes_readme(runs, capsys):
    method_run, _, evals = runs
    assert cli_main(["card", str(method_run), "--eval", str(evals[method_run])]) == 0
    assert (method_run / "README.md").read_text().startswith("---\n")
    assert "wrote" in capsys.readouterr().out


def test_a_card_without_evaluation_says_so(runs):
    method_run, _, _ = runs
    text = build_card(method_run)
    assert "reports no figures" in text
    assert ModelCard(text).data.eval_results is None
