"""The spectral-ablations chapter's claims: the thresholds of the rules, the summaries the claims and
the notebook share, and :func:`judge_claims`."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...claims import Claim
from ...metrics import mean_std
from ...report import pm
from ..spamoe import JUDGED_AT, PAPER_MAE_REDUCTION, judge_spamoe
from .config import ABLATIONS, CHAPTER, SpectralConfig

#: the 44.4 % claim "holds" when our average reduction is within this many percentage points of it
MAE_REDUCTION_TOLERANCE: float = 0.10
#: the bound "acts" when its hinge is non-zero in at least this fraction of training batches
HINGE_ACTIVE_FRACTION: float = 0.10


# --------------------------------------------------------------------------------------------
# summaries the notebook and the claims share
# --------------------------------------------------------------------------------------------

def comparison(metrics: dict[str, Any], key: str = "mae") -> dict[str, dict[str, tuple[float, float, int]]]:
    """``{family: {variant: (mean, std over seeds, n seeds)}}`` of a test metric, main-comparison runs."""
    out: dict[str, dict[str, tuple[float, float, int]]] = {}
    keep = {"spamoe", "inversionnet", metrics.get("best_single")}
    for r in metrics["runs"]:
        if r["variant"] in keep:
            out.setdefault(r["family"], {}).setdefault(r["variant"], []).append((r["seed"], r[key]))
    result = {}
    for fam, by in out.items():
        result[fam] = {}
        for variant, vals in by.items():
            unique = dict(vals)  # one value per seed (the reference also serves the ablations)
            mean, std = mean_std(unique.values())
            result[fam][variant] = (mean, std, len(unique))
    return result


def mae_reduction(metrics: dict[str, Any], families) -> dict[str, float]:
    """Relative MAE reduction of SPAMoE against InversionNet per family: ``1 − MAE_SPAMoE / MAE_InversionNet``."""
    comp = comparison(metrics)
    return {f: 1.0 - comp[f]["spamoe"][0] / comp[f]["inversionnet"][0] for f in families
            if f in comp and "spamoe" in comp[f] and "inversionnet" in comp[f]}


def ablation_table(config: dict[str, Any] | SpectralConfig, metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per variant on the ablation family, seed ``seed``: test MAE and what the bound did."""
    cfg = config if isinstance(config, dict) else config.to_dict()
    fam, seed = cfg["ablation_family"], cfg["seed"]
    rows = []
    seen = set()
    for r in metrics["runs"]:
        if r["model"] != "spamoe" or r["family"] != fam or r["seed"] != seed or r["variant"] in seen:
            continue
        seen.add(r["variant"])
        rows.append({"variant": "reference" if r["variant"] == "spamoe" else r["variant"], "mae": r["mae"],
                     "ssim": r["ssim"], "rho_min": r["rho_min"], "test_rho": r["test_rho_mean"],
                     "max_first_choice": r["utilisation"]["max_first_choice"]})
    order = ["reference", *ABLATIONS]
    return sorted(rows, key=lambda row: order.index(row["variant"]))


def bound_statistics(arrays: dict[str, np.ndarray], piece: str, rho_min: float) -> dict[str, float]:
    """Of one run: fraction of training batches with a non-zero hinge, and of validation samples below ρ_min
    (first and last epoch)."""
    trace = arrays[f"{piece}/trace"]
    rho = arrays[f"{piece}/epoch_rho"]  # [epochs, n_val]
    return {"hinge_batches": float(trace[:, 3].mean()) if len(trace) else float("nan"),
            "below_first": float((rho[0] < rho_min).mean()), "below_last": float((rho[-1] < rho_min).mean()),
            "rho_last": float(np.median(rho[-1]))}


def judge_claims(config: SpectralConfig, metrics: dict[str, Any], arrays: dict[str, np.ndarray]) -> list[Claim]:
    p = config.profile
    claims = []
    comp = comparison(metrics)
    red = mae_reduction(metrics, config.families)
    setting = (f"{config.data_source}, {config.train_samples} training samples per family, "
               f"{config.epochs} epochs, batch {config.batch_size}, {config.n_seeds} seed(s); SPAMoE at the "
               f"'{config.model_size}' size with its ViT encoder trained from scratch (no DINOv3 weights); "
               f"InversionNet width {config.inversionnet_width} trained here with the same budget; verdicts "
               f"at the {', '.join(JUDGED_AT)} profile only (smaller runs do not train the networks far enough); "
               "theirs: OpenFWI's training sets (24k-60k samples per dataset), a pretrained DINOv3 encoder, "
               "epochs not reported — our full run is far smaller, so a shortfall may be the budget's")
    if red:
        avg = float(np.mean(list(red.values())))
        clear = 0
        for f in red:
            s_mean, s_std, _ = comp[f]["spamoe"]
            i_mean, i_std, _ = comp[f]["inversionnet"]
            clear += i_mean - s_mean > max(s_std, i_std)
        claims.append(Claim(
            id="spamoe.mae-reduction", paper="SPAMoE",
            statement="SPAMoE reduces the average MAE by 44.4 % relative to the best baseline.",
            theirs=f"−{100 * PAPER_MAE_REDUCTION:.1f} % average MAE vs the best official OpenFWI baseline, "
                   "ten OpenFWI datasets (real data)",
            ours=f"average MAE change vs InversionNet {-100 * avg:+.1f} % "
                 f"({'SPAMoE better' if avg > 0 else 'SPAMoE worse' if avg < 0 else 'no change'}); MAE SPAMoE vs "
                 "InversionNet: " + "; ".join(
                f"{f}: {pm(*comp[f]['spamoe'])} vs {pm(*comp[f]['inversionnet'])} ({-100 * r:+.1f} %)"
                for f, r in red.items()),
            rule=f"holds if our average reduction is at least {100 * (PAPER_MAE_REDUCTION - MAE_REDUCTION_TOLERANCE):.1f} % "
                 f"(theirs less {100 * MAE_REDUCTION_TOLERANCE:.0f} points; a change of "
                 f"−{100 * (PAPER_MAE_REDUCTION - MAE_REDUCTION_TOLERANCE):.1f} % or lower); partly if SPAMoE is better on average "
                 "and beats InversionNet by more than the larger seed std on at least half the families",
            verdict=judge_spamoe(p, avg >= PAPER_MAE_REDUCTION - MAE_REDUCTION_TOLERANCE,
                          avg > 0 and 2 * clear >= len(red)),
            chapter=CHAPTER, profile=p,
            setting=setting + "; theirs is against the best official OpenFWI baseline on the real data, "
                              "ours against InversionNet trained here on the same samples and budget"))

    abl, seed = config.ablation_family, config.seed
    ref = f"spamoe-{abl}-s{seed}"
    runs = {r["variant"]: r for r in metrics["runs"] if r["family"] == abl and r["seed"] == seed}
    _, noise, n_noise = comp.get(abl, {}).get("spamoe", (0.0, 0.0, 1))
    spread = f"seed std of the reference {noise:.4f}" if n_noise > 1 else "one seed: no spread to compare with"
    if "bound-off" in runs and "spamoe" in runs:
        rho_min = runs["spamoe"]["rho_min"]
        on = bound_statistics(arrays, ref, rho_min)
        off = bound_statistics(arrays, f"bound-off-{abl}-s{seed}", rho_min)
        acts = on["hinge_batches"] >= HINGE_ACTIVE_FRACTION
        binds = off["below_last"] >= 0.5
        held = on["below_last"] <= 0.5 * off["below_last"]
        claims.append(Claim(
            id="spamoe.bound-active", paper="SPAMoE",
            statement="The encoder keeps the high-to-low energy ratio of its output above a lower bound, "
                      "and the bound is what keeps it there (not trivially met).",
            theirs="a lower bound on E_H/E_L is enforced (no value of the bound, no evidence it is active); "
                   "the released code never enforces it",
            ours=f"ρ_min = {rho_min:.4f} (the {abl} targets' median ρ); with the hinge: non-zero in "
                 f"{100 * on['hinge_batches']:.0f} % of training batches, {100 * on['below_last']:.0f} % of validation "
                 f"samples below ρ_min at the end (median ρ {on['rho_last']:.4f}); without it (as released): "
                 f"{100 * off['below_last']:.0f} % below (median ρ {off['rho_last']:.4f})",
            rule=f"holds if the hinge is non-zero in ≥ {100 * HINGE_ACTIVE_FRACTION:.0f} % of batches, at least half "
                 "the samples fall below ρ_min without it, and with it at most half as many do; partly if the "
                 "bound binds (first or second condition) but the penalty does not hold it",
            verdict=judge_spamoe(p, acts and binds and held, acts or binds),
            chapter=CHAPTER, profile=p, setting=setting + f"; ablation on {abl}, one seed"))

        others = {v: runs[v]["mae"] for v in ("bound-off", "bound-0.5x", "bound-2x") if v in runs}
        ref_mae = runs["spamoe"]["mae"]
        claims.append(Claim(
            id="spamoe.bound-helps", paper="SPAMoE",
            statement="Enforcing the spectral lower bound lowers the reconstruction error.",
            theirs="the bound mitigates high-frequency collapse (no ablation reported)",
            ours=f"test MAE with the bound at 1× ρ_min {ref_mae:.4f}; " + "; ".join(
                f"{v}: {m:.4f}" for v, m in others.items()) + f" ({spread})",
            rule="holds if the bound at 1× beats the run without it by more than the reference's seed std, "
                 "partly if it is lower at all",
            verdict=judge_spamoe(p, ref_mae < others["bound-off"] - noise, ref_mae < others["bound-off"]),
            chapter=CHAPTER, profile=p, setting=setting + f"; ablation on {abl}, one seed"))

    contenders = {v: runs[v]["mae"] for v in ("uniform-routing", "random-routing") if v in runs}
    best = metrics.get("best_single")
    if best and abl in comp and best in comp[abl]:
        contenders[best] = comp[abl][best][0]
    if contenders and "spamoe" in runs:
        # like with like: the one-seed routing ablations against the reference's run with the same seed,
        # the best single expert (run on every seed) against the reference's mean over seeds
        seed_mae = runs["spamoe"]["mae"]
        mean_mae = comp[abl]["spamoe"][0] if abl in comp and "spamoe" in comp[abl] else seed_mae
        ref_for = {v: mean_mae if v == best else seed_mae for v in contenders}
        beyond = [v for v, m in contenders.items() if ref_for[v] < m - noise]
        lower = [v for v, m in contenders.items() if ref_for[v] < m]
        claims.append(Claim(
            id="spamoe.routing-helps", paper="SPAMoE",
            statement="Routing frequency bands to a learned mixture of FNO, MNO and LNO experts beats fixed "
                      "routing and any single operator.",
            theirs="the spectral decomposition and routing mechanism reduces the error (no routing ablation reported)",
            ours=f"test MAE on {abl}, learned routing vs " + "; ".join(
                f"{v}: {ref_for[v]:.4f} vs {m:.4f}"
                + (f" (means over {comp[abl][best][2]} seeds)" if v == best and comp[abl][best][2] > 1
                   else f" (seed {seed})")
                for v, m in contenders.items()) + f"; {spread}",
            rule="holds if learned routing beats every alternative by more than the reference's seed std; partly "
                 "if it beats at least one by that margin or all of them in the mean",
            verdict=judge_spamoe(p, len(beyond) == len(contenders), bool(beyond) or len(lower) == len(contenders)),
            chapter=CHAPTER, profile=p, setting=setting + f"; uniform/random routing on {abl} with one seed"))
    return claims
