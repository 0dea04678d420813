"""One writer per run folder, and nothing a failed or killed run leaves behind blocks the next one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import neurozoo
from neurozoo import cli, plugins
from neurozoo.training.engine import Engine
from neurozoo.training.runfolder import LOCK, RunFolder

import tiny_training_plugin
from tiny_training_plugin import ARCH, DATASET, TinyTrainingPlugin

SCRIPT = Path(__file__).with_name("tiny_training_plugin.py")
ARGS = ["train", "baseline", "--arch", ARCH, "--dataset", DATASET, "--batch-size", "32", "--eval-limit", "0"]
DEAD_RUN_METRICS = json.dumps({"epoch": 1, "train_loss": 9.0}) + "\n"  # a line whose checkpoint never came


@pytest.fixture(scope="module", autouse=True)
def tiny_plugin():
    plugins.register(TinyTrainingPlugin(), name="tiny_training")
    yield
    plugins.unregister("tiny_training")


def _start(args, delay: str = "0") -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TINY_BATCH_DELAY": delay}
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(condition, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the training process made no progress"
        time.sleep(0.05)


def test_a_second_writer_of_a_run_folder_fails_at_once_and_the_folder_stays_whole(tmp_path):
    out = tmp_path / "run"
    folder = RunFolder(out)
    # minutes of training (0.5 s per batch): the first run still holds the folder when the others
    # start, however loaded the machine; it is stopped with SIGTERM below
    first = _start([*ARGS, "--epochs", "100", "--out", str(out)], delay="0.5")
    _wait_for(lambda: folder.is_run, first)
    assert (out / LOCK).read_text().strip() == str(first.pid)

    fresh = _start([*ARGS, "--epochs", "100", "--out", str(out)])
    resumed = _start([*ARGS, "--epochs", "100", "--resume", str(out)])
    for second in (fresh, resumed):
        _, stderr = second.communicate(timeout=300)
        assert second.returncode == 2, stderr
        last = stderr.strip().splitlines()[-1]
        assert "Traceback" not in stderr and str(out) in last and f"pid {first.pid}" in last, stderr
    assert first.poll() is None  # the others failed while it held the folder

    first.send_signal(signal.SIGTERM)  # it checkpoints and stops
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 128 + signal.SIGTERM, stderr
    # one run's files: its run.json, its metrics, its state and weights; the lock gone with it
    assert not (out / LOCK).exists()
    run = json.loads((out / "run.json").read_text())
    assert run["command"]["argv"][-1] == str(out) and run["resumes"] == []
    state = folder.load_state()
    assert [r["epoch"] for r in folder.read_metrics()] == list(range(1, state["epochs_done"] + 1))
    model = neurozoo.load(out)
    for name, value in model.state_dict().items():
        assert value.equal(state["engine"]["model"][name]), name


def test_a_run_that_failed_in_its_first_epoch_does_not_block_a_rerun(tmp_path, monkeypatch):
    out = tmp_path / "run"
    folder = RunFolder(out)

    def failing_step(self, batch):
        raise RuntimeError("out of memory")  # as a first epoch fails

    with monkeypatch.context() as patch:
        patch.setattr(Engine, "step", failing_step)
        with pytest.raises(RuntimeError, match="out of memory"):
            cli.main([*ARGS, "--epochs", "1", "--out", str(out)])
    assert folder.is_run and not folder.has_state and not (out / LOCK).exists()
    (out / "state").mkdir()
    orphan = out / "state" / ".training.pt.x1y2.tmp"  # as a kill during a checkpoint write leaves it
    orphan.write_bytes(b"partial")
    (out / "metrics.jsonl").write_text(DEAD_RUN_METRICS)

    assert cli.main([*ARGS, "--epochs", "1", "--out", str(out)]) == 0  # the same command, the same --out
    assert not orphan.exists() and not (out / LOCK).exists()
    assert [r["epoch"] for r in folder.read_metrics()] == [1]  # the failed run's line is gone
    assert json.loads((out / "run.json").read_text())["resumes"] == []
    assert folder.load_state()["epochs_done"] == 1


def test_a_resumed_run_removes_the_temporary_files_a_kill_left(tmp_path):
    out = tmp_path / "run"
    neurozoo.train("baseline", ARCH, DATASET, epochs=1, batch_size=32, eval_limit=0, out=out)
    orphans = [out / "state" / ".training.pt.abc123.tmp", out / ".model.safetensors.def456.tmp"]
    for orphan in orphans:
        orphan.write_bytes(b"partial")
    neurozoo.train("baseline", ARCH, DATASET, resume=out)
    assert not any(orphan.exists() for orphan in orphans)


def test_a_folder_with_a_checkpoint_or_other_files_is_never_cleared(tmp_path, capsys):
    out = tmp_path / "run"
    neurozoo.train("baseline", ARCH, DATASET, epochs=1, batch_size=32, eval_limit=0, out=out)
    before = (out / "state" / "training.pt").read_bytes()
    assert cli.main([*ARGS, "--epochs", "1", "--out", str(out)]) == 2
    assert "already holds a training run" in capsys.readouterr().err
    assert (out / "state" / "training.pt").read_bytes() == before

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    assert cli.main([*ARGS, "--epochs", "1", "--out", str(notes)]) == 2
    assert "todo.txt" in capsys.readouterr().err
    assert (notes / "todo.txt").read_text() == "keep me" and not (notes / LOCK).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "trains for 0 epochs"),
        (["--set", "grad_clip=-1"], "grad_clip must be None or a number > 0, got -1"),
        (["--set", "grad_clip=0"], "grad_clip must be None or a number > 0, got 0"),
        (["--set", "label_smoothing=1.5"], "label_smoothing must be a number >= 0 and < 1, got 1.5"),
        (["--set", "lr=abc"], "lr must be a number > 0, got 'abc'"),
        (["--lr", "nan"], "lr must be a number > 0, got nan"),
        (["--set", "epochs=2.5"], "epochs must be an int >= 0, got 2.5"),
        (["--set", "optimizer=sgdd"], "optimizer must be one of 'sgd', 'adam', 'adamw'"),
        (["--set", "lr=[0.1]"], "lr must be a number > 0, got [0.1]"),
        (["--set", "lr"], "--set expects KEY=VALUE"),
        (["--arch-set", "width={1, 2}"], "width must be an int, got {1, 2}"),
        (["--arch-set", "width=-4"], "cannot be built with options {'width': -4}"),
        (["--cutout", "-1"], "cutout must be a non-negative int, got -1"),
        (["--no-augment", "--cutout", "8"], "cutout 8 adds to the training augmentation"),
    ],
)
def test_recipe_and_architecture_options_are_checked_before_any_data(tmp_path, capsys, monkeypatch, args, message):
    def no_data(*args, **kwargs):
        raise AssertionError("data was read before the options were checked")

    for dataset_class in ("SlowDataset", "ImageTensorDataset"):  # what the tiny dataset's load builds
        monkeypatch.setattr(tiny_training_plugin, dataset_class, no_data)
    out = tmp_path / "run"
    assert cli.main([*ARGS, "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err.strip().splitlines()[-1] and "Traceback" not in err, err
    assert not out.exists()


def test_nmhebb_options_are_typed_by_their_defaults(capsys):
    assert cli.main(["train", "nmhebb", "--arch", "resnet18", "--dataset", "cifar10", "--set", "lambda_hebb=abc"]) == 2
    assert "method 'nmhebb': lambda_hebb must be a number, got 'abc'" in capsys.readouterr().err


def test_an_architecture_that_cannot_take_the_dataset_is_refused_when_built(tmp_path, capsys):
    with pytest.raises(neurozoo.ConfigError, match=r"'mlp' cannot run on 3x32x32 inputs \(dataset 'cifar10'\)"):
        neurozoo.create_model("mlp", dataset="cifar10")
    assert neurozoo.create_model("mlp", dataset="cifar10", image_size=32).config["input_size"] == [3, 32, 32]
    out = tmp_path / "run"
    assert cli.main(["train", "baseline", "--arch", "mlp", "--dataset", "cifar10", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'mlp' is made for 1x28x28" in err and "Traceback" not in err
    assert not out.exists()
