"""The spectral-ablations chapter's computation: :func:`run` (the training runs are
:func:`fwilab.experiments.spamoe.train_spamoe` and :func:`~fwilab.experiments.spamoe.train_inversionnet`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from ...data.splits import check_openfwi_files, load_family_splits
from ...metrics import count_fft_flops, count_flops, count_parameters
from ...models.inversionnet import InversionNet
from ...models.spamoe import SPAMoE
from ...results import Artifact, run_piece
from ..spamoe import (checkpoint_root, head, prediction_rho, rho_min_for, spectrum_kept, target_energy_ratio,
                      train_inversionnet, train_spamoe, matched_width)
from .claims import judge_claims
from .config import CHAPTER, SINGLE_EXPERTS, SpectralConfig

#: config fields the cost piece (sizes and FLOPs of the models) depends on
COST_FIELDS = frozenset({"nt", "decimate", "model_size", "inversionnet_width", "bound_weight"})


def _costs(config: SpectralConfig) -> tuple[dict[str, Any], dict]:
    """Parameters and forward FLOPs per sample of the reference SPAMoE and InversionNet, and the widths of the
    InversionNets matched to SPAMoE's parameters and FLOPs (the capacity controls)."""
    acq = config.model_acquisition
    shape = (acq.n_shots, acq.nt, acq.n_receivers)
    spamoe = SPAMoE(config.model_config("spamoe", 0.0))
    s_flops = count_flops(spamoe, shape)
    s_fft = count_fft_flops(spamoe, shape)
    inv = InversionNet(acquisition=acq, width=config.inversionnet_width)
    out: dict[str, Any] = {
        "spamoe": {"parameters": count_parameters(spamoe), "gflops": s_flops / 1e9, "fft_gflops": s_fft / 1e9},
        "inversionnet": {"width": config.inversionnet_width, "parameters": count_parameters(inv),
                         "gflops": count_flops(inv, shape) / 1e9}}
    targets = {"parameters": out["spamoe"]["parameters"], "flops": s_flops + s_fft}
    for control, target in targets.items():
        w = matched_width(acq, target, "parameters" if control == "parameters" else "flops")
        net = InversionNet(acquisition=acq, width=w)
        out[f"matched-{control}"] = {"width": w, "parameters": count_parameters(net),
                                     "gflops": count_flops(net, shape) / 1e9}
    return out, {}


def run(config: SpectralConfig) -> Artifact:
    metrics: dict[str, Any] = {"runs": [], "rho_targets": {}, "single_val_l1": {}}
    arrays: dict[str, np.ndarray] = {}
    acq = config.model_acquisition
    families = tuple(dict.fromkeys(config.families + (config.ablation_family,)))
    check_openfwi_files(config, families)   # before the first family trains
    data: dict[str, tuple] = {}
    splits: dict[str, Any] = {}
    done: set[str] = set()
    for fam in families:
        s = load_family_splits(fam, config.n_train, config.n_val, config.n_test, **config.split_options())
        splits[fam] = s
        train = s.train if config.train_samples == len(s.train) else head(s.train, config.train_samples)
        test = s.test if config.test_samples == len(s.test) else head(s.test, config.test_samples)
        val = head(s.val, config.val_samples)
        rho_t = target_energy_ratio(train)
        _, median = rho_min_for(train, 1.0)
        metrics["rho_targets"][fam] = {"median": median, "p10": float(np.percentile(rho_t, 10)),
                                       "p90": float(np.percentile(rho_t, 90))}
        arrays[f"target_rho/{fam}"] = rho_t
        arrays[f"test_target_rho/{fam}"] = target_energy_ratio(test)
        data[fam] = (train, val, test, median)
    metrics["costs"] = run_piece(config, "costs", lambda: _costs(config),
                                 unrelated=set(config.to_dict()) - COST_FIELDS)[0]

    def spamoe_piece(variant: str, fam: str, seed: int, main: bool) -> str:
        name = f"{variant}-{fam}-s{seed}"
        if name in done:
            return name
        train, val, test, median = data[fam]
        mc = config.model_config(variant, median)
        m, a = run_piece(config, name, lambda: train_spamoe(
            mc, config.fit_config(seed), train, val, test, checkpoint_root(config) / name,
            keep_predictions=4 if main else 0))
        done.add(name)
        metrics["runs"].append({"model": "spamoe", "variant": variant, "family": fam, "seed": seed, **m})
        arrays.update({f"{name}/{k}": v for k, v in a.items()})
        return name

    def baseline(model: str, fam: str, seed: int) -> None:
        """The comparison's baseline of ``fam`` and ``seed``: the baselines chapter's piece, or trained here."""
        train, val, test, _ = data[fam]
        if config.reference_baselines:
            from ..baselines import reference_inversionnet, reference_velocitygan

            ref = reference_inversionnet if model == "inversionnet" else reference_velocitygan
            m, a = ref(fam, seed, profile=config.profile, results_dir=config.results_dir, device=config.device,
                       progress=config.progress, splits=splits[fam])
            m = {**m, **_kept(a, test), "reference": "baselines"}
            a = {k: v for k, v in a.items() if k != "predictions" or seed == config.seed}
        else:
            name = f"inversionnet-{fam}-s{seed}"
            m, a = run_piece(config, name, lambda: train_inversionnet(
                acq, config.inversionnet_width, config.fit_config(seed), train, val, test,
                checkpoint_root(config) / name))
        metrics["runs"].append({"model": model, "variant": model, "family": fam, "seed": seed, **m})
        arrays.update({f"{model}-{fam}-s{seed}/{k}": v for k, v in a.items()})

    # the comparison first (the reference SPAMoE on every family and seed, beside its baselines), then the
    # ablations on the ablation family, then the capacity controls
    gan_families = ()
    if config.reference_baselines:
        from ..baselines import BaselinesConfig

        bcfg = BaselinesConfig.preset(config.profile)
        gan_families = tuple(f for f in bcfg.gan_families if f in config.families)
        metrics["velocitygan_families"] = list(gan_families)
    for fam in config.families:
        for seed in config.seeds:
            spamoe_piece("spamoe", fam, seed, main=True)
            baseline("inversionnet", fam, seed)
        if fam in gan_families:
            for seed in bcfg.gan_seed_list:
                baseline("velocitygan", fam, seed)

    abl = config.ablation_family
    spamoe_piece("spamoe", abl, config.seed, main=abl in config.families)
    singles = [s for s in SINGLE_EXPERTS if s in config.ablations]
    for variant in singles:   # single experts: the best one by validation L1 joins the comparison
        name = spamoe_piece(variant, abl, config.seed, main=False)
        metrics["single_val_l1"][variant] = float(np.nanmin(arrays[f"{name}/curve_val_l1"]))
    best_single = min(singles, key=lambda s: metrics["single_val_l1"][s]) if singles else None
    metrics["best_single"] = best_single
    for variant in config.ablations:
        if variant not in singles:
            spamoe_piece(variant, abl, config.seed, main=False)
    if best_single is not None and config.single_in_comparison:
        for fam in config.families:
            for seed in config.seeds:
                spamoe_piece(best_single, fam, seed, main=True)

    for control in config.capacity_controls:
        width = metrics["costs"][f"matched-{control}"]["width"]
        for fam in config.families:
            seed = config.seed   # one seed: a control, not a contender
            name = f"inversionnet-{control}-{fam}-s{seed}"
            train, val, test, _ = data[fam]
            if config.reference_baselines:
                from ..baselines import baseline_inversionnet

                recipe = dataclasses.replace(bcfg, width=width)
                fn = lambda: baseline_inversionnet(  # noqa: E731
                    recipe, splits[fam], seed, checkpoint_root(config) / name,
                    extra=lambda model: {"test_pred_rho": prediction_rho(model, test)})
            else:
                fn = lambda: train_inversionnet(acq, width, config.fit_config(seed), train, val, test,  # noqa: E731
                                                checkpoint_root(config) / name)
            m, a = run_piece(config, name, fn)
            m = {**m, **_kept(a, test), "width": width,
                 "parameters": metrics["costs"][f"matched-{control}"]["parameters"]}
            metrics["runs"].append({"model": "inversionnet", "variant": f"inversionnet-{control}", "family": fam,
                                    "seed": seed, **m})
            arrays.update({f"{name}/{k}": v for k, v in a.items()})
    for fam in families:
        arrays[f"truth/{fam}"] = data[fam][2].tensors[1][:2].numpy().astype(np.float32)

    art = Artifact(chapter=CHAPTER, config=config.to_dict(), provenance={}, metrics=metrics, arrays=arrays)
    art.claims = [c.to_dict() for c in judge_claims(config, metrics, arrays)]
    return art


def _kept(arrays: dict[str, np.ndarray], test) -> dict[str, float]:
    """:func:`~fwilab.experiments.spamoe.spectrum_kept` of a baseline's piece: on every test prediction where
    the piece recorded their ρ (``test_pred_rho``), else on the first predictions it kept (the baselines
    chapter's pieces keep a few maps, not their ρ), with ``rho_samples`` saying how many."""
    from ...layers.spectral import energy_ratio

    if "test_pred_rho" in arrays:
        rho = np.asarray(arrays["test_pred_rho"], dtype=np.float64)
        return {**spectrum_kept(rho, test), "rho_samples": len(rho)}
    pred = torch.as_tensor(np.asarray(arrays["predictions"], dtype=np.float32))
    pred = pred[:, None] if pred.dim() == 3 else pred
    rho = energy_ratio(pred).numpy().astype(np.float64)
    return {**spectrum_kept(rho, head(test, len(rho))), "rho_samples": len(rho)}
