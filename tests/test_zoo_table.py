"""The README's zoo table is scripts/zoo_table.py's output from the checkpoint records, never hand-edited."""

from __future__ import annotations

import importlib.util

import pytest

import neurozoo
from neurozoo.record_format import figure_text

from conftest import REPO

spec = importlib.util.spec_from_file_location("zoo_table", REPO / "scripts" / "zoo_table.py")
zoo_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(zoo_table)


def test_readme_holds_the_generated_table():
    readme = (REPO / "README.md").read_text()
    expected = zoo_table.with_table(readme, zoo_table.zoo_table())
    assert readme == expected, "README.md's zoo table is stale: run `.venv/bin/python scripts/zoo_table.py --write`"


def test_one_row_per_published_checkpoint_with_its_record_figures():
    rows = zoo_table.zoo_table().splitlines()[2:]
    assert len(rows) == len(neurozoo.list_models())
    for name, row in zip(neurozoo.list_models(), rows):
        record = neurozoo.get_checkpoint(name)
        assert row.startswith(f"| [{name}](model_cards/{name}/README.md) | `{record.method}` |")
        for figure in (record.metrics.get("top1"), record.int8_metrics.get("top1")):
            if figure is not None:
                assert figure_text(figure) in row
        if record.headline:
            headline = figure_text(record.metrics[record.headline], record.metric_images.get(record.headline),
                                   zoo_table.is_percentage(record, record.headline))
            assert f"{record.headline} {headline}" in row


def test_an_accuracy_reads_as_a_percentage_and_a_score_as_a_number():
    assert figure_text(0.9112) == "91.1 %"
    assert figure_text(0.034746, 1000, percent=False) == "0.03475 (1,000 img)"
    nmhebb = neurozoo.get_checkpoint("nmhebb-resnet18-cifar10")
    assert zoo_table.is_percentage(nmhebb, "top1") and zoo_table.is_percentage(nmhebb, "noise_sigma_0.1")
    assert not zoo_table.is_percentage(nmhebb, "nmi")


def test_markers_must_be_there():
    with pytest.raises(SystemExit, match="markers"):
        zoo_table.with_table("no markers here", "| table |")
    text = f"before\n{zoo_table.BEGIN}\nold\n{zoo_table.END}\nafter"
    assert zoo_table.with_table(text, "new") == f"before\n{zoo_table.BEGIN}\nnew\n{zoo_table.END}\nafter"
