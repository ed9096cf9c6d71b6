"""The spectral-ablations chapter's computation: :func:`run` (the training runs are
:func:`fwilab.experiments.spamoe.train_spamoe` and :func:`~fwilab.experiments.spamoe.train_inversionnet`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...data.splits import load_family_splits
from ...results import Artifact, run_piece
from ..spamoe import checkpoint_root, head, rho_min_for, target_energy_ratio, train_inversionnet, train_spamoe
from .claims import judge_claims
from .config import CHAPTER, SINGLE_EXPERTS, SpectralConfig


def run(config: SpectralConfig) -> Artifact:
    metrics: dict[str, Any] = {"runs": [], "rho_targets": {}, "single_val_l1": {}}
    arrays: dict[str, np.ndarray] = {}
    acq = config.acquisition
    families = tuple(dict.fromkeys(config.families + (config.ablation_family,)))
    data: dict[str, tuple] = {}
    done: set[str] = set()
    for fam in families:
        s = load_family_splits(fam, config.n_train, config.n_val, config.n_test, **config.split_options())
        train, val, test = (head(s.train, config.train_samples), head(s.val, config.val_samples),
                            head(s.test, config.test_samples))
        rho_t = target_energy_ratio(train)
        _, median = rho_min_for(train, 1.0)
        metrics["rho_targets"][fam] = {"median": median, "p10": float(np.percentile(rho_t, 10)),
                                       "p90": float(np.percentile(rho_t, 90))}
        arrays[f"target_rho/{fam}"] = rho_t
        data[fam] = (train, val, test, median)

    def spamoe_piece(variant: str, fam: str, seed: int, main: bool) -> str:
        name = f"{variant}-{fam}-s{seed}"
        if name in done:
            return name
        train, val, test, median = data[fam]
        mc = config.model_config(variant, median)
        m, a = run_piece(config, name, lambda: train_spamoe(
            mc, config.fit_config(seed), train, val, test, checkpoint_root(config) / name,
            keep_predictions=2 if main else 0))
        done.add(name)
        metrics["runs"].append({"model": "spamoe", "variant": variant, "family": fam, "seed": seed, **m})
        arrays.update({f"{name}/{k}": v for k, v in a.items()})
        return name

    # single experts first (on the ablation family): the best one by validation L1 joins the comparison
    abl = config.ablation_family
    singles = [s for s in SINGLE_EXPERTS if s in config.ablations]
    for variant in singles:
        name = spamoe_piece(variant, abl, config.seed, main=False)
        metrics["single_val_l1"][variant] = float(np.nanmin(arrays[f"{name}/curve_val_l1"]))
    best_single = min(singles, key=lambda s: metrics["single_val_l1"][s]) if singles else None
    metrics["best_single"] = best_single

    for fam in config.families:
        train, val, test, _ = data[fam]
        for seed in config.seeds:
            spamoe_piece("spamoe", fam, seed, main=True)
            name = f"inversionnet-{fam}-s{seed}"
            m, a = run_piece(config, name, lambda: train_inversionnet(
                acq, config.inversionnet_width, config.fit_config(seed), train, val, test,
                checkpoint_root(config) / name))
            metrics["runs"].append({"model": "inversionnet", "variant": "inversionnet", "family": fam,
                                    "seed": seed, **m})
            arrays.update({f"{name}/{k}": v for k, v in a.items()})
            if best_single is not None:
                spamoe_piece(best_single, fam, seed, main=True)

    spamoe_piece("spamoe", abl, config.seed, main=abl in config.families)
    for variant in config.ablations:
        if variant not in singles:
            spamoe_piece(variant, abl, config.seed, main=False)
    for fam in families:
        arrays[f"truth/{fam}"] = data[fam][2].tensors[1][:2].numpy().astype(np.float32)

    art = Artifact(chapter=CHAPTER, config=config.to_dict(), provenance={}, metrics=metrics, arrays=arrays)
    art.claims = [c.to_dict() for c in judge_claims(config, metrics, arrays)]
    return art
