"""``neurozoo.train``: a method's phases, epoch by epoch, into a resumable run folder.

Resuming is exact: the checkpoint holds weights, optimiser, schedule, method state, random
streams and the position (epoch and batch), the data order of an epoch is a function of
(seed, epoch), and the augmentation of each batch a function of (seed, epoch, its indices)
(see ``neurozoo.training.data``). A run stopped at any checkpoint and resumed ends, on CPU, with the
same weights as the run that was never stopped. The layout of the run folder is described in
``neurozoo.training.runfolder``.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import sys
import time
from dataclasses import MISSING, asdict, fields, replace
from pathlib import Path
from typing import Any

import torch

from neurozoo import registry
from neurozoo.build_checks import check_arch_options
from neurozoo.errors import ConfigError
from neurozoo.data.tensors import with_cutout
from neurozoo.training.data import TrainBatches, eval_loader, first
from neurozoo.training.devices import resolve_device
from neurozoo.training.distributed import (
    DistInfo,
    any_across,
    barrier,
    broadcast_buffers,
    broadcast_object,
    init_distributed,
    shutdown,
    sum_across,
)
from neurozoo.training.engine import Engine, build_engine
from neurozoo.training.interrupts import StopSignals, TrainingInterrupted
from neurozoo.training.method import Phase
from neurozoo.training.optim import schedule_span
from neurozoo.training.precision import check_precision
from neurozoo.training.progress import EpochProgress, print_start
from neurozoo.training.runfolder import RunFolder
from neurozoo.training.seeding import restore_rng_state, rng_state, seed_everything
from neurozoo.training.validation import CRITERION, BestEpoch, check_validation, split_train_val

DEFAULTS = {"batch_size": 128, "seed": 0, "precision": "bf16", "channels_last": True, "limit": None, "eval_limit": None,
            "val_fraction": None, "select": "last", "augment": True, "cutout": 0}
# settings that change the trained (or published) weights: a resumed run must keep the values it started with
IDENTITY = ("batch_size", "seed", "precision", "channels_last", "limit", "world_size", "val_fraction", "select",
            "augment", "cutout")
STATE_FORMAT = 1
LOSS_READ_EVERY = 10  # steps between reading the loss for the progress bar (a device sync on GPU)


def train(
    method: str,
    arch: str,
    dataset: str,
    *,
    out: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    device: str = "cpu",
    precision: str | None = None,
    channels_last: bool | None = None,
    seed: int | None = None,
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    eval_limit: int | None = None,
    val_fraction: float | None = None,
    select: str | None = None,
    augment: bool | None = None,
    cutout: int | None = None,
    num_workers: int = 0,
    options: dict[str, Any] | None = None,
    arch_kwargs: dict[str, Any] | None = None,
) -> Path:
    """Train ``arch`` with ``method`` on ``dataset``; returns the run folder.

    Settings left as None take their defaults (batch_size 128, seed 0, precision "bf16",
    channels_last True, all images), or, with ``resume=RUN``, the values RUN was started with;
    a value that differs from RUN's is an error. ``epochs``, ``lr`` and ``options`` are the
    method's recipe options (``neurozoo info METHOD``); ``arch_kwargs`` go to the architecture's
    builder (e.g. ``{"hidden": [64, 64]}`` for ``mlp``). ``limit`` trains on the first N training
    images, ``eval_limit`` tests on the first N test images (0: no test evaluation).
    ``val_fraction`` holds out that fraction of the (limited) training images as a seeded
    validation split, evaluated after every epoch; ``select="best"`` then publishes the weights
    of the best validation epoch instead of the last (see ``neurozoo.training.validation``).
    ``augment=False`` trains on the images as they are (no random crop/flip); ``cutout=N`` adds one
    blanked N x N square per training image to the augmentation (``neurozoo.data.tensors.Cutout``). A method may change
    the defaults of these settings to its paper's recipe (``TrainingMethod.engine_defaults``).
    ``batch_size`` is per process under torchrun. The final model is saved in the published
    format at the run folder's root: ``neurozoo.load(run_folder)`` loads it.
    """
    call = {k: v for k, v in locals().items() if v is not None}
    call = json.loads(json.dumps(call, default=str))
    method_record = registry.get_method(method)
    registry.get_architecture(arch)
    if arch_kwargs is not None:
        arch_kwargs = check_arch_options(arch, arch_kwargs)
    dataset_record = registry.get_dataset(dataset)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    requested = {"batch_size": batch_size, "seed": seed, "precision": precision, "channels_last": channels_last,
                 "limit": limit, "eval_limit": eval_limit, "val_fraction": val_fraction, "select": select,
                 "augment": augment, "cutout": cutout}
    _check_settings(requested, num_workers)
    recipe_args = _recipe_args(options, epochs=epochs, lr=lr)

    folder, stored = None, None
    if resume is not None:
        folder = RunFolder(resume)
        if out is not None and Path(out).resolve() != folder.path.resolve():
            raise ValueError(f"out={out} and resume={resume} name different folders; a resumed run stays in its folder")
        stored = _with_defaults(folder.read_config(), method_record.trainer)
        settings = _resumed_settings(stored, folder, method, arch, dataset, requested, world_size)
        stored_arch_kwargs = stored.get("arch_kwargs", {})
        if arch_kwargs is not None and _jsonable(arch_kwargs) != stored_arch_kwargs:
            raise ConfigError(_mismatch_message(folder, [("arch_kwargs", stored_arch_kwargs, arch_kwargs)]))
        arch_kwargs = stored_arch_kwargs
    else:
        settings = {**DEFAULTS, **_method_engine_defaults(method_record),
                    **{k: v for k, v in requested.items() if v is not None}, "world_size": world_size}
    if settings["cutout"] and not settings["augment"]:
        raise ConfigError(f"cutout {settings['cutout']} adds to the training augmentation, which this run turns off "
                          "(augment=False: --no-augment or the method's default); drop --cutout or allow augmentation")

    seed_everything(settings["seed"])
    trainer = method_record.trainer(**({**stored["recipe"], **recipe_args} if stored else recipe_args))
    if not any(phase.epochs for phase in trainer.phases()):
        raise ConfigError(f"method {method!r} with this recipe trains for 0 epochs and would publish untrained "
                          "weights; set --epochs 1 or more")
    recipe = _jsonable(trainer.recipe)
    extension = None
    if stored and recipe != stored["recipe"]:
        changed = sorted(k for k in set(recipe) | set(stored["recipe"]) if recipe.get(k) != stored["recipe"].get(k))
        if changed != ["epochs"]:
            raise ConfigError(_mismatch_message(folder, [(k, stored["recipe"].get(k), recipe.get(k)) for k in changed]))
        extension = _checked_extension(folder, stored, trainer)

    device = resolve_device(device, int(os.environ.get("LOCAL_RANK", "0")))
    info = init_distributed(device.type)
    lock = None
    try:
        fresh = folder is None
        if fresh:
            folder = RunFolder(broadcast_object(str(out or _default_out(method, arch, dataset)), info))
        if info.is_main:
            lock = folder.lock()  # one writer per run folder, until this run ends
            folder.remove_temporaries()  # of a writer killed mid-write
        if fresh:
            _check_fresh(folder)
            barrier(info)  # every rank checked before rank 0 writes the folder
            if info.is_main:
                folder.clear()  # what a run that never checkpointed left
        if info.is_main:  # before the model is built and the data read: a log says what runs from its first line
            print_start(folder.path, method=method, arch=arch, dataset=dataset, settings=settings, device=device,
                        epochs=sum(p.epochs for p in trainer.phases()), resumed=not fresh)
        engine = build_engine(method, arch, dataset, trainer=trainer, arch_kwargs=arch_kwargs, device=device,
                              precision=settings["precision"], channels_last=settings["channels_last"], info=info)
        pin = device.type == "cuda"
        train_set = dataset_record.load("train", root=data_dir, augment=settings["augment"])
        if settings["cutout"]:
            train_set = with_cutout(train_set, settings["cutout"], dataset_record.mean)
        train_set = first(train_set, settings["limit"])
        validation = None
        if settings["val_fraction"] is not None:
            plain_train = first(dataset_record.load("train", root=data_dir, augment=False), settings["limit"])
            train_set, val_set = split_train_val(train_set, plain_train, settings["val_fraction"], settings["seed"])
            validation = eval_loader(val_set, batch_size=settings["batch_size"], info=info,
                                     num_workers=num_workers, pin_memory=pin)
        batches = TrainBatches(train_set, batch_size=settings["batch_size"], seed=settings["seed"], info=info,
                               num_workers=num_workers, pin_memory=pin)
        tests = None
        if settings["eval_limit"] != 0:
            test_set = first(dataset_record.load("test", root=data_dir, augment=False), settings["eval_limit"])
            tests = eval_loader(test_set, batch_size=settings["batch_size"], info=info,
                                num_workers=num_workers, pin_memory=pin)
        if info.is_main:  # only now, when every argument has proved usable
            command = {"argv": sys.argv, "call": call}
            phases = [asdict(p) for p in trainer.phases()]
            if stored is None:
                folder.write_config({
                    "method": method,
                    "arch": arch,
                    "arch_kwargs": _jsonable(arch_kwargs or {}),
                    "dataset": dataset,
                    "recipe": recipe,
                    "phases": phases,
                    "engine": {**settings, "device": str(device), "num_workers": num_workers,
                               "data_dir": str(data_dir) if data_dir is not None else None,
                               "precision_policy": engine.policy.record()},
                    "versions": _versions(),
                    "command": command,
                    "resumes": [],
                })
            elif extension is not None:
                folder.write_config({**stored, "recipe": recipe, "phases": phases,
                                     "resumes": [*stored["resumes"], command],
                                     "extensions": [*stored.get("extensions", []), extension]})
            else:
                folder.write_config({**stored, "resumes": [*stored["resumes"], command]})
        _fit(engine, batches, tests, validation, settings["select"], dataset_record.task, folder, info)
        return folder.path
    finally:
        if lock is not None:
            lock.release()
        shutdown(info)


def _fit(engine: Engine, batches: TrainBatches, tests, validation, select: str, task: str, folder: RunFolder,
         info: DistInfo) -> None:
    """Run every remaining epoch of every phase, checkpointing after each and on a signal.

    With ``select="last"`` every checkpoint rewrites the published weights at the run folder's
    root; with ``"best"`` they are written only when an epoch beats the best validation score.
    """
    state = folder.load_state()
    best = BestEpoch(CRITERION[task])
    if state is not None:
        if state.get("format") != STATE_FORMAT:
            raise ConfigError(f"{folder.path} holds a training state of another format; start a new run")
        engine.load_state_dict(state["engine"])
        epochs_done, batches_done = state["epochs_done"], state["batches_done"]
        running = RunningMeans.from_state(state["running"], engine.device)
        restore_rng_state(state["rng"])
        if state.get("best") is not None:
            best = BestEpoch.from_state(state["best"])
        if info.is_main:
            folder.keep_metrics_before(epochs_done)
    else:
        epochs_done, batches_done, running = 0, 0, RunningMeans(engine.device)

    def checkpoint(improved: bool = False) -> None:
        if info.is_main:
            folder.save_state({
                "format": STATE_FORMAT,
                "engine": engine.state_dict(),
                "epochs_done": epochs_done,
                "batches_done": batches_done,
                "running": running.state_dict(),
                "rng": rng_state(),
                "best": best.state_dict(),
            })
            if select == "last" or improved:
                folder.save_model(engine.net)

    total_epochs = engine.first_epoch(len(engine.phases))
    with StopSignals() as stop, EpochProgress(info.is_main) as progress:
        for phase_index, phase in enumerate(engine.phases):
            first_epoch = engine.first_epoch(phase_index)
            if epochs_done >= first_epoch + phase.epochs:
                continue
            engine.start_phase(phase_index, len(batches))
            for epoch in range(epochs_done, first_epoch + phase.epochs):
                engine.epoch = epoch
                engine.train_mode()
                if batches_done == 0:
                    engine.trainer.on_epoch_start(engine.context())
                    running = RunningMeans(engine.device)
                progress.start_epoch(f"epoch {epoch + 1}/{total_epochs} ({phase.name})", len(batches), batches_done)
                started = time.perf_counter()
                for batches_done, batch in enumerate(batches.loader(epoch, batches_done), start=batches_done + 1):
                    scalars = engine.step(batch)
                    running.add(scalars)
                    loss = float(scalars["loss"]) if (batches_done - 1) % LOSS_READ_EVERY == 0 else None
                    progress.advance(len(batch[0]) * info.world_size, loss)
                    if any_across(stop.requested, info):
                        checkpoint()
                        barrier(info)
                        position = f"epoch {epoch + 1}, batch {batches_done}/{len(batches)}"
                        raise TrainingInterrupted(folder.path, stop.signum or signal.SIGTERM, position)
                seconds = time.perf_counter() - started
                broadcast_buffers(engine.trainable, info)
                record = {"epoch": epoch + 1, "phase": phase.name, "step": engine.step_count,
                          "lr": engine.optimizer.param_groups[0]["lr"], **running.means(info)}
                end_scalars = engine.trainer.on_epoch_end(engine.context()) or {}
                record.update({name: float(value) for name, value in end_scalars.items()})
                if validation is not None:
                    record.update(engine.evaluate(validation, task, prefix="val"))
                if tests is not None:
                    record.update(engine.evaluate(tests, task))
                improved = validation is not None and best.offer(epoch + 1, record)
                record.update(images_per_s=progress.rate, epoch_time_s=seconds)
                if info.is_main:
                    # the line first: a run killed before the checkpoint below redoes the epoch and
                    # drops the line on resume (keep_metrics_before), so no epoch is logged twice
                    folder.append_metrics(record)
                    progress.print(_summary(record))
                epochs_done, batches_done = epoch + 1, 0
                checkpoint(improved)
    if info.is_main:
        if select == "last":
            folder.save_model(engine.net)
        if validation is not None:
            folder.write_config({**folder.read_config(), "selection": {"select": select, **best.state_dict()}})


class RunningMeans:
    """Per-epoch means of the scalars a method's step returns (kept on the device: no sync)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, scalars: dict[str, torch.Tensor]) -> None:
        for name, value in scalars.items():
            value = value.to(self.device, torch.float64)
            self.sums[name] = self.sums[name] + value if name in self.sums else value
        self.count += 1

    def means(self, info: DistInfo) -> dict[str, float]:
        if not self.sums:
            return {}
        names = sorted(self.sums)
        totals = sum_across(torch.stack([self.sums[n] for n in names]), info)
        return {f"train_{n}": v / (self.count * info.world_size) for n, v in zip(names, totals.tolist())}

    def state_dict(self) -> dict[str, Any]:
        return {"sums": {k: v.cpu() for k, v in self.sums.items()}, "count": self.count}

    @classmethod
    def from_state(cls, state: dict[str, Any], device: torch.device) -> RunningMeans:
        running = cls(device)
        running.sums = {k: v.to(device) for k, v in state["sums"].items()}
        running.count = state["count"]
        return running


def _summary(record: dict[str, Any]) -> str:
    parts = [f"epoch {record['epoch']}"]
    parts += [f"{k} {v:.4f}" for k, v in record.items() if k.startswith(("train_", "val_", "test_"))]
    parts.append(f"{record['images_per_s']:.1f} img/s")
    return "  ".join(parts)


def _check_settings(requested: dict[str, Any], num_workers: int) -> None:
    def positive_int(name, value, allow_zero=False):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < (0 if allow_zero else 1)):
            raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} int, got {value!r}")

    positive_int("batch_size", requested["batch_size"])
    positive_int("limit", requested["limit"])
    positive_int("eval_limit", requested["eval_limit"], allow_zero=True)
    positive_int("cutout", requested["cutout"], allow_zero=True)
    positive_int("num_workers", num_workers, allow_zero=True)
    if requested["seed"] is not None and (not isinstance(requested["seed"], int) or isinstance(requested["seed"], bool)):
        raise ValueError(f"seed must be an int, got {requested['seed']!r}")
    for flag in ("channels_last", "augment"):
        if requested[flag] is not None and not isinstance(requested[flag], bool):
            raise ValueError(f"{flag} must be True or False, got {requested[flag]!r}")
    if requested["precision"] is not None:
        check_precision(requested["precision"])
    check_validation(requested["val_fraction"], requested["select"])


def _method_engine_defaults(method_record) -> dict[str, Any]:
    """The engine settings a method's recipe changes (e.g. FFCL: no augmentation, fp32)."""
    defaults = dict(getattr(method_record.trainer, "engine_defaults", {}))
    unknown = sorted(set(defaults) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"method {method_record.name!r} sets unknown engine defaults {unknown}; "
                          f"engine settings are {sorted(DEFAULTS)}")
    _check_settings({**dict.fromkeys(DEFAULTS), **defaults}, 0)
    return defaults


def _recipe_args(options: dict[str, Any] | None, **named: Any) -> dict[str, Any]:
    recipe = dict(options or {})
    for name, value in named.items():
        if value is None:
            continue
        if name in recipe and recipe[name] != value:
            raise ValueError(f"{name} is given twice ({value!r} and options[{name!r}]={recipe[name]!r}); give it once")
        recipe[name] = value
    return recipe


def _resumed_settings(stored, folder, method, arch, dataset, requested, world_size) -> dict[str, Any]:
    """The run's own settings; anything asked for now must agree with them."""
    engine = stored["engine"]
    differences = [(k, stored[k], v) for k, v in (("method", method), ("arch", arch), ("dataset", dataset))
                   if stored[k] != v]
    differences += [(k, engine[k], v) for k, v in requested.items()
                    if v is not None and k in IDENTITY and engine.get(k, DEFAULTS.get(k)) != v]
    if engine["world_size"] != world_size:
        differences.append(("world_size (processes)", engine["world_size"], world_size))
    if differences:
        raise ConfigError(_mismatch_message(folder, differences))
    eval_limit = requested["eval_limit"] if requested["eval_limit"] is not None else engine["eval_limit"]
    return {**{k: engine.get(k, DEFAULTS.get(k)) for k in IDENTITY}, "eval_limit": eval_limit}


def _checked_extension(folder: RunFolder, stored: dict[str, Any], trainer) -> dict[str, int]:
    """A resume with more epochs than the run was started with: allowed when the longer run is the same
    run continued, i.e. a run started with the new epochs would have trained the same steps so far.
    That holds when the method's epochs only set how long its last phase runs (``TrainingMethod.extendable``)
    and that phase's learning rate does not depend on its length (a constant schedule)."""
    before, after = stored["recipe"]["epochs"], trainer.recipe["epochs"]

    def refuse(why: str) -> ConfigError:
        return ConfigError(f"cannot resume {folder.path} with epochs {after} (it was started with {before}): {why}; "
                           f"resume it with --epochs {before}, or start a new run in another --out folder")

    if after < before:
        raise refuse("a run can be extended, not shortened")
    if not type(trainer).extendable:
        raise refuse(f"method {trainer.name!r} derives more than the length of its last phase from its epochs")
    phases, stored_phases = trainer.phases(), stored["phases"]
    as_stored = _jsonable([asdict(p) for p in [*phases[:-1], replace(phases[-1], epochs=stored_phases[-1]["epochs"])]])
    if as_stored != stored_phases:
        raise refuse("its phases would change otherwise than the last one's length")
    head = phases[schedule_span(phases, len(phases) - 1)[0]]
    if head.schedule != "constant":
        raise refuse(f"its {head.schedule} learning-rate schedule spans the epochs, so every step's rate would change")
    return {"epochs_before": before, "epochs": after}


def _with_defaults(stored: dict[str, Any], trainer_class) -> dict[str, Any]:
    """A run.json as read, with a recipe option or Phase field that an older run.json lacks read as its
    default, as the run's trainer was built then (and is built again on resume)."""
    phase_defaults = _jsonable({f.name: f.default for f in fields(Phase) if f.default is not MISSING})
    return {**stored, "recipe": {**_jsonable(trainer_class.options), **stored["recipe"]},
            "phases": [{**phase_defaults, **phase} for phase in stored["phases"]]}


def _mismatch_message(folder: RunFolder, differences) -> str:
    listed = "; ".join(f"{name}: run {old!r}, now {new!r}" for name, old, new in differences)
    return (
        f"cannot resume {folder.path}: it was started with another configuration ({listed}). Repeat the "
        f"run's settings (see {folder.path / 'run.json'}) or start a new run in another --out folder"
    )


def _check_fresh(folder: RunFolder) -> None:
    """A new run may start in an empty folder, or one whose run never checkpointed (it failed or was
    killed in its first epoch: nothing to resume, and a rerun with the same --out just works)."""
    if folder.has_state:
        raise ConfigError(f"{folder.path} already holds a training run; continue it with --resume {folder.path} "
                          "or choose another --out")
    if folder.path.exists() and not folder.path.is_dir():
        raise ConfigError(f"{folder.path} is a file, not a folder; choose another --out")
    foreign = folder.foreign_entries()
    if foreign:
        raise ConfigError(f"{folder.path} holds files a training run did not write ({', '.join(foreign[:3])}); "
                          "choose another --out")


def _default_out(method: str, arch: str, dataset: str) -> Path:
    return Path("runs") / f"{method}-{arch}-{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"


def _jsonable(value):
    return json.loads(json.dumps(value))


def _versions() -> dict[str, str]:
    import timm

    from neurozoo import __version__

    return {"neurozoo": __version__, "torch": torch.__version__, "timm": timm.__version__,
            "python": platform.python_version()}
