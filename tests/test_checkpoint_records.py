"""Every registered checkpoint record is consistent: names, files, hashes, metrics and card.

A record with weights in the repository's ``model_cards/<name>/`` must match them exactly: the
sha256 of each file, the config (method, arch, dataset), the metrics (equal to the figures of the
evaluation JSON that the card quotes) and the card's model-index.
"""

from __future__ import annotations

import json

import pytest
import torch
from huggingface_hub import ModelCard

import neurozoo
from neurozoo import hub
from neurozoo.checkpoint import read_config, sha256_file

RECORDS = [neurozoo.get_checkpoint(name) for name in neurozoo.list_models()]
LOCAL = [r for r in RECORDS if (hub.MODEL_CARDS_DIR / r.name / "model.safetensors").exists()]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
def test_record_names_registered_parts(record):
    assert record.method in neurozoo.list_methods()
    assert record.arch in neurozoo.list_architectures()
    assert record.dataset in neurozoo.list_datasets()
    if not record.pretrained:
        assert not record.metrics, "a planned record must not carry metrics"


def test_at_least_one_checkpoint_ships_with_the_repository():
    assert LOCAL, "model_cards/ holds no checkpoint"


@pytest.mark.parametrize("record", LOCAL, ids=lambda r: r.name)
def test_local_checkpoint_matches_its_record_and_card(record):
    folder = hub.MODEL_CARDS_DIR / record.name
    for filename, digest in record.files.items():
        assert sha256_file(folder / filename) == digest, filename
    config = read_config(folder)
    assert (config["method"], config["arch"], config["dataset"]) == (record.method, record.arch, record.dataset)
    figures = {}
    for path in folder.glob("eval*.json"):
        result = json.loads(path.read_text())
        assert result["checkpoint_sha256"] == record.files["model.safetensors"], path.name
        if result["limit"] is None:  # record metrics come from full test-set evaluations only
            figures.update({f: v for metric in result["metrics"].values() for f, v in metric.items()})
    assert record.metrics and all(figures[k] == v for k, v in record.metrics.items())
    card = ModelCard.load(folder / "README.md")
    assert card.data.library_name == "neurozoo"
    indexed = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert all(indexed[k] == v for k, v in record.metrics.items())
    assert record.files["model.safetensors"] in card.text


@pytest.mark.parametrize("record", LOCAL, ids=lambda r: r.name)
def test_local_checkpoint_loads_by_name_and_classifies_real_images(record, shared_data):
    model = neurozoo.load(record.name)
    data = neurozoo.get_dataset(record.dataset).load("test", root=shared_data)
    images, labels = zip(*(data[i] for i in range(256)))
    with torch.inference_mode():
        predictions = model(torch.stack(images)).argmax(1)
    accuracy = (predictions == torch.tensor(labels)).float().mean().item()
    # 256 images: within 0.15 of the recorded full-test-set top-1
    assert abs(accuracy - record.metrics["top1"]) < 0.15
