"""Integrity of loading: tampering is caught, names are not shadowed, the verified-hash index survives
garbage and concurrent writers, and config.json is checked against the schema and the weights."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

import neurozoo
from neurozoo import hub

from test_load import published  # noqa: F401  (a tiny checkpoint in a mirror folder, with its record)

BASELINE = "baseline-resnet18-cifar10"


def _hash_calls(monkeypatch) -> list[str]:
    """Names of the files hashed from now on (the index spares the others)."""
    calls: list[str] = []
    real = hub.sha256_file
    monkeypatch.setattr(hub, "sha256_file", lambda path: calls.append(Path(path).name) or real(path))
    return calls


def _index_entries(cache: Path) -> list[Path]:
    return sorted((cache / "neurozoo" / "verified").glob("*.json"))


@pytest.fixture
def baseline_copy(tmp_path, monkeypatch):
    """The registered baseline's files copied into $NEUROZOO_HUB_DIR, the installed folder hidden, so
    a test may edit them without touching the repository's model_cards/."""
    mirror = tmp_path / "mirror"
    shutil.copytree(hub.MODEL_CARDS_DIR / BASELINE, mirror / BASELINE)
    monkeypatch.setattr(hub, "MODEL_CARDS_DIR", tmp_path / "nothing-installed")
    monkeypatch.setenv("NEUROZOO_HUB_DIR", str(mirror))
    return mirror / BASELINE


# ---------------------------------------------------------------- tampering and names
def test_an_edited_byte_with_its_mtime_restored_is_caught(baseline_copy, monkeypatch):
    weights = baseline_copy / "model.safetensors"
    calls = _hash_calls(monkeypatch)
    neurozoo.load(BASELINE)
    neurozoo.load(BASELINE)
    assert calls.count("model.safetensors") == 1, "the second load should use the verified-hash index"
    before = os.stat(weights)
    with open(weights, "r+b") as f:  # in place: same inode, same size
        f.seek(before.st_size // 2)
        byte = f.read(1)
        f.seek(before.st_size // 2)
        f.write(bytes([byte[0] ^ 0x01]))
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))  # what `touch -r` does
    after = os.stat(weights)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    with pytest.raises(neurozoo.IntegrityError, match="model.safetensors.*expected"):
        neurozoo.load(BASELINE)


def test_a_folder_named_like_a_registered_name_does_not_shadow_it(published, tmp_path, monkeypatch):  # noqa: F811
    impostor, _, _ = published  # a tiny_net checkpoint, nothing like the registered resnet18
    monkeypatch.chdir(tmp_path)
    neurozoo.save(impostor, tmp_path / BASELINE)
    assert neurozoo.load(BASELINE).config["arch"] == "resnet18"  # through its record, sha256 checked
    for as_path in (f"./{BASELINE}", f"file:{BASELINE}", Path(BASELINE), str(tmp_path / BASELINE)):
        assert neurozoo.load(as_path).config["arch"] == "tiny_net", as_path


def test_a_bare_word_that_is_only_a_folder_says_how_to_load_it(tmp_path, monkeypatch, published):  # noqa: F811
    model, _, _ = published
    monkeypatch.chdir(tmp_path)
    neurozoo.save(model, tmp_path / "my-run")
    with pytest.raises(neurozoo.UnknownNameError, match=r"'\./my-run'"):
        neurozoo.load("my-run")


def test_a_mirror_missing_a_listed_file_is_a_checkpoint_error(published, monkeypatch):  # noqa: F811
    _, mirror, record = published
    monkeypatch.setenv("NEUROZOO_HUB_DIR", str(mirror))
    (mirror / record.name / "config.json").unlink()
    with pytest.raises(neurozoo.CheckpointError, match="config.json cannot be read"):
        neurozoo.load(record.name)


@pytest.mark.parametrize("value", [None, 3, 2.5, b"baseline-resnet18-cifar10", ["x"]])
def test_load_refuses_what_is_neither_a_name_nor_a_path(value):
    with pytest.raises(neurozoo.ConfigError, match="registered name.*os.PathLike.*hf-hub") as info:
        neurozoo.load(value)
    assert "\n" not in str(info.value)


def test_a_revision_with_a_folder_is_refused(published):  # noqa: F811
    _, mirror, record = published
    with pytest.raises(neurozoo.ConfigError, match="revision"):
        neurozoo.load(mirror / record.name, revision="v1")


# ---------------------------------------------------------------- the verified-hash index
GARBAGE = {
    "invalid JSON": lambda entry: entry.write_text("{not json"),
    "a JSON list": lambda entry: entry.write_text("[1, 2, 3]"),
    "wrong value types": lambda entry: entry.write_text(json.dumps({"path": 3, "stat": "x", "sha256": 7})),
    "binary noise": lambda entry: entry.write_bytes(bytes(range(256))),
    "a folder": lambda entry: (entry.unlink(), entry.mkdir()),
}


@pytest.mark.parametrize("garbage", GARBAGE, ids=list(GARBAGE))
def test_garbage_index_entries_are_misses(published, monkeypatch, isolated_caches, garbage):  # noqa: F811
    _, mirror, record = published
    monkeypatch.setenv("NEUROZOO_HUB_DIR", str(mirror))
    neurozoo.load(record.name)
    entries = _index_entries(isolated_caches)
    assert len(entries) == 2
    for entry in entries:
        GARBAGE[garbage](entry)
    calls = _hash_calls(monkeypatch)
    assert neurozoo.load(record.name).config["arch"] == "tiny_net"
    assert sorted(calls) == ["config.json", "model.safetensors"]
    if garbage != "a folder":  # garbage files are replaced by good entries
        neurozoo.load(record.name)
        assert len(calls) == 2


@pytest.mark.parametrize("legacy", ["list", "folder"])
def test_the_old_single_file_index_in_any_state_is_ignored(published, monkeypatch, isolated_caches, legacy):  # noqa: F811
    _, mirror, record = published
    monkeypatch.setenv("NEUROZOO_HUB_DIR", str(mirror))
    old = isolated_caches / "neurozoo" / "verified.json"
    old.parent.mkdir(parents=True)
    old.mkdir() if legacy == "folder" else old.write_text("[]")
    assert neurozoo.load(record.name).config["arch"] == "tiny_net"


def test_an_index_that_cannot_be_written_only_costs_a_rehash(published, monkeypatch, isolated_caches):  # noqa: F811
    _, mirror, record = published
    monkeypatch.setenv("NEUROZOO_HUB_DIR", str(mirror))
    (isolated_caches / "neurozoo").mkdir()
    (isolated_caches / "neurozoo" / "verified").write_text("a file where the index folder goes")
    calls = _hash_calls(monkeypatch)
    for _ in range(2):
        assert neurozoo.load(record.name).config["arch"] == "tiny_net"
    assert len(calls) == 4


def test_an_entry_that_disagrees_with_the_record_is_replaced_not_blamed(published, monkeypatch, isolated_caches):  # noqa: F811
    _, mirror, record = published
    monkeypatch.setenv("NEUROZOO_HUB_DIR", str(mirror))
    neurozoo.load(record.name)
    for entry in _index_entries(isolated_caches):
        wrong = json.loads(entry.read_text())
        wrong["sha256"] = "0" * 64  # well formed, and wrong
        entry.write_text(json.dumps(wrong))
    calls = _hash_calls(monkeypatch)
    neurozoo.load(record.name)  # the bytes match the record: the entries were wrong, not the files
    assert sorted(calls) == ["config.json", "model.safetensors"]
    neurozoo.load(record.name)
    assert len(calls) == 2
    assert all(json.loads(e.read_text())["sha256"] in record.files.values() for e in _index_entries(isolated_caches))


def _hash_at_once(barrier, path: str) -> None:
    barrier.wait()
    hub.file_sha256(path)


def test_concurrent_writers_all_keep_their_entries(tmp_path, monkeypatch):
    files = []
    for i in range(8):
        path = tmp_path / f"file{i}.bin"
        path.write_bytes(os.urandom(1 << 16))
        files.append(path)
    context = multiprocessing.get_context("fork")  # the children only hash and write small files
    barrier = context.Barrier(len(files))
    workers = [context.Process(target=_hash_at_once, args=(barrier, str(p))) for p in files]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0] * len(files)
    calls = _hash_calls(monkeypatch)
    assert [hub.file_sha256(p) for p in files] == [hub.sha256_file(p) for p in files]
    assert len(calls) == len(files), "every process's entry should be in the index"


def test_stray_temporary_entries_are_removed_by_the_next_writer(tmp_path, isolated_caches):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    tmp_dir = isolated_caches / "neurozoo" / "verified" / "tmp"
    tmp_dir.mkdir(parents=True)
    stray = tmp_dir / f"{int(finished.stdout)}-killedwriter"  # its writer has exited
    stray.write_text('{"path": ')
    live = tmp_dir / f"{os.getppid()}-inflight"  # a writer that is still running
    live.write_text("{")
    data = tmp_path / "data.bin"
    data.write_bytes(b"x" * 100)
    hub.file_sha256(data)
    assert not stray.exists() and live.exists()
    assert len(_index_entries(isolated_caches)) == 1


# ---------------------------------------------------------------- config.json against schema and weights
@pytest.fixture
def mlp_folder(tmp_path):
    torch.manual_seed(0)
    model = neurozoo.create_model("mlp", num_classes=3, hidden=[8], class_names=["a", "b", "c"], mean=[0.5], std=[0.25])
    return neurozoo.save(model, tmp_path / "mlp")


def _edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    "changes, error, message",
    [
        ({"dtype": "int8"}, neurozoo.ConfigError, r"'dtype' must be one of \['float32', 'float16', 'bfloat16'\]"),
        ({"task": "banana"}, neurozoo.ConfigError, r"'task' must be one of \['multiclass', 'multilabel'\]"),
        ({"colour": "red", "zeal": 1}, neurozoo.ConfigError, r"does not know: \['colour', 'zeal'\]"),
        ({"mean": [0.4]}, neurozoo.CheckpointError, r"gives mean \[0.4\].*normalisation holds \[0.5\]"),
        ({"std": [0.0]}, neurozoo.ConfigError, r"'std' must hold finite numbers > 0"),
        ({"dtype": "float16"}, neurozoo.CheckpointError, r"as float32.*dtype 'float16'"),
        ({"class_names": [1, 2, 3]}, neurozoo.ConfigError, "'class_names' must hold strings"),
    ],
)
def test_config_values_are_checked_against_the_schema_and_the_weights(mlp_folder, changes, error, message):
    _edit_config(mlp_folder, **changes)
    with pytest.raises(error, match=message):
        neurozoo.load(mlp_folder)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_size_weights_load_as_float32_when_the_config_says_so(mlp_folder, dtype):
    state = load_file(mlp_folder / "model.safetensors")
    half = {k: v.to(getattr(torch, dtype)) for k, v in state.items()}
    save_file(half, mlp_folder / "model.safetensors", metadata={"format": "pt"})
    _edit_config(mlp_folder, dtype=dtype)
    model = neurozoo.load(mlp_folder)
    assert {p.dtype for p in model.state_dict().values()} == {torch.float32}
    torch.testing.assert_close(model.state_dict()["net.head.weight"], half["net.head.weight"].float(), rtol=0, atol=0)


def test_the_published_baseline_config_passes_every_check():
    model = neurozoo.load(BASELINE)
    assert model.config["dtype"] == neurozoo.registry.get_checkpoint(BASELINE).dtype  # stored as the record says
    assert model.config["task"] == "multiclass"
    assert {p.dtype for p in model.state_dict().values() if p.is_floating_point()} == {torch.float32}


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 40) | st.floats(width=32) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


# values a careless edit produces: the right type with a wrong value, or another field's value
_NEAR_VALUES = [
    0, -1, 1, 2, 3, "", "float16", "bfloat16", "int8", "multilabel", "tiny_net", "resnet18", "mlp",
    "baseline", "nmhebb", "hah", "binenc", "ffcl", "kuramoto", [1, 28, 28], [3, 32, 32], [1, 8, 8], [0.5],
    [0.4], [0.25], [0.25, 0.5], [float("nan")], ["a"], ["a", "b", "c"], {}, {"hidden": [8]}, {"hidden": [4]},
    {"hidden": -1}, {"hidden": "8"}, {"image_size": 0}, {"image_size": 8}, {"width": 4}, None, True,
]


@st.composite
def _config_documents(draw, valid: dict) -> bytes:
    """Random JSON; or the valid config with a field or two changed (mostly to near-miss values),
    dropped, or added; sometimes its text cut short and a byte flipped."""
    if draw(st.integers(0, 9)) == 0:
        return json.dumps(draw(_JSON)).encode()
    config = dict(valid)
    for _ in range(draw(st.integers(1, 2))):
        field = draw(st.sampled_from(sorted(valid) + ["extra"]))
        action = draw(st.sampled_from(["near"] * 5 + ["replace"] * 3 + ["drop"]))
        if action == "drop":
            config.pop(field, None)
        else:
            config[field] = draw(st.sampled_from(_NEAR_VALUES) if action == "near" else _JSON)
    text = json.dumps(config).encode()
    if draw(st.integers(0, 9)) == 0:
        cut = draw(st.integers(0, len(text)))
        text = bytearray(text[:cut])
        if text:
            text[draw(st.integers(0, cut - 1))] ^= draw(st.integers(1, 255))
        text = bytes(text)
    return text


def _valid_config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


@pytest.fixture(scope="module")
def fuzz_folder(tmp_path_factory):
    torch.manual_seed(0)
    model = neurozoo.create_model("mlp", num_classes=3, hidden=[8], class_names=["a", "b", "c"], mean=[0.5], std=[0.25])
    return neurozoo.save(model, tmp_path_factory.mktemp("fuzz") / "mlp")


def test_random_and_mutated_configs_load_or_raise_a_neurozoo_error(fuzz_folder):
    valid = _valid_config(fuzz_folder)

    @settings(max_examples=300, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(document=_config_documents(valid))
    def check(document: bytes):
        (fuzz_folder / "config.json").write_bytes(document)
        try:
            neurozoo.load(fuzz_folder)
        except neurozoo.NeurozooError as exc:
            assert "\n" not in str(exc).strip(), str(exc)

    check()
    (fuzz_folder / "config.json").write_text(json.dumps(valid))
    assert neurozoo.load(fuzz_folder).config == {**valid}


# ---------------------------------------------------------------- reachability and offline errors
def test_list_says_where_the_weights_are_without_the_network(published, monkeypatch):  # noqa: F811
    _, mirror, record = published
    assert hub.weights_location(neurozoo.get_checkpoint(BASELINE)) == "installed"
    assert hub.weights_location(record) == "unreachable (HF_HUB_OFFLINE=1)"
    monkeypatch.setenv("NEUROZOO_HUB_DIR", str(mirror))
    assert hub.weights_location(record) == "$NEUROZOO_HUB_DIR"
    monkeypatch.delenv("NEUROZOO_HUB_DIR")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    assert hub.weights_location(record) == "Hub"


def test_the_offline_error_names_the_variable_that_is_set(published, monkeypatch):  # noqa: F811
    _, _, record = published
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    with pytest.raises(neurozoo.OfflineError, match="because TRANSFORMERS_OFFLINE=1 is set") as info:
        neurozoo.load(record.name)
    assert "HF_HUB_OFFLINE" not in str(info.value)
