"""The training engine on a tiny synthetic task: it learns, resumes exactly, scales to torchrun,
and refuses bad arguments before training."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import neurozoo
from neurozoo import cli, plugins, registry
from neurozoo.training.cli import parse_assignment
from neurozoo.training.runfolder import RunFolder

from tiny_training_plugin import ARCH, DATASET, TinyTrainingPlugin

SCRIPT = Path(__file__).with_name("tiny_training_plugin.py")
EPOCHS = 3
ARGS = ["train", "baseline", "--arch", ARCH, "--dataset", DATASET, "--epochs", str(EPOCHS), "--batch-size", "32"]
TIMING = ("images_per_s", "epoch_time_s")


@pytest.fixture(scope="module", autouse=True)
def tiny_plugin():
    plugins.register(TinyTrainingPlugin(), name="tiny_training")
    yield
    plugins.unregister("tiny_training")



@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> Path:
    """An uninterrupted run: the one every interrupted run must reproduce."""
    out = tmp_path_factory.mktemp("runs") / "reference"
    return neurozoo.train("baseline", ARCH, DATASET, epochs=EPOCHS, batch_size=32, out=out)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "model.safetensors")


def without_timing(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def test_tiny_run_trains_and_loss_falls(reference_run):
    records = RunFolder(reference_run).read_metrics()
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    assert records[-1]["test_top1"] > 1 / 4  # better than chance on 4 classes

    run = json.loads((reference_run / "run.json").read_text())
    assert (run["method"], run["arch"], run["dataset"]) == ("baseline", ARCH, DATASET)
    assert run["recipe"]["epochs"] == EPOCHS and run["recipe"]["optimizer"] == "sgd"
    assert run["engine"]["precision"] == "bf16" and run["engine"]["channels_last"] is True
    assert run["engine"]["seed"] == 0 and run["versions"]["torch"] == torch.__version__

    model = neurozoo.load(reference_run)  # the run folder is a published checkpoint
    state = RunFolder(reference_run).load_state()
    assert state["epochs_done"] == EPOCHS
    for name, value in model.state_dict().items():
        assert torch.equal(value, state["engine"]["model"][name]), name


def _run_script(args, env_extra, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **env_extra}
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def _wait_for_epochs(folder: RunFolder, epochs: int, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while len(folder.read_metrics()) < epochs:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "training made no progress"
        time.sleep(0.05)


def test_killed_and_resumed_run_ends_with_the_same_weights(reference_run, tmp_path):
    out = tmp_path / "interrupted"
    folder = RunFolder(out)

    # 1. SIGKILL in epoch 2: nothing gets to clean up; the epoch-1 checkpoint must carry the run
    first = _run_script([*ARGS, "--out", str(out)], {"TINY_BATCH_DELAY": "0.15"})
    _wait_for_epochs(folder, 1, first)
    time.sleep(0.4)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL
    assert folder.load_state()["epochs_done"] == 1

    # 2. SIGTERM in epoch 3: the run saves where it is (mid-epoch) and exits cleanly
    second = _run_script([*ARGS, "--resume", str(out)], {"TINY_BATCH_DELAY": "0.3"})
    _wait_for_epochs(folder, 2, second)
    time.sleep(0.6)
    second.send_signal(signal.SIGTERM)
    _, stderr = second.communicate(timeout=60)
    assert second.returncode == 128 + signal.SIGTERM, stderr
    assert "--resume" in stderr
    state = folder.load_state()
    assert state["epochs_done"] == 2 and 0 < state["batches_done"] < 8

    # 3. finish in-process
    neurozoo.train("baseline", ARCH, DATASET, resume=out)

    expected, got = weights(reference_run), weights(out)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name
    assert without_timing(folder.read_metrics()) == without_timing(RunFolder(reference_run).read_metrics())
    assert len(json.loads((out / "run.json").read_text())["resumes"]) == 2


def test_torchrun_two_processes_end_with_identical_weights(tmp_path):
    out = tmp_path / "ddp"
    dump = tmp_path / "ranks"
    dump.mkdir()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(SCRIPT), *ARGS[:-4], "--epochs", "2", "--batch-size", "16", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TINY_DUMP_DIR": str(dump)}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]

    rank0, rank1 = load_file(dump / "rank0.safetensors"), load_file(dump / "rank1.safetensors")
    assert rank0.keys() == rank1.keys()
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
    # rank 0 alone wrote the run: one line per epoch, its weights are the published ones
    records = RunFolder(out).read_metrics()
    assert [r["epoch"] for r in records] == [1, 2]
    assert json.loads((out / "run.json").read_text())["engine"]["world_size"] == 2
    published = weights(out)
    for name in rank0:
        assert torch.equal(published[f"net.{name}"], rank0[name]), name


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arch", "no_such_arch"], "unknown architecture 'no_such_arch'"),
        (["--dataset", "no_such_set"], "unknown dataset 'no_such_set'"),
        (["--set", "no_such_option=1"], "has no option(s) ['no_such_option']"),
        (["--epochs", "-1"], "epochs must be an int >= 0"),
        (["--batch-size", "0"], "batch_size must be a positive int"),
        (["--precision", "fp8"], "precision must be one of"),
        (["--limit", "8"], "fewer than one batch of 32"),
        (["--arch-set", "depth=3"], "cannot be built with options {'depth': 3}"),
    ],
)
def test_bad_arguments_fail_before_training(tmp_path, capsys, args, message):
    out = tmp_path / "run"
    # argparse keeps the last value of a repeated option, so args override the defaults
    argv = ["train", "baseline", "--arch", ARCH, "--dataset", DATASET, "--batch-size", "32", "--out", str(out), *args]
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "5"], "with epochs 5 (it was started with 3): its onecycle learning-rate schedule spans"),
        (["--epochs", "2"], "a run can be extended, not shortened"),
        (["--batch-size", "64"], "batch_size: run 32, now 64"),
        (["--set", "label_smoothing=0.2"], "label_smoothing: run 0.1, now 0.2"),
        (["--arch-set", "width=4"], "arch_kwargs: run {}, now {'width': 4}"),
    ],
)
def test_resuming_with_another_config_is_an_error(reference_run, capsys, args, message):
    before = (reference_run / "state" / "training.pt").read_bytes()
    argv = ["train", "baseline", "--arch", ARCH, "--dataset", DATASET, "--resume", str(reference_run), *args]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"cannot resume {reference_run}" in err and message in err
    assert (reference_run / "state" / "training.pt").read_bytes() == before


def test_a_run_from_before_an_option_existed_resumes_with_its_default(reference_run, tmp_path, capsys):
    old = shutil.copytree(reference_run, tmp_path / "old")
    run = json.loads((old / "run.json").read_text())
    del run["recipe"]["weight_decay_all"]  # the option came after this run.json was written
    (old / "run.json").write_text(json.dumps(run))
    argv = ["train", "baseline", "--arch", ARCH, "--dataset", DATASET, "--resume", str(old)]
    assert cli.main([*argv, "--set", "weight_decay_all=true"]) == 2
    assert "weight_decay_all: run False, now True" in capsys.readouterr().err
    assert cli.main(argv) == 0  # a finished run: it returns at once with its weights as they were
    expected, got = weights(reference_run), weights(old)
    assert expected.keys() == got.keys() and all(torch.equal(expected[k], got[k]) for k in expected)


def test_a_finished_constant_rate_run_extended_ends_as_a_longer_run(tmp_path):
    constant = {"schedule": "constant"}
    longer = neurozoo.train("baseline", ARCH, DATASET, epochs=EPOCHS, batch_size=32, options=constant,
                            val_fraction=0.25, select="best", out=tmp_path / "longer")
    extended = neurozoo.train("baseline", ARCH, DATASET, epochs=EPOCHS - 1, batch_size=32, options=constant,
                              val_fraction=0.25, select="best", out=tmp_path / "extended")
    neurozoo.train("baseline", ARCH, DATASET, epochs=EPOCHS, resume=extended)

    expected, got = weights(longer), weights(extended)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name
    folder, reference = RunFolder(extended), RunFolder(longer)
    assert without_timing(folder.read_metrics()) == without_timing(reference.read_metrics())
    run, reference_run = folder.read_config(), reference.read_config()
    assert run["recipe"] == reference_run["recipe"] and run["phases"] == reference_run["phases"]
    assert run["selection"] == reference_run["selection"]
    assert run["extensions"] == [{"epochs_before": EPOCHS - 1, "epochs": EPOCHS}]


def test_a_run_from_before_a_phase_field_existed_is_extended(tmp_path):
    out = neurozoo.train("baseline", ARCH, DATASET, epochs=1, batch_size=32, options={"schedule": "constant"},
                         eval_limit=0, out=tmp_path / "run")
    run = json.loads((out / "run.json").read_text())
    del run["recipe"]["weight_decay_all"]  # the option and its Phase field came after this run.json was written
    for phase in run["phases"]:
        del phase["weight_decay_all"]
    (out / "run.json").write_text(json.dumps(run))
    neurozoo.train("baseline", ARCH, DATASET, epochs=2, resume=out)
    run = RunFolder(out).read_config()
    assert run["extensions"] == [{"epochs_before": 1, "epochs": 2}]
    assert run["phases"][0]["weight_decay_all"] is False and len(RunFolder(out).read_metrics()) == 2


def test_a_method_that_derives_its_schedule_from_the_epochs_is_not_extended(tmp_path, monkeypatch, capsys):
    out = neurozoo.train("baseline", ARCH, DATASET, epochs=1, batch_size=32, options={"schedule": "constant"},
                         out=tmp_path / "run")
    before = (out / "run.json").read_bytes(), (out / "state" / "training.pt").read_bytes()
    monkeypatch.setattr(registry.get_method("baseline").trainer, "extendable", False)
    assert cli.main(["train", "baseline", "--arch", ARCH, "--dataset", DATASET, "--resume", str(out),
                     "--epochs", "2"]) == 2
    assert "method 'baseline' derives more than the length of its last phase" in capsys.readouterr().err
    assert ((out / "run.json").read_bytes(), (out / "state" / "training.pt").read_bytes()) == before


def test_resuming_as_another_arch_or_into_a_used_folder_is_an_error(reference_run, capsys):
    assert cli.main(["train", "baseline", "--arch", "mlp", "--dataset", DATASET, "--resume", str(reference_run)]) == 2
    assert f"arch: run '{ARCH}', now 'mlp'" in capsys.readouterr().err
    assert cli.main([*ARGS, "--out", str(reference_run)]) == 2
    assert "already holds a training run" in capsys.readouterr().err


def test_architecture_options_reach_the_builder_and_the_checkpoint(tmp_path, capsys):
    out = tmp_path / "narrow"
    assert cli.main([*ARGS, "--epochs", "1", "--arch-set", "width=4", "--eval-limit", "0", "--out", str(out)]) == 0
    model = neurozoo.load(out)
    assert model.config["arch_kwargs"] == {"width": 4}
    assert model.net.head.in_features == 4 * 4
    assert json.loads((out / "run.json").read_text())["arch_kwargs"] == {"width": 4}


def test_set_values_are_parsed_as_literals():
    assert parse_assignment("lr=1e-3") == ("lr", 1e-3)
    assert parse_assignment("epochs=4") == ("epochs", 4)
    assert parse_assignment("grad_clip=None") == ("grad_clip", None)
    assert parse_assignment("nesterov=true") == ("nesterov", True)
    assert parse_assignment("milestones=(30, 60)") == ("milestones", (30, 60))
    assert parse_assignment("optimizer=adamw") == ("optimizer", "adamw")
    with pytest.raises(Exception, match="KEY=VALUE"):
        parse_assignment("lr")
