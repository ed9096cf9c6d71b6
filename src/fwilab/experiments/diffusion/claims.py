"""The diffusion chapter's claims: WaveDiffusion's published numbers, the rules' thresholds and
:func:`judge_claims`."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...claims import Claim, judge
from ...regime import regime_from_runs
from .config import CHAPTER, DiffusionConfig

#: WaveDiffusion Table 5 (normalised MAE of the inversion), FlatVel-A / CurveVel-A: theirs
PAPER_INVERSION: dict[str, dict[str, float]] = {"flatvel-a": {"2VQ": 0.0097, "BigFWI-B": 0.0055},
                                                "curvevel-a": {"2VQ": 0.0281, "BigFWI-B": 0.0343}}
#: WaveDiffusion §2.3 / Fig. 5: deviation of reconstructed training pairs and of decoded random latents
PAPER_RECONSTRUCTION_DEVIATION: float = 0.0016
PAPER_RANDOM_DEVIATION: float = 0.013
#: Fig. 5: forward 0.0016 → 0.0121, backward 0.013 → 0.002
PAPER_FORWARD: tuple[float, float] = (0.0016, 0.0121)
PAPER_BACKWARD: tuple[float, float] = (0.013, 0.002)
#: Table 1 (Inception FID over 375k samples): velocity / seismic
PAPER_FID: dict[str, dict[str, float]] = {"1VQ": {"velocity": 260.33, "seismic": 5.67},
                                          "2VQ": {"velocity": 665.75, "seismic": 20.94}}
#: Table 4 (CurveVel-B): joint against separate diffusion, velocity / seismic FID
PAPER_SEPARATE_FID: dict[str, dict[str, float]] = {"joint": {"velocity": 186.86, "seismic": 30.66},
                                                   "separate": {"velocity": 411.40, "seismic": 131.48}}
#: Table 5: refinement lowers the inversion MAE in 11 of 14 cells
PAPER_REFINE: tuple[int, int] = (11, 14)

#: W1: stage 1 is "comparable" to InversionNet when its inversion MAE is at most this many times InversionNet's
COMPARABLE_FACTOR: float = 1.25
#: W2: random latents deviate at least this many times more than reconstructions (theirs ~8×)
RANDOM_FACTOR: float = 3.0
#: W3: a curve is monotone when Spearman's ρ between step and mean deviation is at least this, with the
#: lower end of its bootstrap interval above 0
MONOTONE_RHO: float = 0.8


def _ours_vs(x: dict[str, float]) -> str:
    return f"{x['mean']:.4g} [{x['low']:.4g}, {x['high']:.4g}]"


def judge_claims(config: DiffusionConfig, metrics: dict[str, Any], arrays: dict[str, np.ndarray]) -> list[Claim]:
    p = config.profile
    pieces = metrics["pieces"]
    claims: list[Claim] = []
    setting = (f"{config.data_source}; per family {config.train_samples} training pairs; stage 1 at the "
               f"'{config.model_size}' size, {config.ae_epochs} epochs; the joint latent diffusion (T = 1000, LDM "
               f"linear schedule, L1), {config.ldm_epochs} epochs; theirs: all ten OpenFWI datasets pooled (400k "
               "pairs), 128 GH200 GPUs")
    two = {f: pieces[f"2vq-{f}"] for f in config.families if f"2vq-{f}" in pieces}

    # W1: stage-1 inversion against InversionNet on the same data
    checks = regime_from_runs(metrics.get("runs", []), list(two))
    judged = [f for f in two if checks[f].in_regime]
    net = {f: checks[f].mae for f in two if checks[f].mae is not None}
    if net:
        ratio = {f: two[f]["inversion_mae"] / net[f] for f in net}
        comparable = [f for f in judged if ratio[f] <= COMPARABLE_FACTOR]
        better = [f for f in judged if ratio[f] <= 1.0]
        claims.append(Claim(
            id="wavediffusion.stage1-inversion", paper="WaveDiffusion",
            statement="The stage-1 VQ autoencoder inverts as well as an InversionNet trained on the same data.",
            theirs="Table 5, normalised MAE 2VQ / BigFWI-B: " + "; ".join(
                f"{f}: {t['2VQ']} / {t['BigFWI-B']}" for f, t in PAPER_INVERSION.items()),
            ours="; ".join(f"{f}: 2VQ {two[f]['inversion_mae']:.4f} (reconstruction of the map "
                           f"{two[f]['velocity_recon_mae']:.4f}, resize floor {two[f]['resize_floor_mae']:.4f}) vs "
                           f"InversionNet {net[f]:.4f} = {ratio[f]:.2f}×" for f in net),
            rule=f"normalised test MAE on all {config.n_test} test maps; holds if stage 1 is within "
                 f"{COMPARABLE_FACTOR:g}× InversionNet's on every family in the trained regime, partly if on at least "
                 "one or if it is better on any; judged at cpu and full where the reference InversionNet is in the "
                 "trained regime (" + "; ".join(checks[f].reason for f in two) + ")",
            verdict=(judge(p, len(comparable) == len(judged), bool(comparable) or bool(better)) if judged
                     else judge(p, False, judged_at=())),
            chapter=CHAPTER, profile=p, setting=setting + "; InversionNet: the baselines chapter's reference "
                                                          "(width 0.25, 3 seeds), loaded"))

    # W2: random latents against reconstructions
    if two:
        ratios = {f: m["deviation_random"]["mean"] / m["deviation_reconstruction"]["mean"] for f, m in two.items()}
        claims.append(Claim(
            id="wavediffusion.random-latents-deviate", paper="WaveDiffusion",
            statement="Random latents decode to pairs far further from the wave equation than reconstructions of "
                      "training pairs.",
            theirs=f"{PAPER_RANDOM_DEVIATION} vs {PAPER_RECONSTRUCTION_DEVIATION} "
                   f"({PAPER_RANDOM_DEVIATION / PAPER_RECONSTRUCTION_DEVIATION:.1f}×), Fig. 5",
            ours="; ".join(f"{f}: random {_ours_vs(m['deviation_random'])} vs reconstructions "
                           f"{_ours_vs(m['deviation_reconstruction'])} = {ratios[f]:.1f}× (mismatched pairs "
                           f"{m['deviation_mismatched']['mean']:.4g}, real pairs {m['deviation_real']['mean']:.2g})"
                           for f, m in two.items()),
            rule=f"per-element mean squared deviation on the normalised scale, {config.deviation_samples} pairs, "
                 f"bootstrap 95 % intervals; holds if the ratio is ≥ {RANDOM_FACTOR:g} on every family, partly if > 1 "
                 "on every family; judged at cpu and full",
            verdict=judge(p, all(r >= RANDOM_FACTOR for r in ratios.values()), all(r > 1 for r in ratios.values())),
            chapter=CHAPTER, profile=p, setting=setting + "; random latents: N(0, I) in the standardised latent "
                                                          "space (the training latents' per-channel mean and scale)"))

        # W3: the curves
        def monotone(c: dict[str, Any]) -> bool:
            return c["spearman"] >= MONOTONE_RHO and c["spearman_low"] > 0

        fw = {f: monotone(m["forward"]) for f, m in two.items()}
        bw = {f: monotone(m["backward"]) for f, m in two.items()}
        claims.append(Claim(
            id="wavediffusion.deviation-curves", paper="WaveDiffusion",
            statement="The PDE deviation of decoded pairs rises along the forward diffusion and falls along the "
                      "backward process.",
            theirs=f"forward {PAPER_FORWARD[0]} → {PAPER_FORWARD[1]}, backward {PAPER_BACKWARD[0]} → "
                   f"{PAPER_BACKWARD[1]} (Fig. 5, 13,200 pairs a step)",
            ours="; ".join(
                f"{f}: forward {m['forward']['mean'][0]:.4g} → {m['forward']['mean'][-1]:.4g} (Spearman ρ "
                f"{m['forward']['spearman']:.2f} [{m['forward']['spearman_low']:.2f}, {m['forward']['spearman_high']:.2f}]), "
                f"backward {m['backward']['mean'][-1]:.4g} → {m['backward']['mean'][0]:.4g} (ρ "
                f"{m['backward']['spearman']:.2f} [{m['backward']['spearman_low']:.2f}, "
                f"{m['backward']['spearman_high']:.2f}])" for f, m in two.items()),
            rule=f"Spearman's ρ between the step t and the mean deviation over {config.deviation_samples} pairs at "
                 f"{len(config.curve_steps)} steps (the backward process read from t = T down), bootstrap intervals "
                 f"over the pairs; holds if ρ ≥ {MONOTONE_RHO:g} with its interval above 0 for both curves on every "
                 "family, partly if for at least one curve; judged at cpu and full",
            verdict=judge(p, all(fw.values()) and all(bw.values()), any(fw.values()) or any(bw.values())),
            chapter=CHAPTER, profile=p, setting=setting))

    # W4: 1VQ against 2VQ, and joint against separate diffusion (the comparison family)
    fam = config.comparison_family
    one, ref = pieces.get(f"1vq-{fam}"), pieces.get(f"2vq-{fam}")
    if one and ref:
        measures = {"deviation": (one["deviation_generated"]["mean"], ref["deviation_generated"]["mean"]),
                    "FD velocity": (one["fd"]["velocity"]["fd"], ref["fd"]["velocity"]["fd"]),
                    "FD seismic": (one["fd"]["seismic"]["fd"], ref["fd"]["seismic"]["fd"])}
        wins = [k for k, (a, b) in measures.items() if a < b]
        claims.append(Claim(
            id="wavediffusion.one-codebook", paper="WaveDiffusion",
            statement="A single shared codebook (1VQ) generates better pairs than one codebook per modality (2VQ).",
            theirs="Table 1, FID velocity / seismic: 1VQ " + " / ".join(str(v) for v in PAPER_FID["1VQ"].values())
                   + ", 2VQ " + " / ".join(str(v) for v in PAPER_FID["2VQ"].values()),
            ours=f"{fam}, 1VQ vs 2VQ: " + "; ".join(f"{k} {a:.4g} vs {b:.4g}" for k, (a, b) in measures.items()),
            rule="lower is better; holds if 1VQ is better on the PDE deviation of generated pairs and on both "
                 "domain Fréchet distances, partly if on at least one; judged at cpu and full",
            verdict=judge(p, len(wins) == len(measures), bool(wins)),
            chapter=CHAPTER, profile=p, setting=setting + f"; {fam} only; domain Fréchet distances on pooled maps "
                                                          "(not Inception features: their ranking, not their values, "
                                                          "compares with the paper's FIDs)"))
    sep = (ref or {}).get("separate")
    if sep and ref:
        measures = {"deviation": (ref["deviation_generated"]["mean"], sep["deviation"]["mean"]),
                    "FD velocity": (ref["fd"]["velocity"]["fd"], sep["fd"]["velocity"]["fd"]),
                    "FD seismic": (ref["fd"]["seismic"]["fd"], sep["fd"]["seismic"]["fd"])}
        wins = [k for k, (a, b) in measures.items() if a < b]
        claims.append(Claim(
            id="wavediffusion.joint-diffusion", paper="WaveDiffusion",
            statement="Diffusing the two modalities jointly gives pairs that are more physically consistent (and "
                      "closer to the data) than diffusing them separately.",
            theirs="Table 4 (CurveVel-B), FID velocity / seismic: joint "
                   + " / ".join(str(v) for v in PAPER_SEPARATE_FID["joint"].values()) + ", separate "
                   + " / ".join(str(v) for v in PAPER_SEPARATE_FID["separate"].values())
                   + "; Fig. 11: the separate models' pairs deviate more",
            ours=f"{fam}, joint vs separate (2VQ latent): " + "; ".join(
                f"{k} {a:.4g} vs {b:.4g}" for k, (a, b) in measures.items()),
            rule="lower is better; holds if the joint model is better on the PDE deviation and both domain Fréchet "
                 "distances, partly if on the deviation; judged at cpu and full",
            verdict=judge(p, len(wins) == len(measures), "deviation" in wins),
            chapter=CHAPTER, profile=p, setting=setting + f"; {fam} only; the separate models: one UNet per half of "
                                                          "the 2VQ latent, sampled independently"))

    # W5: the refinement
    ref_runs = {f: m["refine"] for f, m in two.items() if "refine" in m}
    if ref_runs:
        lower = {f: r["difference"]["high"] < 0 for f, r in ref_runs.items()}
        mean_lower = {f: r["difference"]["mean"] < 0 for f, r in ref_runs.items()}
        claims.append(Claim(
            id="wavediffusion.refinement", paper="WaveDiffusion",
            statement="Refining stage 1's latent over the last backward steps lowers the inversion MAE.",
            theirs=f"Table 5: lower MAE in {PAPER_REFINE[0]} of {PAPER_REFINE[1]} cells",
            ours="; ".join(f"{f}: {r['stage1_mae']:.4f} → {r['refined_mae']:.4f} (change {_ours_vs(r['difference'])}; "
                           f"{r['improved']} of {r['n']} maps improve)" for f, r in ref_runs.items()),
            rule=f"{config.refine_samples} test maps, {config.refine_steps} steps × {config.refine_candidates} "
                 "candidates; holds if the bootstrap interval of the mean change lies below 0 on every family, partly "
                 "if the mean change is negative on at least one; judged at cpu and full",
            verdict=judge(p, all(lower.values()), any(mean_lower.values())),
            chapter=CHAPTER, profile=p, setting=setting))
    return claims
