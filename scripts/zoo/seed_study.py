"""Seed studies of the zoo scripts: pick a run by its validation score, aggregate runs into mean +- std.

    python scripts/zoo/seed_study.py pick RUN... [--key val_top1] [--min-gain 0.004] [--json sweep.json]
    python scripts/zoo/seed_study.py aggregate --arm NAME=RUN[,RUN...] ... --json study.json
    python scripts/zoo/seed_study.py card study.json --reference ARM --show FIG,... --describe ARM=TEXT ...
        [--derive NAME=FIG-FIG] [--claim-higher FIG,...] --about TEXT --out model_cards/NAME/seed_study.json

``pick`` prints the run folder whose last epoch (metrics.jsonl) has the highest ``--key`` (a
validation figure: choices are never made on the test set; on a tie the first run given) and can
record every candidate's score. With ``--min-gain G`` the first run given is the incumbent: another
replaces it only when its score is more than G above the incumbent's (say one standard error of the
validation figure, where a change inside the noise is not worth retraining for).

``aggregate`` reads, for every run of every arm, the evaluation JSON beside it (``RUN/eval.json``,
``neurozoo eval --json``) and its training log, and writes per figure the mean, the sample standard
deviation (n - 1; None for one run), n and the value of each seed. Figures: every figure of the
evaluation, plus from the log ``final_val_top1`` (last epoch), ``best_val_top1`` / ``best_val_epoch``
and ``train_seconds`` (summed epoch times).

``card`` turns an aggregate into the ``seed_study.json`` a model card shows (``neurozoo.cards``):
per arm its description, its run folders below their common folder (``RUNS/binenc/seed0``: no
machine paths), per-seed figures and mean +- std; ``--derive`` adds a per-seed difference
of two figures (e.g. the accuracy lost to noise); and generated findings: for every other arm and
shown figure, its difference from the reference arm's mean and on how many seeds (paired by seed)
it is higher. ``--claim-higher`` names the shown figures on which the paper claims the reference arm
beats every other arm (e.g. BinEnc's accuracy, DeepFool score and AUROC over NoPen's and LinPen's); each
such finding ends with a plain verdict on the claim's direction from the paired seeds: reproduced (the
reference higher on every seed), mixed, or not reproduced (on none). The findings are computed from the
numbers, never typed in.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from neurozoo.cards import mean_std_text


def epochs(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    if not lines:
        sys.exit(f"{run}: metrics.jsonl is empty (the run has not finished an epoch)")
    return [json.loads(line) for line in lines]


def last_score(run: Path, key: str) -> float:
    last = epochs(run)[-1]
    if key not in last:
        sys.exit(f"{run}: the last epoch logged no {key!r} (train with --val-fraction for validation figures)")
    return last[key]


def log_figures(run: Path) -> dict[str, float | None]:
    log = epochs(run)
    figures: dict[str, float | None] = {"train_seconds": sum(e.get("epoch_time_s", 0.0) for e in log)}
    scored = [e for e in log if e.get("val_top1") is not None]
    if scored:
        best = max(scored, key=lambda e: e["val_top1"])
        figures.update(final_val_top1=log[-1].get("val_top1"), best_val_top1=best["val_top1"],
                       best_val_epoch=best["epoch"])
    return figures


def run_figures(run: Path) -> tuple[int, dict[str, float | None]]:
    evaluation = run / "eval.json"
    if not evaluation.exists():
        sys.exit(f"{run}: no eval.json (evaluate the run first: neurozoo eval RUN --json RUN/eval.json)")
    result = json.loads(evaluation.read_text())
    figures = {name: value for metric in result["metrics"].values() for name, value in metric.items()}
    seed = json.loads((run / "run.json").read_text())["engine"]["seed"]
    return seed, {**figures, **log_figures(run)}


def summary(values: dict[str, float | None]) -> dict:
    numbers = [v for v in values.values() if v is not None]
    return {
        "mean": statistics.fmean(numbers) if numbers else None,
        "std": statistics.stdev(numbers) if len(numbers) > 1 else None,
        "n": len(numbers),
        "per_seed": values,
    }


def aggregate(arms: dict[str, list[Path]]) -> dict:
    out = {}
    for arm, runs in arms.items():
        per_run, folders = {}, {}
        for run in runs:
            seed, figures = run_figures(run)
            if seed in per_run:
                sys.exit(f"arm {arm!r}: {folders[seed]} and {run} both ran seed {seed}")
            per_run[seed], folders[seed] = figures, run
        names = list(dict.fromkeys(name for figures in per_run.values() for name in figures))
        out[arm] = {
            "runs": {f"seed{seed}": str(run) for seed, run in folders.items()},
            "figures": {name: summary({f"seed{seed}": figures.get(name) for seed, figures in per_run.items()})
                        for name in names},
        }
    return out


def derive(per_seed: dict[str, dict], spec: str) -> str:
    """Add the figure ``NAME = A - B`` (``spec`` "NAME=A-B") to every seed's figures; returns NAME."""
    name, _, expression = spec.partition("=")
    first, _, second = expression.partition("-")
    if not (name and first and second):
        sys.exit(f"--derive {spec!r}: give NAME=FIGURE-FIGURE, e.g. noise_drop=top1-noise_sigma_0.1")
    for seed, figures in per_seed.items():
        missing = [f for f in (first, second) if figures.get(f) is None]
        if missing:
            sys.exit(f"--derive {spec!r}: {seed} has no figure {missing[0]!r}")
        figures[name] = figures[first] - figures[second]
    return name


def card_study(study: dict, reference: str, shown: list[str], descriptions: dict[str, str],
               derived: list[str], about: str, claimed_higher: tuple[str, ...] = ()) -> dict:
    """The model card's ``seed_study.json`` for an aggregate (see the module doc)."""
    if reference not in study["arms"]:
        sys.exit(f"--reference {reference!r} is not an arm of the study: {', '.join(study['arms'])}")
    unshown = [name for name in claimed_higher if name not in shown]
    if unshown:
        sys.exit(f"--claim-higher {unshown[0]!r}: the findings cover the shown figures only; add it to --show")
    # the run folders as the card shows them: below their common folder, called RUNS (no machine paths)
    folders = [Path(run) for result in study["arms"].values() for run in result["runs"].values()]
    root = Path(os.path.commonpath(folders)) if folders else Path()
    root = root.parent if root in folders else root
    arms = {}
    for arm, result in study["arms"].items():
        per_seed: dict[str, dict] = {}
        for name, figure in result["figures"].items():
            for seed, value in figure["per_seed"].items():
                per_seed.setdefault(seed, {})[name] = value
        names = list(result["figures"]) + [derive(per_seed, spec) for spec in derived]
        unknown = [name for name in shown if name not in names]
        if unknown:
            sys.exit(f"--show {unknown[0]!r}: arm {arm!r} has no such figure (it has: {', '.join(names)})")
        arms[arm] = {
            "description": descriptions.get(arm, arm),
            "runs": {seed: str("RUNS" / Path(run).relative_to(root)) for seed, run in result["runs"].items()},
            "per_seed": per_seed,
            "mean_std": {name: {k: v for k, v in summary({s: f.get(name) for s, f in per_seed.items()}).items()
                                if k != "per_seed"} for name in names},
        }
    return {"about": about, "reference": reference, "shown": shown, "arms": arms,
            "findings": findings(arms, reference, shown, claimed_higher)}


def direction_verdict(reference: str, held: int, seeds: int) -> str:
    """A plain verdict on "the reference arm is higher", held on ``held`` of ``seeds`` paired seeds."""
    if seeds == 0:
        return f"the paper's claim ({reference} higher): not measured, no seed has the figure on both arms"
    verdict = ("reproduced in direction" if held == seeds else "not reproduced" if held == 0 else "mixed")
    return f"the paper's claim ({reference} higher) holds on {held} of {seeds} seeds: {verdict}"


def findings(arms: dict, reference: str, shown: list[str], claimed_higher: tuple[str, ...] = ()) -> list[str]:
    ref = arms[reference]
    lines = []
    for arm, result in arms.items():
        if arm == reference:
            continue
        for name in shown:
            mine, theirs = result["mean_std"][name], ref["mean_std"][name]
            common = [s for s in result["per_seed"] if s in ref["per_seed"]]
            # a seed where either arm lacks the figure (a convergence epoch never reached is None) is left out
            paired = [s for s in common if None not in (result["per_seed"][s].get(name), ref["per_seed"][s].get(name))]
            higher = sum(result["per_seed"][s][name] > ref["per_seed"][s][name] for s in paired)
            difference = ("no difference to take" if None in (mine["mean"], theirs["mean"])
                          else f"difference {mine['mean'] - theirs['mean']:+.4f}")
            missing = len(common) - len(paired)
            line = (f"{name}: {result['description']} {mean_std_text(mine)} vs {ref['description']} "
                    f"{mean_std_text(theirs)}, {difference}; higher on {higher} of {len(paired)} seeds"
                    + (f" ({missing} seed(s) without the figure on one side left out)" if missing else ""))
            if name in claimed_higher:
                held = sum(ref["per_seed"][s][name] > result["per_seed"][s][name] for s in paired)
                line += "; " + direction_verdict(ref["description"], held, len(paired))
            lines.append(line)
    return lines


def table(arms: dict) -> str:
    names = list(dict.fromkeys(name for arm in arms.values() for name in arm["figures"]))
    rows = ["| figure | " + " | ".join(arms) + " |", "|---|" + "---|" * len(arms)]
    for name in names:
        cells = []
        for arm in arms.values():
            figure = arm["figures"].get(name)
            if figure is None or figure["mean"] is None:
                cells.append("")
            else:
                spread = "" if figure["std"] is None else f" +- {figure['std']:.4g}"
                cells.append(f"{figure['mean']:.4g}{spread} (n={figure['n']})")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pick = commands.add_parser("pick", help="print the run with the best last-epoch validation score")
    pick.add_argument("runs", nargs="+", type=Path)
    pick.add_argument("--key", default="val_top1")
    pick.add_argument("--min-gain", type=float, default=0.0,
                      help="keep the first run unless another scores more than this above it")
    pick.add_argument("--json", type=Path, help="also write every candidate's score and the choice")
    agg = commands.add_parser("aggregate", help="mean +- std over seeds, per arm and figure")
    agg.add_argument("--arm", action="append", required=True, metavar="NAME=RUN[,RUN...]")
    agg.add_argument("--json", type=Path, required=True)
    agg.add_argument("--note", default="", help="what the study is (stored in the JSON)")
    card = commands.add_parser("card", help="the model card's seed_study.json for an aggregate")
    card.add_argument("study", type=Path, help="the aggregate's JSON")
    card.add_argument("--reference", required=True, help="the arm every other arm is compared with")
    card.add_argument("--show", required=True, help="comma-separated figures the card's table shows")
    card.add_argument("--describe", action="append", default=[], metavar="ARM=TEXT")
    card.add_argument("--derive", action="append", default=[], metavar="NAME=FIGURE-FIGURE")
    card.add_argument("--claim-higher", default="", metavar="FIG,...",
                      help="shown figures the paper claims higher for the reference arm than for every other")
    card.add_argument("--about", required=True, help="what was run, with the command that reruns it")
    card.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    if args.command == "card":
        unnamed = [spec for spec in args.describe if not spec.partition("=")[2]]
        if unnamed:
            sys.exit(f"--describe {unnamed[0]!r}: give ARM=TEXT, e.g. hah='HaH-VGG16'")
        descriptions = dict(spec.partition("=")[::2] for spec in args.describe)
        claimed = tuple(name for name in args.claim_higher.split(",") if name)
        result = card_study(json.loads(args.study.read_text()), args.reference, args.show.split(","),
                            descriptions, args.derive, args.about, claimed)
        args.out.parent.mkdir(parents=True, exist_ok=True)  # a new checkpoint's model_cards folder
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print("\n".join(result["findings"]))
        return

    if args.command == "pick":
        scores = {str(run): last_score(run, args.key) for run in args.runs}
        incumbent = str(args.runs[0])
        best = max(scores, key=scores.get)
        choice = best if scores[best] > scores[incumbent] + args.min_gain else incumbent
        if args.json:
            args.json.write_text(json.dumps({"key": args.key, "min_gain": args.min_gain, "scores": scores,
                                             "choice": choice}, indent=2) + "\n")
        print(choice)
        return
    arms = {}
    for spec in args.arm:
        name, _, runs = spec.partition("=")
        if not runs:
            sys.exit(f"--arm {spec!r}: give NAME=RUN[,RUN...]")
        arms[name] = [Path(run) for run in runs.split(",")]
    result = {"note": args.note, "command": " ".join(sys.argv), "arms": aggregate(arms)}
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result["arms"]))


if __name__ == "__main__":
    main()
