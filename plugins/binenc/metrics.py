"""BinEnc's metrics on the penultimate code z (``model.embed``), after the authors' code [code].

- ``binarity``: per code dimension, standardise, fit a 2-component Gaussian mixture and take the
  distance of its two means in units of their mean standard deviation; averaged over dimensions.
  A binary code (two tight clusters per dimension) scores high; a unimodal one near 0.
- ``sign_pattern_fraction``: group the samples by predicted class; in each group count the samples
  whose sign pattern (z > 0 per dimension) is the group's most common one; divide the total by N.
- ``mahalanobis_auroc``: standardise z with the training codes; fit one Gaussian per class on
  the correctly classified training points of that (predicted) class; score every test point by
  its Mahalanobis distance to the Gaussian of its predicted class; AUROC of that distance for
  detecting misclassified test points (1.0: every error is farther than every correct point).

- ``binenc_deepfool``: the authors' DeepFool robustness score, i.e. the shared ``deepfool`` metric
  with ``protocol="lts4"`` (from the predicted label, every image, unclamped, in the normalised
  input space), so one evaluation can hold both protocols' figures.
- ``convergence_epoch``: read from a run's training log (an evaluation sees the model, not its
  training): the first epoch whose logged training accuracy exceeds the threshold.

For variant ``nopen`` the code is the backbone's pooled features (there is no penultimate layer).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neurozoo.errors import ConfigError
from neurozoo.evaluation import requires


def peak_separation(values: np.ndarray, seed: int = 0) -> float:
    """|mu_1 - mu_2| / mean(sigma_1, sigma_2) of a 2-component Gaussian mixture on standardised values."""
    from sklearn.mixture import GaussianMixture
    from sklearn.preprocessing import StandardScaler

    scaled = StandardScaler().fit_transform(values.reshape(-1, 1).astype(np.float64))
    mixture = GaussianMixture(n_components=2, random_state=seed).fit(scaled)
    means = mixture.means_.ravel()
    return float(abs(means[0] - means[1]) / np.sqrt(mixture.covariances_.ravel()).mean())


@requires(embeddings=True)
def binarity(ctx, seed: int = 0) -> dict[str, float]:
    codes = ctx.outputs().embeddings.numpy()
    return {"binarity": float(np.mean([peak_separation(codes[:, d], seed) for d in range(codes.shape[1])]))}


# Between about 2 and 4 weakly bimodal codes and flat unimodal ones score alike (uniform values: 2.96,
# two unit Gaussians 4 apart: 3.98; scripts/binarity_calibration.py), so a code is called binary only from 4
BINARY_FROM = 4.0


def read_binarity(figures: dict[str, float | None]) -> str:
    """The card's sentence on a binarity: whether the code z is binary by the rule above."""
    value = figures.get("binarity")
    if value is None:
        return "undefined, so the code is neither shown binary nor shown not to be"
    if value >= BINARY_FROM:
        return f"the code z is binary ({value:.2f} >= {BINARY_FROM:g}: two clusters per dimension, on average at least " \
               f"{BINARY_FROM:g} of their standard deviations apart)"
    return f"the code z is not binary ({value:.2f} < {BINARY_FROM:g}; a uniform code scores 2.96, two unit " \
           f"Gaussians {BINARY_FROM:g} apart 3.98)"


def shared_sign_fraction(codes: np.ndarray, groups: np.ndarray) -> float:
    """Fraction of samples whose sign pattern is the most common one of their group."""
    signs = codes > 0
    shared = 0
    for group in np.unique(groups):
        _, counts = np.unique(signs[groups == group], axis=0, return_counts=True)
        shared += int(counts.max())
    return shared / len(codes)


@requires(embeddings=True)
def sign_pattern_fraction(ctx) -> dict[str, float]:
    outputs = ctx.outputs()
    predicted = outputs.logits.argmax(1).numpy()
    return {"sign_pattern_fraction": shared_sign_fraction(outputs.embeddings.numpy(), predicted)}


def mahalanobis_distances(train_codes: np.ndarray, train_predicted: np.ndarray, train_correct: np.ndarray,
                          codes: np.ndarray, predicted: np.ndarray, min_points: int = 3) -> np.ndarray:
    """Distance of each code to the Gaussian of its predicted class (NaN where that class has
    fewer than ``min_points`` correctly classified training points)."""
    from sklearn.covariance import EmpiricalCovariance
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_codes)
    train_codes, codes = scaler.transform(train_codes), scaler.transform(codes)
    distances = np.full(len(codes), np.nan)
    for cls in np.unique(predicted):
        fit = train_codes[(train_predicted == cls) & train_correct]
        if len(fit) >= min_points:
            rows = predicted == cls
            distances[rows] = np.sqrt(EmpiricalCovariance().fit(fit).mahalanobis(codes[rows]))
    return distances


@requires(embeddings=True, splits=("train",))
def mahalanobis_auroc(ctx, train_limit: int | None = None, min_points: int = 3) -> dict[str, float | None]:
    """``train_limit``: fit the class Gaussians on the first N training images (None: all)."""
    from sklearn.metrics import roc_auc_score

    train, test = ctx.outputs("train", limit=train_limit), ctx.outputs()
    distances = mahalanobis_distances(
        train.embeddings.numpy(), train.logits.argmax(1).numpy(), train.correct.numpy(),
        test.embeddings.numpy(), test.logits.argmax(1).numpy(), min_points,
    )
    scored = ~np.isnan(distances)
    wrong = ~test.correct.numpy()[scored]
    if wrong.all() or not wrong.any():
        return {"mahalanobis_auroc": None}
    return {"mahalanobis_auroc": float(roc_auc_score(wrong, distances[scored]))}


@requires(gradients=True)
def binenc_deepfool(ctx, steps: int = 50, overshoot: float = 0.02, max_samples: int = 1000) -> dict[str, float]:
    from neurozoo.evaluation.attacks import deepfool

    return deepfool(ctx, steps=steps, overshoot=overshoot, max_samples=max_samples, protocol="lts4")


def convergence_epoch(ctx, run: str | None = None, threshold: float | None = None) -> dict[str, float | None]:
    """From ``run``'s ``metrics.jsonl``: ``convergence_epoch``, the first epoch (from 1) whose
    ``train_acc`` (logged by the binenc method every epoch) exceeds ``threshold`` (default: the run's
    ``convergence_threshold``, else 0.999), None if none did; ``final_train_acc`` and ``epochs``."""
    if run is None:
        raise ConfigError("convergence_epoch reads the training log of a run: add --set convergence_epoch.run=RUN")
    folder = Path(run).expanduser()
    log, config = folder / "metrics.jsonl", folder / "run.json"
    if not log.is_file():
        raise ConfigError(f"convergence_epoch: {log} not found; give the run folder the model was trained in")
    epochs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    if not epochs or "train_acc" not in epochs[-1]:
        raise ConfigError(f"convergence_epoch: {log} logs no train_acc (runs of method binenc log it)")
    if threshold is None:
        recipe = json.loads(config.read_text()).get("recipe", {}) if config.is_file() else {}
        threshold = recipe.get("convergence_threshold", 0.999)
    reached = next((e["epoch"] for e in epochs if e.get("train_acc", 0.0) > threshold), None)
    return {"convergence_epoch": reached, "final_train_acc": epochs[-1]["train_acc"], "epochs": epochs[-1]["epoch"]}


def read_convergence(figures: dict[str, float | None]) -> str:
    """The card's sentence on a convergence epoch: whether training reached the regime the method needs."""
    reached, final, epochs = (figures.get(key) for key in ("convergence_epoch", "final_train_acc", "epochs"))
    if reached is None:
        return (f"not converged: no epoch's training accuracy passed the threshold in {epochs:g} epochs (the last: "
                f"{final:.4f}), so training stopped short of the regime in which the paper's code collapses")
    return f"converged in epoch {reached:g} of {epochs:g} (the last epoch's training accuracy {final:.4f})"
