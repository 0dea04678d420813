"""NM-Hebb's trainer: phase 1 (gated Hebbian regulariser) then phase 2 (pairwise metric learning).

``epochs`` is the whole budget, as for the baseline: phase "metric" takes ``phase2_epochs``
(default: ``phase2_fraction`` of ``epochs``) and phase "hebbian" the rest. Optimiser, schedule and
label smoothing are the baseline plugin's recipe (SGD + Nesterov, one-cycle to lr 0.1, label
smoothing 0.1).

Phase "hebbian":

    L1 = CE + lambda_hebb * nu(CE) * R_hebb  (+ lambda_ewc * nu(CE) * EWC)

Phase "metric", started as ``phase2_start`` says: "continue" keeps phase 1's optimiser (momentum)
and its one schedule runs over both phases, so the learning rate is the baseline's step for step;
"warmup" starts a fresh optimiser at lr x ``phase2_lr_factor`` with a linear warm-up of
``phase2_warmup_epochs``, then ``phase2_schedule``:

    L2 = CE + lambda_pair * L_pair(embeddings through ``embedding_head``, margin, pair_weighting)

A term whose weight is 0 is left out of the loss (its value is still logged), so with
``lambda_hebb=0 lambda_pair=0`` the network gets exactly the cross-entropy's gradient: the control
arm "NM-Hebb's schedule, no NM-Hebb terms".

Recipe options and defaults (ML = METHODS.md section 1; R = neurozoo's reading where it is silent):

    hebb_layer / hebb_activation  None: the architecture's default (see hebbian.DEFAULT_LAYERS)  [ML]
    lambda_hebb        0.1       weight of R_hebb                                            [R]
    gate               "mlp"     "mlp" (phi trained on the batch error rate) or "fixed"      [R]
    gate_hidden        16        hidden width of phi's two-layer MLP                         [R]
    gate_a, gate_b     4.0, -2.0 the fixed map sigmoid(a * CE / ln K + b); the MLP gate starts
                                 there and learns a residual                                 [R]
    lambda_ewc         0.0       gated EWC term, off                                         [ML]
    phase2_fraction    0.2       share of ``epochs`` given to phase 2, rounded (METHODS.md:
                                 10-30 % of phase 1's length)                                [ML]
    phase2_epochs      None      an explicit phase-2 length instead of the fraction          [ML]
    phase2_start       "continue" "continue" or "warmup" (above)                             [R]
    phase2_lr_factor   0.1       "warmup" only: phase-2 lr = lr x 0.1                        [ML]
    phase2_warmup_epochs 0.5     "warmup" only: length of the linear warm-up                 [R]
    phase2_schedule    "cosine"  "warmup" only: the schedule after the warm-up               [R]
    lambda_pair        1.0       weight of the pair loss                                     [R]
    margin             1.0       m of the pair loss                                          [ML]
    pair_weighting     "balanced" "uniform" (mean over all pairs) or "balanced" (same- and
                                 different-class pairs weigh half each; see metric_learning) [ML / R]
    embedding_head     "centered" "l2" or "centered" (see metric_learning)                   [R]
    probe_samples      1000      images of the probe slice for ``probe_nmi``; 0: off         [R]

Each phase-1 step returns ``ce``, ``hebb`` (R_hebb), ``gate`` (nu) and, for the MLP gate,
``gate_loss``; the engine logs them. Phase-2 steps return ``ce`` and ``pair``. Every epoch ends
with ``probe_nmi``, the NMI of the embeddings of a fixed slice of training images (see probe).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neurozoo.options import Option
from neurozoo.training.method import Phase, SCHEDULES, StepContext, TrainingMethod

from .consolidation import ElasticAnchor
from .gate import GATES, Neuromodulator, error_rate, fixed_gate, neuromodulator_loss, scaled_ce
from .hebbian import HebbLayer, capture_channel_means, hebbian_regulariser, resolve_layer
from .metric_learning import EMBEDDING_HEADS, PAIR_WEIGHTINGS, pairwise_contrastive_loss
from .probe import ProbeSlice

PHASE2_STARTS = ("continue", "warmup")


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
        "milestones": (),
        "hebb_layer": None,
        "hebb_activation": None,
        "lambda_hebb": 0.1,
        "gate": "mlp",
        "gate_hidden": 16,
        "gate_a": 4.0,
        "gate_b": -2.0,
        "lambda_ewc": 0.0,
        "phase2_fraction": 0.2,
        "phase2_epochs": None,
        "phase2_start": "continue",
        "phase2_lr_factor": 0.1,
        "phase2_warmup_epochs": 0.5,
        "phase2_schedule": "cosine",
        "lambda_pair": 1.0,
        "margin": 1.0,
        "pair_weighting": "balanced",
        "embedding_head": "standardized",
        "probe_samples": 1000,
    }
    option_checks = {**TrainingMethod.option_checks, "milestones": Option(list, item=int, ge=1)}
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
        "milestones": 'with schedule "step": epochs (of the whole run) where lr is multiplied by 0.1',
        "embedding_head": "g(x) of the pair loss: l2 (the paper), centered or standardized (see metric_learning)",
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
        if r["embedding_head"] not in EMBEDDING_HEADS:
            raise ValueError(f"nmhebb: embedding_head must be one of {EMBEDDING_HEADS}, got {r['embedding_head']!r}")
        if r["phase2_start"] not in PHASE2_STARTS:
            raise ValueError(f"nmhebb: phase2_start must be one of {PHASE2_STARTS}, got {r['phase2_start']!r}")
        if not 0 <= r["phase2_fraction"] <= 1:
            raise ValueError(f"nmhebb: phase2_fraction must be in [0, 1], got {r['phase2_fraction']!r}")
        if not r["phase2_warmup_epochs"] >= 0:
            raise ValueError(f"nmhebb: phase2_warmup_epochs must be >= 0, got {r['phase2_warmup_epochs']!r}")
        if not isinstance(r["probe_samples"], int) or r["probe_samples"] < 0 or r["probe_samples"] == 1:
            raise ValueError(f"nmhebb: probe_samples must be 0 (off) or an int >= 2, got {r['probe_samples']!r}")
        if (r["hebb_layer"] is None) != (r["hebb_activation"] is None):
            raise ValueError(
                "nmhebb: give hebb_layer (the conv) and hebb_activation (the module whose output is its "
                "activation after the nonlinearity) together, or neither for the architecture's default"
            )
        if r["phase2_epochs"] is None:
            r["phase2_epochs"] = round(r["phase2_fraction"] * r["epochs"])
        if not isinstance(r["phase2_epochs"], int) or not 0 <= r["phase2_epochs"] <= r["epochs"]:
            raise ValueError(f"nmhebb: phase2_epochs must be an int from 0 to epochs ({r['epochs']}: both phases "
                             f"together), got {r['phase2_epochs']!r}")
        # phi draws its initial weights from a forked random stream, so the network that follows is
        # initialised exactly as the baseline's with the same seed
        with torch.random.fork_rng(devices=[]):
            self.neuromodulator = (
                Neuromodulator(r["gate_a"], r["gate_b"], r["gate_hidden"]) if r["gate"] == "mlp" else None
            )
        self.elastic = ElasticAnchor()
        self.probe = ProbeSlice(r["probe_samples"])
        self._layer: tuple[nn.Module, HebbLayer] | None = None

    def phases(self) -> list[Phase]:
        r = self.recipe
        metric_epochs = r["phase2_epochs"]
        hebbian = replace(super().phases()[0], name="hebbian", epochs=r["epochs"] - metric_epochs,
                          milestones=tuple(r["milestones"]), gamma=0.1)
        if r["phase2_start"] == "continue":
            metric = replace(hebbian, name="metric", epochs=metric_epochs, continue_from_previous=True)
        else:
            metric = replace(hebbian, name="metric", epochs=metric_epochs, lr=r["lr"] * r["phase2_lr_factor"],
                             schedule=r["phase2_schedule"], warmup_epochs=r["phase2_warmup_epochs"])
        return [hebbian, metric] if metric_epochs else [hebbian]

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
        self.probe.keep(images, targets)
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
        loss = ce + r["lambda_hebb"] * gate * hebb if r["lambda_hebb"] > 0 else ce
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
        r = self.recipe
        logits, embeddings = ctx.model(images, return_embedding=True)
        ce = self._cross_entropy(logits, targets)
        pair = pairwise_contrastive_loss(embeddings, targets, r["margin"], r["pair_weighting"], r["embedding_head"])
        loss = ce + r["lambda_pair"] * pair if r["lambda_pair"] > 0 else ce
        return {"loss": loss, "ce": ce.detach(), "pair": pair.detach()}

    def on_epoch_end(self, ctx: StepContext) -> dict[str, float] | None:
        if not len(self.probe):
            return None
        return {"probe_nmi": self.probe.nmi(ctx.net, ctx.num_classes)}

    def state_dict(self) -> dict[str, Any]:
        state = {"probe": self.probe.state_dict()}
        if self.recipe["lambda_ewc"] > 0:
            state["elastic"] = self.elastic.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "elastic" in state:
            self.elastic.load_state_dict(state["elastic"])
        if "probe" in state:
            self.probe.load_state_dict(state["probe"])
