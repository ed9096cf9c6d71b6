"""Chapter "Routing statistics": does SPAMoE's router use all its experts, and does it route by geology?

One SPAMoE (the reference of the spectral chapter: bound enforced at the targets' median ρ, learned
top-2 routing over soft bands) is trained on the *union* of the families' training samples, once per
load-balancing variant — ``released`` (in the loss value, no gradient, as the released code does),
``gradient`` (the same term with its gradient: its target is the router's own top-k selection, so it
sharpens the gates rather than balancing them; see :mod:`fwilab.layers.router`) and ``uniform`` (target
1/E with its gradient, the released code's commented-out alternative: it pulls the mean gates toward
balance, which the selections need not follow) — so
one router sees every family and its decisions can be compared across families. While it trains,
:class:`~fwilab.experiments.spamoe.SPAMoEMonitor` records per batch the selection frequency and mean
gate, and per epoch every validation sample's gates and top-k choice, the band-to-expert matrix and
the experts' frequency preferences. The trained model's routing of each family's test samples is
recorded too.

Pieces: ``spamoe-lb-<variant>-s<k>``.

Cost (SPAMoE ``cpu`` model ≈ 0.11 s per training sample on 2 quiet cores):

* ``smoke``: two families, 2 training samples each, 2 epochs, tiny model: ~10 s (+ the tiny datasets).
* ``cpu``: 3 families × 32 training samples, 4 epochs, 3 variants × 1 seed: ≈ 3 × 55 s ≈ 3 min, on the
  datasets the baselines/spectral chapters cache (400/50/100, seed 0).
* ``full``: 5 families × 500 samples, 8 epochs, 3 variants × 2 seeds at released sizes: ≈ 20k training
  samples per run, at an assumed ≈ 300 samples/s on one H100 ≈ 70 s per piece, ≈ 7 min in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..claims import Claim
from ..config import ExperimentConfig, OpenFWIFilesMixin, SurveyMixin
from ..data.families import check_family
from ..data.splits import load_family_splits
from ..models.spamoe import LOAD_BALANCE_MODES, SPAMoEConfig
from ..results import Artifact, run_piece
from ..training.fit import FitConfig
from .spamoe import (COLLAPSE_SHARE, JUDGED_AT, STARVED_SHARE, checkpoint_root, concat, head, judge_spamoe,
                     rho_min_for, train_spamoe, utilisation)

CHAPTER = "routing"
#: two families "route differently" when their first-choice distributions differ by at least this
#: total-variation distance (one tenth of the samples would have to change expert)
ROUTING_DIFFERENCE_TV: float = 0.10


@dataclass(frozen=True)
class RoutingConfig(SurveyMixin, OpenFWIFilesMixin, ExperimentConfig):
    """Parameters of the routing-statistics chapter.

    Attributes:
        families: families whose training samples are pooled (and whose test samples are routed).
        load_balances: load-balancing variants trained (``released``: no gradient; ``gradient``: the
            same term with its gradient; ``uniform``: target 1/E with its gradient).
        n_seeds: seeds per variant.
        n_train, n_val, n_test: split sizes of the cached datasets: at ``full`` just the samples used
            (see the spectral chapter's config); at ``cpu`` the other chapters' splits.
        train_per_family, val_per_family, test_per_family: samples of each family used.
        nt, nbc, model_size, epochs, batch_size, lr, schedule, warmup_epochs, grad_clip, bound_weight:
            as in the spectral chapter.
    """

    CHAPTER: ClassVar[str] = CHAPTER
    #: the families are not scope here: one model trains on all of them
    SCOPE_FIELDS: ClassVar[frozenset[str]] = frozenset({"load_balances", "n_seeds"})
    families: tuple[str, ...] = ("flatvel-a", "curvevel-a", "flatfault-a", "curvefault-a", "style-a")
    load_balances: tuple[str, ...] = ("released", "gradient", "uniform")
    n_seeds: int = 2
    n_train: int = 500
    n_val: int = 60
    n_test: int = 200
    train_per_family: int = 500
    val_per_family: int = 60
    test_per_family: int = 200
    nt: int = 1000
    nbc: int = 120
    model_size: str = "full"
    epochs: int = 8
    batch_size: int = 32
    lr: float = 3e-4
    schedule: str = "cosine"
    warmup_epochs: float = 1.0
    grad_clip: float = 1.0
    bound_weight: float = 1.0
    progress: bool = True

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(families=("flatvel-a", "curvevel-a"), n_seeds=1, n_train=8, n_val=4, n_test=4,
                      train_per_family=2, val_per_family=2, test_per_family=4, nt=200, nbc=20,
                      model_size="smoke", epochs=2, batch_size=4, lr=1e-3, schedule="constant",
                      warmup_epochs=0.0),
        "cpu": dict(families=("flatvel-a", "curvevel-a", "flatfault-a"), n_seeds=1, n_train=400, n_val=50,
                    n_test=100, train_per_family=32, val_per_family=8, test_per_family=50, model_size="cpu",
                    epochs=4, batch_size=8, lr=5e-4, schedule="constant", warmup_epochs=0.0),
        "full": dict(),
    }

    def validate(self) -> None:
        self.validate_data_fields()
        object.__setattr__(self, "families", tuple(check_family(f) for f in self.families))
        if not self.families:
            raise ValueError("families must name at least one family")
        if not self.load_balances or any(v not in LOAD_BALANCE_MODES for v in self.load_balances):
            raise ValueError(f"load_balances must be a non-empty subset of {LOAD_BALANCE_MODES}, "
                             f"got {self.load_balances}")
        for name in ("n_seeds", "n_train", "n_val", "n_test", "train_per_family", "val_per_family",
                     "test_per_family", "nt", "epochs", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        for part in ("train", "val", "test"):
            if getattr(self, f"{part}_per_family") > getattr(self, f"n_{part}"):
                raise ValueError(f"{part}_per_family ({getattr(self, f'{part}_per_family')}) cannot exceed "
                                 f"n_{part} ({getattr(self, f'n_{part}')})")
        if self.batch_size > self.train_per_family * len(self.families):
            raise ValueError(f"batch_size ({self.batch_size}) exceeds the pooled training samples")
        if self.model_size not in ("smoke", "cpu", "full"):
            raise ValueError(f"model_size must be smoke, cpu or full, got {self.model_size!r}")
        if not (self.lr > 0 and self.bound_weight >= 0 and self.grad_clip > 0):
            raise ValueError("lr and grad_clip must be > 0 and bound_weight >= 0")
        self.fit_config(0)

    def fit_config(self, seed: int) -> FitConfig:
        return FitConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, schedule=self.schedule,
                         warmup_epochs=self.warmup_epochs, grad_clip=self.grad_clip, device=self.device,
                         seed=seed, progress=self.progress, drop_last=True)

    def model_config(self, load_balance: str, rho_min: float) -> SPAMoEConfig:
        return SPAMoEConfig.preset(self.model_size, self.acquisition, bound="hinge", rho_min=rho_min,
                                   bound_weight=self.bound_weight, load_balance=load_balance,
                                   routing="learned", bands="soft", top_k=2)


def run(config: RoutingConfig) -> Artifact:
    parts: dict[str, list] = {"train": [], "val": [], "test": []}
    for fam in config.families:
        s = load_family_splits(fam, config.n_train, config.n_val, config.n_test, **config.split_options())
        parts["train"].append(head(s.train, config.train_per_family))
        parts["val"].append(head(s.val, config.val_per_family))
        parts["test"].append(head(s.test, config.test_per_family))
    train, val, test = (concat(parts[k]) for k in ("train", "val", "test"))
    rho_min, median = rho_min_for(train, 1.0)
    val_family = np.repeat(np.arange(len(config.families)), config.val_per_family)
    test_family = np.repeat(np.arange(len(config.families)), config.test_per_family)
    metrics: dict[str, Any] = {"families": list(config.families), "rho_min": rho_min, "target_rho_median": median,
                               "runs": []}
    arrays: dict[str, np.ndarray] = {"val_family": val_family, "test_family": test_family}
    for variant in config.load_balances:
        mc = config.model_config(variant, rho_min)
        for seed in config.seeds:
            name = f"spamoe-lb-{variant}-s{seed}"
            m, a = run_piece(config, name, lambda: train_spamoe(
                mc, config.fit_config(seed), train, val, test, checkpoint_root(config) / name, keep_predictions=0))
            e = mc.n_experts
            per_family = {fam: utilisation(a["test_top"][test_family == i], a["test_gates"][test_family == i], e)
                          for i, fam in enumerate(config.families)}
            over_epochs = [utilisation(top, gates, e) for top, gates in zip(a["epoch_top"], a["epoch_gates"])]
            metrics["runs"].append({**m, "load_balance": variant, "seed": seed, "experts": list(mc.experts),
                                    "per_family": per_family, "epoch_utilisation": over_epochs,
                                    "family_difference": family_difference(per_family)})
            arrays.update({f"{name}/{k}": v for k, v in a.items()})
    art = Artifact(chapter=CHAPTER, config=config.to_dict(), provenance={}, metrics=metrics, arrays=arrays)
    art.claims = [c.to_dict() for c in judge_claims(config, metrics)]
    return art


def family_difference(per_family: dict[str, dict[str, Any]]) -> float:
    """Largest total-variation distance between two families' first-choice distributions (0: same routing)."""
    dists = [np.asarray(u["first_choice"]) for u in per_family.values()]
    best = 0.0
    for i in range(len(dists)):
        for j in range(i + 1, len(dists)):
            best = max(best, 0.5 * float(np.abs(dists[i] - dists[j]).sum()))
    return best


def judge_claims(config: RoutingConfig, metrics: dict[str, Any]) -> list[Claim]:
    p = config.profile
    runs = metrics["runs"]
    setting = (f"one SPAMoE ('{config.model_size}' size, encoder from scratch) per load-balancing variant and "
               f"seed, trained on {config.train_per_family} samples of each of {len(config.families)} "
               f"families ({config.data_source}) for {config.epochs} epochs (test MAE "
               + ", ".join(f"{r['mae_ms']:.0f}" for r in runs)
               + f" m/s); routing of {config.test_per_family} test samples per family. Judged at the "
               f"{', '.join(JUDGED_AT)} profile only: routing statistics speak for the paper's model once the "
               "network has learned the task, which the smaller profiles do not train it to do")
    fine = {r["load_balance"]: [] for r in runs}
    for r in runs:
        u = r["utilisation"]
        fine[r["load_balance"]].append(not u["collapsed"] and not u["starved"])
    ok = [v for v, flags in fine.items() if all(flags)]

    def usage(r: dict[str, Any]) -> str:
        u, shares = r["utilisation"], lambda xs: "/".join(f"{x:.2f}" for x in xs)
        return (f"load balance {r['load_balance']} s{r['seed']}: first choice {shares(u['first_choice'])} "
                f"({'/'.join(r['experts'])}), selections {shares(u['selection'])}, entropy {u['entropy']:.2f}"
                + (", collapsed" if u["collapsed"] else "")
                + "".join(f", {r['experts'][e]} starved" for e in u["starved"]))

    ours = "; ".join(usage(r) for r in runs)
    claims = [Claim(
        id="spamoe.no-collapse", paper="SPAMoE",
        statement="The router distributes samples over the FNO, MNO and LNO experts instead of collapsing "
                  "to one operator.",
        theirs="frequency bands are dynamically assigned to an FNO/MNO/LNO ensemble (no utilisation statistics "
               "reported); the released load-balancing term has no gradient",
        ours=ours,
        rule=f"holds if no expert is the first choice of more than {100 * COLLAPSE_SHARE:.0f} % of test samples "
             f"and none gets less than {100 * STARVED_SHARE:.0f} % of the top-k selections, under every "
             "load-balancing variant (every seed); partly if under at least one of them",
        verdict=judge_spamoe(p, len(ok) == len(fine), bool(ok)),
        chapter=CHAPTER, profile=p, setting=setting)]
    if len(config.families) > 1:
        diffs = {f"{r['load_balance']} s{r['seed']}": r["family_difference"] for r in runs}
        differ = [k for k, d in diffs.items() if d >= ROUTING_DIFFERENCE_TV]
        claims.append(Claim(
            id="spamoe.routing-by-geology", paper="SPAMoE",
            statement="Routing is dynamic: different geologies are sent to different experts.",
            theirs="bands are assigned dynamically to experts according to the input's spectrum",
            ours="largest total-variation distance between two families' first-choice distributions: "
                 + "; ".join(f"{k}: {d:.2f}" for k, d in diffs.items()),
            rule=f"holds if it is ≥ {ROUTING_DIFFERENCE_TV:g} in every run, partly in at least one",
            verdict=judge_spamoe(p, len(differ) == len(diffs), bool(differ)),
            chapter=CHAPTER, profile=p, setting=setting))
    return claims


CONFIG = RoutingConfig
