"""NM-Hebb's trainer: phase 1 (gated Hebbian regulariser) then phase 2 (pairwise metric learning).

Phase "hebbian" (``epochs``; optimiser, schedule and label smoothing are the baseline plugin's
recipe: SGD + Nesterov, one-cycle to lr 0.1, label smoothing 0.1):

    L1 = CE + lambda_hebb * nu(CE) * R_hebb  (+ lambda_ewc * nu(CE) * EWC)

Phase "metric" (``phase2_epochs``, lr x ``phase2_lr_factor``, ``phase2_schedule``):

    L2 = CE + lambda_pair * L_pair(L2-normalised penultimate embeddings, margin)

Recipe options and defaults (ML = METHODS.md section 1; R = neurozoo's reading where it is silent):

    hebb_layer / hebb_activation  None: the architecture's default (see hebbian.DEFAULT_LAYERS)  [ML]
    lambda_hebb        0.1       weight of R_hebb                                            [R]
    gate               "mlp"     "mlp" (phi trained on the batch error rate) or "fixed"      [R]
    gate_hidden        16        hidden width of phi's two-layer MLP                         [R]
    gate_a, gate_b     4.0, -2.0 the fixed map sigmoid(a * CE / ln K + b); the MLP gate starts
                                 there and learns a residual                                 [R]
    lambda_ewc         0.0       gated EWC term, off                                         [ML]
    phase2_epochs      None      ceil(0.2 * epochs) (METHODS.md: 10-30 % of phase 1)         [ML]
    phase2_lr_factor   0.1       phase-2 lr = lr x 0.1                                       [ML]
    phase2_schedule    "cosine"  decays from the reduced lr, no warm-up                      [R]
    lambda_pair        1.0       weight of the pair loss                                     [R]
    margin             1.0       m of the pair loss                                          [ML]
    pair_weighting     "uniform" mean over all pairs, or "balanced" (see metric_learning)    [ML]

Each phase-1 step returns ``ce``, ``hebb`` (R_hebb), ``gate`` (nu) and, for the MLP gate,
``gate_loss``; the engine logs them. Phase-2 steps return ``ce`` and ``pair``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neurozoo.training.method import Phase, SCHEDULES, StepContext, TrainingMethod

from .consolidation import ElasticAnchor
from .gate import GATES, Neuromodulator, error_rate, fixed_gate, neuromodulator_loss, scaled_ce
from .hebbian import HebbLayer, capture_channel_means, hebbian_regulariser, resolve_layer
from .metric_learning import PAIR_WEIGHTINGS, pairwise_contrastive_loss

PHASE2_DEFAULT_FRACTION = 0.2


class NMHebb(TrainingMethod):
    """NM-Hebb (Miličević & Grbić, arXiv 2508.19896): see the module docstring for the recipe."""

    name = "nmhebb"
    options = {
        **TrainingMethod.options,
        # the baseline plugin's recipe (SGD + Nesterov, one-cycle to 0.1, label smoothing 0.1), so
        # that NM-Hebb and its baseline differ only in NM-Hebb's own terms and phase
        "lr": 0.1,
        "optimizer": "sgd",
        "schedule": "onecycle",
        "label_smoothing": 0.1,
        "hebb_layer": None,
        "hebb_activation": None,
        "lambda_hebb": 0.1,
        "gate": "mlp",
        "gate_hidden": 16,
        "gate_a": 4.0,
        "gate_b": -2.0,
        "lambda_ewc": 0.0,
        "phase2_epochs": None,
        "phase2_lr_factor": 0.1,
        "phase2_schedule": "cosine",
        "lambda_pair": 1.0,
        "margin": 1.0,
        "pair_weighting": "uniform",
    }
    option_docs = {
        **TrainingMethod.option_docs,
        "epochs": "the whole budget: phase hebbian, then phase metric",
        "hebb_layer": "the conv layer the Hebbian regulariser acts on; None: the architecture's default",
        "hebb_activation": "the activation read by the regulariser; None: the architecture's default",
        "lambda_hebb": "weight of the Hebbian regulariser R_hebb",
        "gate": "neuromodulator: mlp (trained on the batch error rate) or fixed",
        "gate_hidden": "hidden width of the neuromodulator MLP",
        "gate_a": "slope a of the fixed gate sigmoid(a * CE / ln K + b)",
        "gate_b": "offset b of the fixed gate sigmoid(a * CE / ln K + b)",
        "lambda_ewc": "weight of the gated EWC term (0: off)",
        "phase2_fraction": "share of epochs given to phase metric, rounded",
        "phase2_epochs": "explicit length of phase metric instead of phase2_fraction",
        "phase2_start": "continue (phase 1's optimiser and schedule go on) or warmup (fresh optimiser)",
        "phase2_lr_factor": "warmup only: phase-2 lr = lr x this factor",
        "phase2_warmup_epochs": "warmup only: epochs of linear lr warm-up",
        "phase2_schedule": "warmup only: the schedule after the warm-up",
        "lambda_pair": "weight of the pairwise metric-learning loss",
        "margin": "margin m of the pair loss",
        "pair_weighting": "uniform (mean over all pairs) or balanced (same- and different-class pairs half each)",
        "embedding_head": "embedding of the pair loss: l2 or centered",
        "probe_samples": "training images in the per-epoch NMI probe slice; 0: off",
    }

    def __init__(self, **recipe: Any):
        super().__init__(**recipe)
        r = self.recipe
        for key in ("lambda_hebb", "lambda_ewc", "lambda_pair"):
            if not r[key] >= 0:
                raise ValueError(f"nmhebb: {key} must be >= 0, got {r[key]!r}")
        if not r["gate_a"] > 0:
            raise ValueError(f"nmhebb: gate_a must be > 0 (the gate grows with CE), got {r['gate_a']!r}")
        if not r["margin"] > 0:
            raise ValueError(f"nmhebb: margin must be > 0, got {r['margin']!r}")
        if not r["phase2_lr_factor"] > 0:
            raise ValueError(f"nmhebb: phase2_lr_factor must be > 0, got {r['phase2_lr_factor']!r}")
        if r["gate"] not in GATES:
            raise ValueError(f"nmhebb: gate must be one of {GATES}, got {r['gate']!r}")
        if r["phase2_schedule"] not in SCHEDULES:
            raise ValueError(f"nmhebb: phase2_schedule must be one of {SCHEDULES}, got {r['phase2_schedule']!r}")
        if r["pair_weighting"] not in PAIR_WEIGHTINGS:
            raise ValueError(f"nmhebb: pair_weighting must be one of {PAIR_WEIGHTINGS}, got {r['pair_weighting']!r}")
        if (r["hebb_layer"] is None) != (r["hebb_activation"] is None):
            raise ValueError(
                "nmhebb: give hebb_layer (the conv) and hebb_activation (the module whose output is its "
                "activation after the nonlinearity) together, or neither for the architecture's default"
            )
        if r["phase2_epochs"] is None:
            r["phase2_epochs"] = math.ceil(PHASE2_DEFAULT_FRACTION * r["epochs"])
        if not isinstance(r["phase2_epochs"], int) or r["phase2_epochs"] < 0:
            raise ValueError(f"nmhebb: phase2_epochs must be a non-negative int, got {r['phase2_epochs']!r}")
        self.neuromodulator = (
            Neuromodulator(r["gate_a"], r["gate_b"], r["gate_hidden"]) if r["gate"] == "mlp" else None
        )
        self.elastic = ElasticAnchor()
        self._layer: tuple[nn.Module, HebbLayer] | None = None

    def phases(self) -> list[Phase]:
        r = self.recipe
        hebbian = replace(super().phases()[0], name="hebbian")
        metric = replace(hebbian, name="metric", epochs=r["phase2_epochs"], lr=r["lr"] * r["phase2_lr_factor"],
                         schedule=r["phase2_schedule"])
        return [hebbian, metric] if metric.epochs else [hebbian]

    def extra_modules(self) -> nn.Module | None:
        return self.neuromodulator

    def hebb_layer(self, net: nn.Module) -> HebbLayer:
        """The Hebbian layer of ``net`` (a NeurozooModel), resolved once per model."""
        if self._layer is None or self._layer[0] is not net:
            arch = net.config["arch"]
            self._layer = (net, resolve_layer(net, arch, self.recipe["hebb_layer"], self.recipe["hebb_activation"]))
        return self._layer[1]

    def training_step(self, ctx: StepContext, batch) -> dict[str, torch.Tensor]:
        images, targets = batch[0], batch[1]
        if targets.dim() != 1 or targets.is_floating_point():
            raise ValueError(
                "nmhebb trains single-label classifiers (class-index targets); this dataset gives "
                f"targets of shape {tuple(targets.shape)} and dtype {targets.dtype}: use a multiclass dataset"
            )
        if ctx.phase.name == "metric":
            return self._metric_step(ctx, images, targets)
        return self._hebbian_step(ctx, images, targets)

    def _cross_entropy(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets, label_smoothing=self.recipe["label_smoothing"])

    def _gate(self, ce: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor, num_classes: int):
        """(nu detached, phi's own loss or None)."""
        ce_scaled = scaled_ce(ce, num_classes)
        if self.neuromodulator is None:
            return fixed_gate(ce_scaled, self.recipe["gate_a"], self.recipe["gate_b"]), None
        logit = self.neuromodulator(ce_scaled)
        return torch.sigmoid(logit).detach(), neuromodulator_loss(logit, error_rate(logits, targets))

    def _hebbian_step(self, ctx: StepContext, images, targets) -> dict[str, torch.Tensor]:
        r = self.recipe
        layer = self.hebb_layer(ctx.net)
        use_ewc = r["lambda_ewc"] > 0 and ctx.epoch_in_phase >= 1
        if use_ewc and self.elastic.epoch != ctx.epoch:
            self.elastic.refresh(ctx.net, lambda: self._cross_entropy(ctx.net(images), targets), ctx.epoch)
        with capture_channel_means(layer.activation) as captured:
            logits = ctx.model(images)
        if len(captured) != 1:
            raise RuntimeError(
                f"nmhebb: hebb_activation ran {len(captured)} times in one forward; name a module that runs once"
            )
        ce = self._cross_entropy(logits, targets)
        hebb = hebbian_regulariser(captured[0], layer.conv.weight)
        gate, gate_loss = self._gate(ce, logits, targets, ctx.num_classes)
        loss = ce + r["lambda_hebb"] * gate * hebb
        out = {"ce": ce.detach(), "hebb": hebb.detach(), "gate": gate}
        if use_ewc:
            ewc = self.elastic.penalty(ctx.net)
            loss = loss + r["lambda_ewc"] * gate * ewc
            out["ewc"] = ewc.detach()
        if gate_loss is not None:
            # phi's objective touches only phi (its input and target are detached), so one backward
            # trains the network on L1 and the neuromodulator on its own loss
            loss = loss + gate_loss
            out["gate_loss"] = gate_loss.detach()
        return {"loss": loss, **out}

    def _metric_step(self, ctx: StepContext, images, targets) -> dict[str, torch.Tensor]:
        logits, embeddings = ctx.model(images, return_embedding=True)
        ce = self._cross_entropy(logits, targets)
        pair = pairwise_contrastive_loss(embeddings, targets, self.recipe["margin"], self.recipe["pair_weighting"])
        loss = ce + self.recipe["lambda_pair"] * pair
        return {"loss": loss, "ce": ce.detach(), "pair": pair.detach()}

    def state_dict(self) -> dict[str, Any]:
        return {"elastic": self.elastic.state_dict()} if self.recipe["lambda_ewc"] > 0 else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "elastic" in state:
            self.elastic.load_state_dict(state["elastic"])
