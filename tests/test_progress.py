"""Training output for logs: a start line before any data is read, progress lines on a clock."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

import neurozoo
from neurozoo import plugins
from neurozoo.training.progress import LOG_INTERVAL_S, EpochProgress, start_line

from tiny_training_plugin import ARCH, DATASET, TinyTrainingPlugin


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_without_a_terminal_a_progress_line_comes_at_least_every_minute():
    clock, log = Clock(), io.StringIO()
    progress = EpochProgress(True, Console(file=log, force_terminal=False), clock)
    with progress:
        progress.start_epoch("epoch 1/1 (train)", total=1000, done=0)
        for _ in range(1000):  # one step every 7 s: 7000 s in all
            clock.now += 7.0
            progress.advance(128, 2.0)
    lines = log.getvalue().splitlines()
    assert len(lines) == 7000 // 35  # a line after the first step that ends >= 30 s after the previous line
    assert lines[0] == "epoch 1/1 (train) 5/1000  18.3 img/s  loss 2.0000"
    assert LOG_INTERVAL_S + 7 < 60


def test_fast_steps_do_not_flood_the_log():
    clock, log = Clock(), io.StringIO()
    progress = EpochProgress(True, Console(file=log, force_terminal=False), clock)
    progress.start_epoch("epoch 1/1 (train)", total=10_000, done=0)
    for _ in range(10_000):  # 1 ms per step: 10 s in all
        clock.now += 0.001
        progress.advance(128, 2.0)
    assert log.getvalue() == ""


def test_the_start_line_says_what_runs_where():
    line = start_line("runs/x", method="nmhebb", arch="resnet18", dataset="cifar10", epochs=30,
                      settings={"limit": 5000, "batch_size": 128, "seed": 0, "precision": "bf16", "channels_last": True},
                      device="cpu", threads=2, resumed=False)
    assert line == ("training runs/x: method nmhebb, arch resnet18, dataset cifar10; 30 epoch(s) over the first "
                    "5,000 training images, batch 128, seed 0; precision bf16, channels_last; cpu, 2 thread(s)")
    held_out = start_line("runs/x", method="hah", arch="hah_vgg16", dataset="cifar10", epochs=20,
                          settings={"limit": None, "val_fraction": 0.1, "batch_size": 128, "seed": 0, "precision": "fp32"},
                          device="cpu", threads=2, resumed=True)
    assert held_out.startswith("resuming runs/x: method hah, arch hah_vgg16, dataset cifar10; 20 epoch(s) over every "
                               "training image less a 10% validation split, batch 128,")
    cut = start_line("runs/x", method="baseline", arch="resnet18", dataset="cifar10", epochs=15, device="cpu",
                     settings={"batch_size": 128, "seed": 0, "cutout": 8, "precision": "bf16"}, threads=2, resumed=False)
    assert "batch 128, seed 0, cutout 8; precision bf16;" in cut


def test_the_start_line_comes_before_the_data_is_read(tmp_path, capsys):
    plugins.register(TinyTrainingPlugin(), name="tiny_training_progress")
    try:
        with pytest.raises(neurozoo.NeurozooError):  # mnist is not in an empty data folder
            neurozoo.train("baseline", "mlp", "mnist", epochs=1, out=tmp_path / "run", data_dir=tmp_path / "empty")
        err = capsys.readouterr().err
        assert f"training {tmp_path / 'run'}: method baseline, arch mlp, dataset mnist; 1 epoch(s)" in err
        assert "thread(s)" in err
        run = neurozoo.train("baseline", ARCH, DATASET, epochs=1, batch_size=64, out=tmp_path / "tiny")
        assert f"training {run}: method baseline, arch {ARCH}" in capsys.readouterr().err
    finally:
        plugins.unregister("tiny_training_progress")
