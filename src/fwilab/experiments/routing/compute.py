"""The routing-statistics chapter's computation: :func:`run` and the routing metrics of a run (the
training is :func:`fwilab.experiments.spamoe.train_spamoe`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...data.splits import check_openfwi_files, load_family_splits
from ...results import Artifact, run_piece
from ..spamoe import checkpoint_root, concat, curve_gain, head, rho_min_for, train_spamoe, utilisation
from .claims import judge_claims
from .config import CHAPTER, VARIANTS, RoutingConfig


def piece_name(variant: str, seed: int) -> str:
    """The piece (and checkpoint folder) of one router variant and seed."""
    return f"spamoe-{variant}-s{seed}"


def run(config: RoutingConfig) -> Artifact:
    check_openfwi_files(config, config.families)
    parts: dict[str, list] = {"train": [], "val": [], "test": []}
    metrics: dict[str, Any] = {"families": list(config.families), "runs": [], "references": []}
    for fam in config.families:
        s = load_family_splits(fam, config.n_train, config.n_val, config.n_test, **config.split_options())
        parts["train"].append(head(s.train, config.train_per_family))
        parts["val"].append(head(s.val, config.val_per_family))
        parts["test"].append(head(s.test, config.test_per_family))
        if config.reference_baselines:   # the data are learnable at this scale: the baselines chapter's networks
            from ..baselines import reference_runs

            metrics["references"] += reference_runs(config, fam, s, config.seeds)
        del s
    train, val, test = (concat(parts[k]) for k in ("train", "val", "test"))
    rho_min, median = rho_min_for(train, 1.0)
    metrics.update(rho_min=rho_min, target_rho_median=median)
    val_family = np.repeat(np.arange(len(config.families)), config.val_per_family)
    test_family = np.repeat(np.arange(len(config.families)), config.test_per_family)
    arrays: dict[str, np.ndarray] = {"val_family": val_family, "test_family": test_family}
    for variant in config.variants:
        mc = config.model_config(variant, rho_min)
        for seed in config.seeds:
            name = piece_name(variant, seed)
            m, a = run_piece(config, name, lambda: train_spamoe(
                mc, config.fit_config(seed), train, val, test, checkpoint_root(config) / name, keep_predictions=0))
            e = mc.n_experts
            per_family = {fam: utilisation(a["test_top"][test_family == i], a["test_gates"][test_family == i], e)
                          for i, fam in enumerate(config.families)}
            over_epochs = [utilisation(top, gates, e) for top, gates in zip(a["epoch_top"], a["epoch_gates"])]
            metrics["runs"].append({
                **m, "variant": variant, "load_balance": mc.load_balance, "gate_mode": mc.gate_mode, "seed": seed,
                "experts": list(mc.experts), "per_family": per_family, "epoch_utilisation": over_epochs,
                "family_difference": family_difference(per_family), "gate_spread": gate_spread(a["test_gates"]),
                "last_epoch_gain": curve_gain(a["curve_val_l1"])})
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


def gate_spread(gates: np.ndarray) -> float:
    """How much the gates depend on the input: each expert's standard deviation of its gate across the samples
    ``gates [n, E]``, averaged over the experts (0: every sample gets the same gates)."""
    g = np.asarray(gates, dtype=np.float64)
    return float(g.std(axis=0).mean()) if len(g) else float("nan")


__all__ = ["VARIANTS", "family_difference", "gate_spread", "piece_name", "run"]
