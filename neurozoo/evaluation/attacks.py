"""Adversarial robustness with torchattacks: PGD, APGD-CE, APGD-T, the two in sequence as AutoAttack
runs them (Linf and L2), and DeepFool.

Attacks run on [0, 1] images against the whole model (normalisation is inside it), so budgets are
in pixel units: Linf 8/255 means each pixel moves at most 8 grey levels. Each attack runs under a
fixed seed in a forked RNG, so results are reproducible and the caller's random state is untouched.
Adversarial accuracy counts a sample as robust when it is classified correctly after the attack
(samples misclassified to begin with count as not robust).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from neurozoo.evaluation.accuracy import correct
from neurozoo.evaluation.context import requires

LINF_EPS = (1 / 255, 2 / 255, 4 / 255, 8 / 255)
L2_EPS = (0.125, 0.25, 0.5)
NORMS = ("linf", "l2")


def build_attack(kind: str, model: nn.Module, norm: str, eps: float, *, steps: int, num_classes: int,
                 n_target_classes: int = 9):
    """The torchattacks attack for ``kind`` ("pgd", "apgd_ce", "apgd_t", "apgd") at budget ``eps`` in ``norm``.

    "apgd" is AutoAttack's pair of APGD attacks: APGD-CE, then APGD-T on the images APGD-CE did not
    break (``torchattacks.MultiAttack``), so an image counts as robust only if it survives both."""
    import torchattacks

    if norm not in NORMS:
        raise ValueError(f"attack norm must be one of {NORMS}, got {norm!r}")
    if kind == "pgd":
        # step size 2.5 * eps / steps (Madry et al. 2018): enough to cross the ball and come back
        attack_class = torchattacks.PGD if norm == "linf" else torchattacks.PGDL2
        return attack_class(model, eps=eps, alpha=2.5 * eps / steps, steps=steps, random_start=True)
    torchattacks_norm = {"linf": "Linf", "l2": "L2"}[norm]
    if kind == "apgd_ce":
        return torchattacks.APGD(model, norm=torchattacks_norm, eps=eps, steps=steps, n_restarts=1, loss="ce")
    if kind == "apgd_t":
        attack = torchattacks.APGDT(model, norm=torchattacks_norm, eps=eps, steps=steps, n_restarts=1,
                                    n_classes=num_classes)
        attack.n_target_classes = min(n_target_classes, num_classes - 1)
        return attack
    if kind == "apgd":
        return torchattacks.MultiAttack([
            build_attack(part, model, norm, eps, steps=steps, num_classes=num_classes,
                         n_target_classes=n_target_classes)
            for part in ("apgd_ce", "apgd_t")
        ])
    raise ValueError(f"unknown attack kind {kind!r}; use 'pgd', 'apgd_ce', 'apgd_t' or 'apgd'")


@contextlib.contextmanager
def attack_scope(model: nn.Module, seed: int) -> Iterator[None]:
    """Seeded, gradients on, parameters frozen (gradients flow to the inputs only), RNG restored."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices), torch.enable_grad():
            torch.manual_seed(seed)
            for p, _ in flags:
                p.requires_grad_(False)
            yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def format_eps(eps: float, norm: str) -> str:
    """Readable budget for figure names: Linf budgets on the 1/255 grid as "2/255"."""
    grey_levels = eps * 255
    if norm == "linf" and abs(grey_levels - round(grey_levels)) < 1e-6:
        return f"{round(grey_levels)}/255"
    return f"{eps:g}"


def adversarial_accuracy(ctx, kind: str, norm: str, eps_values: Sequence[float], *, steps: int,
                         max_samples: int, seed: int, name: str, n_target_classes: int = 9) -> dict[str, float]:
    """Accuracy under attack at each budget on the first ``max_samples`` samples; adds a curve."""
    if not eps_values or any(eps <= 0 for eps in eps_values):
        raise ValueError(f"{name}: eps values must be > 0, got {list(eps_values)}")
    if steps < 1 or max_samples < 1:
        raise ValueError(f"{name}: steps and max_samples must be >= 1")
    limit = max_samples if ctx.limit is None else min(max_samples, ctx.limit)
    clean = total = 0
    robust = {eps: 0 for eps in eps_values}
    for images, targets in ctx.batches(limit=limit, description=name):
        clean += correct(ctx.predict(images), targets).sum().item()
        total += len(targets)
        for eps in eps_values:
            attack = build_attack(kind, ctx.model, norm, eps, steps=steps, num_classes=ctx.num_classes,
                                  n_target_classes=n_target_classes)
            with attack_scope(ctx.model, seed):
                adversarial = attack(images, targets)
            robust[eps] += correct(ctx.predict(adversarial), targets).sum().item()
    figures = {f"{name}_eps_{format_eps(eps, norm)}": robust[eps] / total for eps in eps_values}
    ctx.add_curve(f"adversarial_{norm}", name, [0.0, *eps_values], [clean / total, *figures.values()],
                  x_label=f"{'Linf' if norm == 'linf' else 'L2'} epsilon ([0, 1] pixels)",
                  y_label="accuracy")
    return figures


@requires(gradients=True)
def pgd_linf(ctx, eps: Sequence[float] = LINF_EPS, steps: int = 10, max_samples: int = 1000,
             seed: int = 0) -> dict[str, float]:
    return adversarial_accuracy(ctx, "pgd", "linf", eps, steps=steps, max_samples=max_samples, seed=seed,
                                name="pgd_linf")


@requires(gradients=True)
def pgd_l2(ctx, eps: Sequence[float] = L2_EPS, steps: int = 10, max_samples: int = 1000,
           seed: int = 0) -> dict[str, float]:
    return adversarial_accuracy(ctx, "pgd", "l2", eps, steps=steps, max_samples=max_samples, seed=seed,
                                name="pgd_l2")


def _apgd(ctx, kind: str, linf_eps, l2_eps, steps, max_samples, seed, n_target_classes=9):
    figures = {}
    for norm, eps_values in (("linf", linf_eps), ("l2", l2_eps)):
        if eps_values:
            figures.update(adversarial_accuracy(ctx, kind, norm, eps_values, steps=steps,
                                                max_samples=max_samples, seed=seed, name=f"{kind}_{norm}",
                                                n_target_classes=n_target_classes))
    if not figures:
        raise ValueError(f"{kind}: give at least one budget in linf_eps or l2_eps")
    return figures


@requires(gradients=True)
def apgd_ce(ctx, linf_eps: Sequence[float] = LINF_EPS, l2_eps: Sequence[float] = L2_EPS, steps: int = 10,
            max_samples: int = 1000, seed: int = 0) -> dict[str, float]:
    """APGD with cross-entropy loss (Croce & Hein 2020), one restart, at every Linf and L2 budget."""
    return _apgd(ctx, "apgd_ce", linf_eps, l2_eps, steps, max_samples, seed)


@requires(gradients=True, min_classes=4)
def apgd_t(ctx, linf_eps: Sequence[float] = LINF_EPS, l2_eps: Sequence[float] = L2_EPS, steps: int = 10,
           max_samples: int = 1000, seed: int = 0, n_target_classes: int = 9) -> dict[str, float]:
    """Targeted APGD with the DLR loss against the ``n_target_classes`` runner-up classes (as in
    AutoAttack); its loss reads the 4 largest logits, so it needs at least 4 classes."""
    return _apgd(ctx, "apgd_t", linf_eps, l2_eps, steps, max_samples, seed, n_target_classes)


@requires(gradients=True, min_classes=4)
def apgd(ctx, linf_eps: Sequence[float] = LINF_EPS, l2_eps: Sequence[float] = L2_EPS, steps: int = 10,
         max_samples: int = 1000, seed: int = 0, n_target_classes: int = 9) -> dict[str, float]:
    """AutoAttack's APGD pair: APGD-CE, then targeted APGD-DLR on the images it left correct; the
    accuracy on images neither breaks (the per-image worst case of ``apgd_ce`` and ``apgd_t``, which is
    what papers reporting "APGD-CE + APGD-T" or AutoAttack's first two attacks give)."""
    return _apgd(ctx, "apgd", linf_eps, l2_eps, steps, max_samples, seed, n_target_classes)


@requires(gradients=True)
def deepfool(ctx, steps: int = 50, overshoot: float = 0.02, max_samples: int = 1000,
             protocol: str = "torchattacks") -> dict[str, float]:
    """DeepFool robustness score (Moosavi-Dezfooli et al. 2016): mean over samples of
    ||r||_2 / ||x||_2 with r the minimal perturbation found (0 for samples already misclassified),
    on [0, 1] pixels; ``deepfool_fooled`` is the fraction misclassified after the attack.

    ``protocol="lts4"``: the DeepFool authors' reference code instead (``deepfool_lts4``: from the
    predicted label, every image, unclamped, in the model's normalised input space), figures
    ``deepfool_lts4_score`` and ``deepfool_lts4_fooled`` (the fraction whose prediction changed)."""
    import torchattacks

    if protocol not in ("torchattacks", "lts4"):
        raise ValueError(f"deepfool: protocol must be 'torchattacks' or 'lts4', got {protocol!r}")
    limit = max_samples if ctx.limit is None else min(max_samples, ctx.limit)
    if protocol == "lts4":
        return _deepfool_lts4(ctx, steps, overshoot, limit)
    ratio_sum = fooled = total = 0.0
    for images, targets in ctx.batches(limit=limit, description="deepfool"):
        attack = torchattacks.DeepFool(ctx.model, steps=steps, overshoot=overshoot)
        with attack_scope(ctx.model, seed=0):
            adversarial = attack(images, targets)
        perturbation = (adversarial - images).flatten(1).norm(dim=1)
        ratio_sum += (perturbation / images.flatten(1).norm(dim=1).clamp_min(1e-12)).sum().item()
        fooled += (~correct(ctx.predict(adversarial), targets)).sum().item()
        total += len(targets)
    return {"deepfool_score": ratio_sum / total, "deepfool_fooled": fooled / total}


def _deepfool_lts4(ctx, steps: int, overshoot: float, limit: int) -> dict[str, float]:
    from neurozoo.evaluation.deepfool_lts4 import deepfool_lts4

    normalize, net = getattr(ctx.model, "normalize", None), getattr(ctx.model, "net", None)
    if normalize is None or net is None:
        raise ValueError("deepfool protocol 'lts4' attacks in the normalised input space: it needs a neurozoo "
                         "model (model.normalize, model.net)")
    ratio_sum = fooled = total = 0.0
    for images, _ in ctx.batches(limit=limit, description="deepfool_lts4"):
        with attack_scope(ctx.model, seed=0):
            inputs = normalize(images).detach()
            result = deepfool_lts4(net, inputs, steps=steps, overshoot=overshoot)
        norms = result.perturbation.flatten(1).norm(dim=1) / inputs.flatten(1).norm(dim=1).clamp_min(1e-12)
        ratio_sum += norms.sum().item()
        fooled += (result.prediction != result.label).sum().item()
        total += len(images)
    return {"deepfool_lts4_score": ratio_sum / total, "deepfool_lts4_fooled": fooled / total}
