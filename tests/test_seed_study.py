"""scripts/zoo/seed_study.py: aggregate runs over seeds, and the card's seed_study.json made from it."""

from __future__ import annotations

import importlib.util
import json
import statistics

import pytest

from neurozoo.cards import _seed_study_section

from conftest import REPO

spec = importlib.util.spec_from_file_location("seed_study", REPO / "scripts" / "zoo" / "seed_study.py")
seed_study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(seed_study)


def fake_run(folder, seed: int, top1: float, noisy: float, val: list[float]):
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"engine": {"seed": seed}}))
    (folder / "eval.json").write_text(json.dumps(
        {"metrics": {"top1": {"top1": top1}, "corruption": {"noise_sigma_0.1": noisy}}}))
    (folder / "metrics.jsonl").write_text("".join(
        json.dumps({"epoch": i + 1, "val_top1": v, "epoch_time_s": 10.0}) + "\n" for i, v in enumerate(val)))
    return folder


@pytest.fixture
def study(tmp_path):
    runs = {
        "hah": [fake_run(tmp_path / f"hah/seed{s}", s, t, n, [0.3, v])
                for s, t, n, v in [(0, 0.50, 0.45, 0.40), (1, 0.54, 0.47, 0.45), (2, 0.52, 0.40, 0.43)]],
        "vgg": [fake_run(tmp_path / f"vgg/seed{s}", s, t, n, [0.5, v])
                for s, t, n, v in [(0, 0.70, 0.30, 0.60), (1, 0.72, 0.50, 0.61), (2, 0.74, 0.35, 0.62)]],
    }
    out = tmp_path / "study.json"
    seed_study.main(["aggregate", "--json", str(out)] + [f"--arm={a}=" + ",".join(map(str, r)) for a, r in runs.items()])
    return out


def test_aggregate_gives_mean_std_and_each_seed(study):
    figures = json.loads(study.read_text())["arms"]["hah"]["figures"]
    assert figures["top1"]["mean"] == pytest.approx(0.52)
    assert figures["top1"]["std"] == pytest.approx(0.02)
    assert figures["top1"]["per_seed"] == {"seed0": 0.50, "seed1": 0.54, "seed2": 0.52}
    assert figures["final_val_top1"]["per_seed"]["seed1"] == 0.45
    assert figures["best_val_epoch"]["per_seed"]["seed0"] == 2
    assert figures["train_seconds"]["mean"] == 20.0


def test_card_study_derives_compares_per_seed_and_renders(study, tmp_path):
    out = tmp_path / "card" / "seed_study.json"  # a new checkpoint's folder: card creates it
    seed_study.main(["card", str(study), "--reference", "vgg", "--show", "top1,noise_drop",
                     "--derive", "noise_drop=top1-noise_sigma_0.1", "--describe", "hah=HaH", "--describe", "vgg=VGG",
                     "--about", "three seeds", "--out", str(out)])
    card = json.loads(out.read_text())
    hah = card["arms"]["hah"]
    assert hah["runs"] == {f"seed{s}": f"RUNS/hah/seed{s}" for s in range(3)}  # no machine paths
    assert hah["per_seed"]["seed2"]["noise_drop"] == pytest.approx(0.12)
    assert hah["mean_std"]["noise_drop"]["mean"] == pytest.approx((0.05 + 0.07 + 0.12) / 3)
    # noise_drop: HaH 0.05 / 0.07 / 0.12 against VGG 0.40 / 0.22 / 0.39, higher on no seed; top1 on none
    assert card["findings"] == [
        "top1: HaH 0.5200 +- 0.0200 vs VGG 0.7200 +- 0.0200, difference -0.2000; higher on 0 of 3 seeds",
        f"noise_drop: HaH {0.08:.4f} +- {hah['mean_std']['noise_drop']['std']:.4f} vs VGG 0.3367 +- "
        f"{card['arms']['vgg']['mean_std']['noise_drop']['std']:.4f}, difference -0.2567; higher on 0 of 3 seeds",
    ]
    section = "\n".join(_seed_study_section(out.parent))
    assert "| HaH | 3 | 0.5200 +- 0.0200 | 0.0800 +- " in section
    assert "- top1: HaH 0.5200" in section


def test_card_study_gives_a_plain_verdict_on_a_claimed_direction(study, tmp_path):
    out = tmp_path / "seed_study.json"
    # the claim: VGG (the reference) higher than HaH on top1 (every seed) and on noise_sigma_0.1 (seed1: HaH
    # 0.47 < 0.50; seeds 0 and 2: HaH 0.45 > 0.30, 0.40 > 0.35)
    seed_study.main(["card", str(study), "--reference", "vgg", "--show", "top1,noise_sigma_0.1,final_val_top1",
                     "--claim-higher", "top1,noise_sigma_0.1", "--describe", "hah=HaH", "--describe", "vgg=VGG",
                     "--about", "three seeds", "--out", str(out)])
    top1, noisy, val = json.loads(out.read_text())["findings"]
    assert top1.endswith("; the paper's claim (VGG higher) holds on 3 of 3 seeds: reproduced in direction")
    assert noisy.endswith("; the paper's claim (VGG higher) holds on 1 of 3 seeds: mixed")
    assert val.endswith("higher on 0 of 3 seeds")  # no claim on it: no verdict
    assert seed_study.direction_verdict("BinEnc", 0, 2).endswith("holds on 0 of 2 seeds: not reproduced")


@pytest.mark.parametrize("args, message", [
    (["--reference", "vgg", "--show", "top1", "--claim-higher", "nmi"], "--claim-higher 'nmi': the findings cover"),
    (["--reference", "nope", "--show", "top1"], "--reference 'nope' is not an arm"),
    (["--reference", "vgg", "--show", "top5"], "--show 'top5': arm 'hah' has no such figure"),
    (["--reference", "vgg", "--show", "top1", "--derive", "drop=top1"], "give NAME=FIGURE-FIGURE"),
    (["--reference", "vgg", "--show", "top1", "--derive", "drop=top1-nmi"], "seed0 has no figure 'nmi'"),
    (["--reference", "vgg", "--show", "top1", "--describe", "hah"], "--describe 'hah': give ARM=TEXT"),
])
def test_card_refuses_bad_arguments_in_one_line(study, tmp_path, args, message):
    out = tmp_path / "seed_study.json"
    with pytest.raises(SystemExit) as stop:
        seed_study.main(["card", str(study), "--about", "x", "--out", str(out)] + args)
    assert message in str(stop.value)
    assert not out.exists()


def test_a_figure_missing_on_some_seeds_is_left_out_of_the_comparison(tmp_path):
    """A convergence epoch never reached is None: no mean for an arm without it, paired seeds only."""
    runs = {arm: [fake_run(tmp_path / f"{arm}/seed{s}", s, 0.5, 0.4, [0.5]) for s in (0, 1)] for arm in ("a", "b")}
    reached = {("a", 0): 7, ("a", 1): None, ("b", 0): None, ("b", 1): None}
    for (arm, seed), epoch in reached.items():
        evaluation = runs[arm][seed] / "eval.json"
        result = json.loads(evaluation.read_text())
        result["metrics"]["convergence_epoch"] = {"convergence_epoch": epoch}
        evaluation.write_text(json.dumps(result))
    study, out = tmp_path / "study.json", tmp_path / "seed_study.json"
    seed_study.main(["aggregate", "--json", str(study)] + [f"--arm={a}=" + ",".join(map(str, r)) for a, r in runs.items()])
    seed_study.main(["card", str(study), "--reference", "b", "--show", "convergence_epoch", "--claim-higher",
                     "convergence_epoch", "--about", "x", "--out", str(out)])
    (finding,) = json.loads(out.read_text())["findings"]
    assert finding == ("convergence_epoch: a 7.0000 vs b none, no difference to take; higher on 0 of 0 seeds "
                       "(2 seed(s) without the figure on one side left out); the paper's claim (b higher): not "
                       "measured, no seed has the figure on both arms")
    assert "| b | 2 | none |" in "\n".join(_seed_study_section(tmp_path))


def test_card_section_shows_a_single_seed_without_spread(tmp_path):
    (tmp_path / "seed_study.json").write_text(json.dumps({
        "about": "one seed", "shown": ["top1"], "findings": [],
        "arms": {"a": {"description": "A", "per_seed": {"seed0": {"top1": 0.5}},
                       "mean_std": {"top1": {"mean": 0.5, "std": None, "n": 1}}}}}))
    assert "| A | 1 | 0.5000 |" in _seed_study_section(tmp_path)


STUDIES = sorted(REPO.glob("model_cards/*/seed_study.json")) + sorted(REPO.glob("plugins/*/seed_study.json"))


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: str(p.relative_to(REPO)))
def test_committed_studies_summarise_their_own_seeds(path):
    """Every committed seed_study.json: each shown mean +- std is that of the per-seed values it lists
    (a figure undefined on a seed, such as a convergence epoch never reached, counts on none)."""
    study = json.loads(path.read_text())
    for arm in study["arms"].values():
        for name in study["shown"]:
            values = [figures[name] for figures in arm["per_seed"].values() if figures[name] is not None]
            shown = arm["mean_std"][name]
            assert shown.get("n", len(values)) == len(values)  # studies written before "n" lack it
            assert shown["mean"] == (pytest.approx(statistics.fmean(values)) if values else None)
            if len(values) > 1:
                assert shown["std"] == pytest.approx(statistics.stdev(values))


def test_hah_readme_table_is_the_seed_study():
    study = json.loads((REPO / "model_cards/hah-hah_vgg16-cifar10/seed_study.json").read_text())
    readme = (REPO / "plugins/hah/README.md").read_text()
    for arm in study["arms"].values():
        cells = " | ".join(f"{arm['mean_std'][n]['mean']:.4f} +- {arm['mean_std'][n]['std']:.4f}" for n in study["shown"])
        assert f"| {cells} |" in readme, f"plugins/hah/README.md lacks the row of {arm['description']}"


BINENC_SLICE_STUDY = REPO / "docs/results/binenc-slice-study"


def test_binenc_slice_study_is_what_its_archive_gives():
    """The committed slice_study.json is the aggregate of the archived runs beside it (nothing edited by
    hand), and the binenc README's result table shows its means and spreads."""
    study = json.loads((BINENC_SLICE_STUDY / "slice_study.json").read_text())
    rebuilt = seed_study.aggregate({arm: sorted((BINENC_SLICE_STUDY / arm).glob("seed*")) for arm in study["arms"]})
    assert {arm: summary["figures"] for arm, summary in rebuilt.items()} == {
        arm: summary["figures"] for arm, summary in study["arms"].items()}
    readme = (REPO / "plugins/binenc/README.md").read_text()
    for arm, summary in study["arms"].items():
        figures = summary["figures"]
        cells = " | ".join(f"{figures[name]['mean']:.4f} +- {figures[name]['std']:.4f}"
                           for name in ("top1", "deepfool_lts4_score", "deepfool_score"))
        assert f"| {cells} | {figures['mahalanobis_auroc']['mean']:.3f} +- " in readme, \
            f"plugins/binenc/README.md's slice-study table lacks {arm}'s figures"


@pytest.mark.parametrize("min_gain, chosen", [(0.0, "b"), (0.004, "a"), (0.002, "b")])
def test_pick_keeps_the_first_run_unless_another_beats_it_by_the_margin(tmp_path, capsys, min_gain, chosen):
    """pick chooses the highest last-epoch validation score; with --min-gain the first run (the incumbent)
    stays unless another beats it by more than the margin (here b is 0.003 above a, c below both)."""
    runs = {name: fake_run(tmp_path / name, 0, 0.9, 0.5, [0.5, val])
            for name, val in (("a", 0.917), ("b", 0.920), ("c", 0.910))}
    out = tmp_path / "choice.json"
    seed_study.main(["pick", *map(str, runs.values()), "--min-gain", str(min_gain), "--json", str(out)])
    assert capsys.readouterr().out.strip() == str(runs[chosen])
    saved = json.loads(out.read_text())
    assert saved["choice"] == str(runs[chosen]) and saved["min_gain"] == min_gain
    assert saved["scores"][str(runs["b"])] == 0.920
