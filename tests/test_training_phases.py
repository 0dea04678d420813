"""Phase transitions in the engine: a phase that continues the previous one's optimiser and
schedule, a phase that starts with a warm-up, and resuming across the boundary."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

import neurozoo
from neurozoo.training.engine import Engine
from neurozoo.training.method import Phase, TrainingMethod
from neurozoo.training.optim import build_optimizer, schedule_span

CPU = torch.device("cpu")
STEPS_PER_EPOCH = 4
BASE = Phase("train", epochs=3, lr=0.1, optimizer="sgd", schedule="onecycle")


class Phased(TrainingMethod):
    """Cross-entropy over the phases it is given."""

    def __init__(self, phases: list[Phase]):
        super().__init__()
        self._phases = phases

    def phases(self) -> list[Phase]:
        return self._phases


def batches(epochs: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [(torch.rand(8, 1, 28, 28, generator=generator), torch.randint(0, 10, (8,), generator=generator))
            for _ in range(epochs * STEPS_PER_EPOCH)]


def engine(phases: list[Phase]) -> Engine:
    torch.manual_seed(0)
    model = neurozoo.create_model("mlp", dataset="mnist", hidden=[16])
    return Engine(Phased(phases), model, device=CPU, precision="fp32")


def train(eng: Engine, data, start: int = 0, stop: int | None = None) -> list[float]:
    """Steps ``start`` to ``stop`` of ``data`` through ``eng``'s phases, as neurozoo.train runs them
    (a resumed run: ``eng.load_state_dict`` first); returns each step's lr."""
    stop = len(data) if stop is None else stop
    lrs, step = [], start
    for index in range(len(eng.phases)):
        end = min(eng.first_epoch(index + 1) * STEPS_PER_EPOCH, stop)
        if step >= end:
            continue
        eng.start_phase(index, STEPS_PER_EPOCH)
        eng.train_mode()
        for batch in data[step:end]:
            lrs.append(eng.optimizer.param_groups[0]["lr"])
            eng.step(batch)
        step = end
    return lrs


def weights(eng: Engine) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in eng.net.state_dict().items()}


CHAIN = [replace(BASE, name="first", epochs=2), replace(BASE, name="second", epochs=1, continue_from_previous=True)]


def test_a_continued_phase_is_one_phase_whose_loss_may_change():
    data = batches(3)
    single = engine([BASE])
    single_lrs = train(single, data)
    chained = engine(CHAIN)
    boundary = 2 * STEPS_PER_EPOCH
    chained_lrs = train(chained, data, stop=boundary)
    optimizer = chained.optimizer
    chained_lrs += train(chained, data, start=boundary)
    assert chained.phase_index == 1 and chained.optimizer is optimizer  # kept across the boundary
    assert chained_lrs == single_lrs  # one schedule over both phases: no jump at the boundary
    # momentum carried over too: the chain's weights are the single phase's, bit for bit
    assert all(torch.equal(a, b) for a, b in zip(weights(single).values(), weights(chained).values()))


def test_without_continuation_the_next_phase_starts_afresh():
    fresh = [CHAIN[0], replace(BASE, name="second", epochs=1, lr=0.01, schedule="cosine")]
    eng = engine(fresh)
    lrs = train(eng, batches(3))
    assert lrs[2 * STEPS_PER_EPOCH] == pytest.approx(0.01)  # the new phase's own lr, from its first step
    assert lrs[2 * STEPS_PER_EPOCH - 1] < 1e-3  # the first one-cycle had annealed


@pytest.mark.parametrize("saved_at", [STEPS_PER_EPOCH + 1, 2 * STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH + 2])
def test_resuming_inside_a_chain_restores_its_optimiser_and_schedule(saved_at):
    # saved inside the first phase (the second must then go on with the live optimiser, not with
    # the resumed state: issue 22's arm B once restarted its phase 2 from the state of epoch 9), at
    # the end of the first phase (the state holds phase index 0) or inside the second
    data = batches(3)
    reference = engine(CHAIN)
    reference_lrs = train(reference, data)
    stopped = engine(CHAIN)
    lrs = train(stopped, data, stop=saved_at)
    state = stopped.state_dict()

    resumed = engine(CHAIN)
    resumed.load_state_dict(state)
    lrs += train(resumed, data, start=saved_at)
    assert lrs == reference_lrs
    assert all(torch.equal(a, b) for a, b in zip(weights(reference).values(), weights(resumed).values()))


@pytest.mark.parametrize(("weight_decay_all", "undecayed"), [(False, {"0.bias", "1.weight", "1.bias"}), (True, set())])
def test_weight_decay_spares_biases_and_norms_unless_weight_decay_all(weight_decay_all, undecayed):
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    optimizer = build_optimizer(replace(BASE, weight_decay=5e-4, weight_decay_all=weight_decay_all), net)
    names = {id(p): n for n, p in net.named_parameters()}
    decay = {names[id(p)]: group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    assert decay.keys() == set(names.values())
    assert {n for n, d in decay.items() if d == 0} == undecayed
    assert {n for n, d in decay.items() if d == 5e-4} == set(names.values()) - undecayed


def test_warmup_rises_linearly_to_the_phase_lr_then_follows_the_schedule():
    phases = [replace(BASE, name="first", epochs=1),
              replace(BASE, name="second", epochs=2, lr=0.04, schedule="cosine", warmup_epochs=0.75)]
    lrs = train(engine(phases), batches(3))[STEPS_PER_EPOCH:]
    assert lrs[:4] == pytest.approx([0.01, 0.02, 0.03, 0.04])  # 3 warm-up steps from lr / 4
    assert all(a > b for a, b in zip(lrs[3:], lrs[4:]))  # then the cosine decay over the other 5 steps
    assert lrs[-1] > 0


@pytest.mark.parametrize("phases, message", [
    ([replace(BASE, continue_from_previous=True)], "first phase"),
    ([BASE, replace(BASE, name="second", lr=0.01, continue_from_previous=True)], "sets other lr"),
])
def test_bad_chains_are_errors_naming_the_fix(phases, message):
    with pytest.raises(ValueError, match=message):
        schedule_span(phases, len(phases) - 1)


@pytest.mark.parametrize("fields", [{"warmup_epochs": 1.0}, {"warmup_epochs": 1.0, "schedule": "cosine",
                                                             "continue_from_previous": True}])
def test_warmup_needs_a_fresh_schedule_other_than_onecycle(fields):
    with pytest.raises(ValueError, match="warmup_epochs needs a phase that starts its own schedule"):
        replace(BASE, **fields)
