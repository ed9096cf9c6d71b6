"""The InvLINT chapter's claims: the paper's published numbers, the thresholds of our rules,
:func:`judge_claims`, and the summaries the claims and the notebook share."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...claims import Claim, judge
from ...layers.integral import sine_spectrum
from ...metrics import VELOCITY_SCALE, mean_std
from ...regime import OPENFWI_INVERSIONNET_MAE, regime_from_runs
from ...report import learned_vs_fwi, pm, seconds
from .config import ALPHAS, CHAPTER, ESSENTIAL_THRESHOLD, LinearityConfig
from .curves import FLAT_OVER_DOUBLING, GAP_CLOSED, NEAR_LINEAR_SKILL, curve_verdict

# --- the paper's numbers (InvLINT, ICML 2022) ----------------------------------------------------
#: Table 1: MAE, MSE (de-normalised units), SSIM, parameters, FLOPs of InversionNet and InvLINT.
PAPER_TABLE1 = {
    "Kimberlina-Leakage": {"InversionNet": (9.43, 1086.99, 0.9868, 15.81e6, 563.52e6),
                           "InvLINT": (8.13, 1534.60, 0.9812, 1.49e6, 44.30e6)},
    "Marmousi": {"InversionNet": (149.67, 45936.23, 0.7889, 24.41e6, 189.58e6),
                 "InvLINT": (136.67, 36003.43, 0.7972, 1.45e6, 9.31e6)},
    "Salt": {"InversionNet": (25.98, 8669.98, 0.9764, 13.74e6, 32.37e6),
             "InvLINT": (24.60, 8840.79, 0.9742, 1.62e6, 5.98e6)},
}
#: Table 11: ridge fit on (train, test): MAE, MSE, ymax − ymin, |ymean| (seismic datasets).
PAPER_TABLE11 = {
    "Kimberlina-Leakage": {"train": (2.83, 45.48, 884.4, 490.93), "test": (4.63, 245.09, 885.27, 492.65)},
    "Marmousi": {"train": (4.26, 33.38, 107.05, 4.92), "test": (4.29, 33.9, 103.01, 5.1)},
    "Salt": {"train": (0.28, 0.46, 51.3, 12.11), "test": (0.48, 1.98, 49.35, 11.97)},
    "Kimberlina-Reservoir": {"train": (169.25, 2607.27, 26497.1, 7197.4873),
                             "test": (212.64, 109288.08, 26496.956, 6849.95)},
}
#: the paper's seismic datasets (Kimberlina-Reservoir is its EM problem: conductivity from EM data, no sine
#: transform; out of this chapter's scope, its Table 11 row is shown for its train/test gap)
SEISMIC_DATASETS: tuple[str, ...] = ("Kimberlina-Leakage", "Marmousi", "Salt")
#: Tables 2 (Marmousi) and 6 (Kimberlina-Leakage): encoder kernel → MAE (their units).
PAPER_ENCODER_KERNELS = {
    "sin": (136.67, 8.13), "sin_sin": (138.76, 11.07), "sin_cos": (128.33, 8.88),
    "cos_sin": (140.14, 10.95), "sin_sum": (141.58, 8.17), "sin_plus": (142.12, 8.10),
}
#: Tables 3 (Marmousi) and 7 (Kimberlina-Leakage): decoder kernel → MAE.
PAPER_DECODER_KERNELS = {
    "gaussian": (136.67, 8.13), "sinc": (138.02, 8.90), "gaussian_sigma": (138.19, 8.84),
    "sin_sin": (177.36, 15.41), "cos_sin": (165.38, 15.40), "sin_cos": (175.92, 15.37),
    "sin_sum": (209.47, 12.86), "sin_plus": (216.12, 13.21),
}
#: Table 8 (Kimberlina-Leakage): (N, M) → MAE.
PAPER_KERNEL_COUNTS = {(2048, 512): 8.13, (1024, 512): 8.63, (4096, 512): 8.29, (2048, 128): 8.76,
                       (2048, 1024): 8.59}
#: Tables 4/5 (Marmousi) and 9/10 (Kimberlina-Leakage): decoder → (MAE Marmousi, MAE KL, params, FLOPs).
PAPER_DECODERS = {
    "transformer": (136.67, 8.13, 1.45e6, 9.3e6), "conv2": (140.72, 13.42, 0.30e6, 9.2e6),
    "deconv1": (167.98, 21.32, 0.35e6, 10.8e6), "deconv-conv5": (126.59, 6.86, 12.71e6, 94.6e6),
    "up-conv5": (128.74, 6.87, 4.01e6, 56.7e6), "unshared-linear": (138.82, 8.14, None, None),
    "transformer2": (134.24, 8.24, None, None), "transformer3": (132.19, 8.09, None, None),
}
#: §4.2: training 9× faster (1 h vs 9 h, Marmousi), CPU inference 16× faster (5 ms vs 80 ms, batch 1, one thread).
PAPER_TRAIN_SPEEDUP, PAPER_LATENCY_SPEEDUP = 9.0, 16.0
#: §4.5: MAE of InvLINT vs multiscale FWI on 5 samples per dataset.
PAPER_FWI = {"Kimberlina-Leakage": (11.7, 42.0), "Marmousi": (140.7, 199.5), "Salt": (26.1, 176.6)}

# --- the thresholds of our rules -----------------------------------------------------------------
#: comparable accuracy: InvLINT's mean MAE at most this many times InversionNet's (paper: 0.86-0.95×)
COMPARABLE_FACTOR: float = 1.10
#: two decoders whose mean MAEs differ by less than this fraction are tied (the paper's Tables 5/10 gaps
#: are 1-3 %: within seed noise at our size)
DECODER_TIE: float = 0.05
#: the rotation check passes where ridge on U and on the traces agree to this fraction of the predictions
ROTATION_TOLERANCE: float = 1e-4


# =================================================================================================
# Summaries


def summary(metrics: dict[str, Any], model: str = "invlint", variant: str = "default") -> dict[str, dict[str, float]]:
    """Mean and standard deviation over seeds of a model's test metrics and training time, per family."""
    out: dict[str, dict[str, float]] = {}
    runs = [r for r in metrics["runs"] if r["model"] == model and r["variant"] == variant]
    for fam in dict.fromkeys(r["family"] for r in runs):
        rs = [r for r in runs if r["family"] == fam]
        row: dict[str, float] = {"seeds": len(rs)}
        for key in ("mae", "mse", "ssim", "mae_ms", "rmse_ms", "train_total_s", "best_epoch", "inference_s_per_sample"):
            row[key], row[f"{key}_std"] = mean_std(r[key] for r in rs)
        out[fam] = row
    return out


def variant_summary(metrics: dict[str, Any], family: str) -> dict[str, dict[str, float]]:
    """:func:`summary` of the default InvLINT and every trained variant on one family, by variant."""
    variants = dict.fromkeys(r["variant"] for r in metrics["runs"] if r["model"] == "invlint" and r["family"] == family)
    return {v: summary(metrics, "invlint", v)[family] for v in variants}


def variant_table(metrics: dict[str, Any], family: str, seed: int) -> dict[str, dict[str, float]]:
    """Test metrics of the default model (seed ``seed``) and every trained variant on one family."""
    return {r["variant"]: r for r in metrics["runs"]
            if r["model"] == "invlint" and r["family"] == family and r["seed"] == seed}


def _alpha(alpha: float, grid: Sequence[float] = ALPHAS) -> str:
    """A chosen ridge penalty, flagged when it sits on the edge of the grid tried (the best may lie beyond)."""
    edge = " (grid edge)" if alpha in (min(grid), max(grid)) else ""
    return f"{alpha:g}{edge}"


def paper_table11() -> dict[str, dict[str, float]]:
    """Per dataset of Table 11: test MAE / (ymax − ymin) and test MSE / train MSE."""
    return {d: {"rel_mae": t["test"][0] / t["test"][2], "mse_ratio": t["test"][1] / t["train"][1]}
            for d, t in PAPER_TABLE11.items()}


def sine_closeness() -> float:
    """How close the paper itself calls "close": the largest ratio of the sine encoder's MAE to the best
    encoder kernel's over Tables 2 and 6 (Marmousi: 136.67 / 128.33, 1.065)."""
    return max(PAPER_ENCODER_KERNELS["sin"][d] / min(v[d] for v in PAPER_ENCODER_KERNELS.values())
               for d in range(2))


def _kernel_winners(table: dict[str, dict[str, Any]]) -> tuple[str, dict[str, float]]:
    """(the kernel with the lowest read-out MAE, read-out MAE [m/s] of every kernel)."""
    maes = {k: v["readout_mae_ms"] for k, v in table.items()}
    best = min(maes, key=maes.get)
    return best, maes


def curve_at(metrics: dict[str, Any], family: str, kind: str = "sine", n: int | None = None) -> dict[str, Any]:
    """One row of a family's learning curve ``kind`` (default the last, largest n)."""
    rows = metrics["curves"][family]["curves"][kind]
    return rows[-1] if n is None else next(r for r in rows if r["n"] == n)


def near_linear_verdicts(metrics: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Per family, :func:`~.curves.curve_verdict` of the sine transform's learning curve."""
    return {fam: curve_verdict(m["curves"]["sine"]) for fam, m in metrics["curves"].items()}


# =================================================================================================
# Claims


def judge_claims(config: LinearityConfig, metrics: dict[str, Any], arrays: dict[str, np.ndarray]) -> list[Claim]:
    claims: list[Claim] = []
    size = (f"{config.data_source}; learning curves over n_train ∈ {list(config.curve_sizes)}, validation "
            f"{config.n_val}, test {config.n_test} per family (theirs: Kimberlina-Leakage ~16k, Marmousi 24k, "
            "Salt 120 training samples); their datasets differ from ours, so verdicts compare kinds of result, "
            "not values")
    claims += _ridge_claims(config, metrics, arrays, size)
    claims += _network_claims(config, metrics, arrays, size)
    return claims


def _ridge_claims(config: LinearityConfig, metrics: dict[str, Any], arrays, size: str) -> list[Claim]:
    p = config.profile
    claims = []
    curves = metrics["curves"]
    fams = list(curves)
    t11 = paper_table11()
    theirs11 = "Table 11, test MAE / (ymax − ymin) and test MSE / train MSE: " + "; ".join(
        f"{d}: {100 * v['rel_mae']:.1f} %, ×{v['mse_ratio']:.1f}" for d, v in t11.items()) + \
        " (Kimberlina-Reservoir is their EM problem, shown for its gap; no R² is given)"

    # 1. near-linearity, read off the learning curves
    verdicts = near_linear_verdicts(metrics)
    converged = [f for f, (v, _) in verdicts.items() if v != "inconclusive"]
    linear = [f for f in converged if verdicts[f][0] == "holds"]
    rows = []
    for fam in fams:
        r = curve_at(metrics, fam)
        rows.append(f"{fam} at n = {r['n']}: train / test R² {r['train']['r2']:.3f} / {r['test']['r2']:.3f}, skill "
                    f"{r['skill']:.3f}, test MAE / range {100 * r['test']['rel_mae']:.1f} % (training-mean predictor "
                    f"{100 * r['mean_predictor']['rel_mae']:.1f} %), test / train MSE ×{r['test']['mse'] / r['train']['mse']:.1f}, "
                    f"α = {_alpha(r['alpha'], ALPHAS)} — {verdicts[fam][1]}")
    lin_input = {f: metrics.get("ablations", {}).get(f, {}).get("variants", {}).get("linear-input") for f in fams}
    if all(lin_input.values()):
        rows.append("with linear input amplitudes instead of sign·log1p (an ablation, not judged): test R² "
                    + ", ".join(f"{f} {lin_input[f]['test']['r2']:.3f}" for f in fams) + " at the largest n")
    claims.append(Claim(
        id="invlint.near-linear", paper="InvLINT",
        statement="After the sine and Gaussian integral transforms, seismic data and velocity are related by a "
                  "near-linear map: a ridge regression Y ≈ A U fits held-out data closely.",
        theirs=theirs11, ours="; ".join(rows),
        rule=f"read off each family's learning curve: where the fit has converged (train − test R² < {GAP_CLOSED:g} "
             f"at the largest n, or test R² flat to {FLAT_OVER_DOUBLING:g} over the last doubling) the relation is "
             f"near-linear if test R² ≥ {NEAR_LINEAR_SKILL:g} (a linear map explains 90 % of the held-out variance; "
             "the paper gives no R² threshold); a family whose curve has not converged is inconclusive at this "
             "scale; holds if every family converged and is near-linear, partly if at least one converged family "
             "is, does not hold if every converged family falls short; not judged if none converged; judged at "
             "cpu and full",
        verdict=judge(p, len(linear) == len(fams), bool(linear)) if converged else judge(p, False, judged_at=()),
        chapter=CHAPTER, profile=p, setting=size + f"; target y = c (normalised velocity), N = {config.n_sine} sines "
                                                  f"per shot, M = {config.n_gauss} Gaussians; input: sign·log1p, "
                                                  "min-max to [-1, 1]"))

    # 2. compression helps generalisation when samples are scarce (a finding: the raw-data control)
    wins, rows = [], []
    for fam in fams:
        sine, raw = curves[fam]["curves"]["sine"], curves[fam]["curves"]["raw-data"]
        wins += [fam] if sine[0]["test"]["r2"] > raw[0]["test"]["r2"] else []
        caught = next((r["n"] for s, r in zip(sine, raw) if r["test"]["r2"] >= s["test"]["r2"]), None)
        rows.append(f"{fam}: test R² sines {sine[0]['test']['r2']:.3f} vs raw records {raw[0]['test']['r2']:.3f} at "
                    f"n = {sine[0]['n']}, {sine[-1]['test']['r2']:.3f} vs {raw[-1]['test']['r2']:.3f} at n = {sine[-1]['n']}"
                    + (f" (the raw records catch up at n = {caught})" if caught else " (the sines ahead at every n)"))
    raw_d = curves[fams[0]]["raw_features"]
    claims.append(Claim(
        id="invlint.compression-generalises", paper="InvLINT",
        statement="(Ours, a control the paper lacks.) When training samples are scarce, a linear map from the "
                  "sine-transformed records generalises better than one from the raw records; the transform "
                  "compresses, it cannot create linearity (U is linear in the raw data).",
        theirs="not in the paper: it fits the transformed data only",
        ours="; ".join(rows),
        rule=f"ridge on the {raw_d:,} raw normalised record values per sample (α chosen on validation, the same "
             "splits) against ridge on U, along the learning curve; holds if U's test R² is higher at the "
             "curve's smallest n on every family (where the sample size binds), partly on at least one; where the "
             "raw records catch up is reported; judged at cpu and full",
        verdict=judge(p, len(wins) == len(fams), bool(wins)), chapter=CHAPTER, profile=p, setting=size))

    # 3. what the sine transform is: a rotation of the time axis (a finding)
    rot = {f: m.get("rotation") for f, m in curves.items() if m.get("rotation")}
    spec = sine_spectrum(1000, 2048)
    sv_values = sorted({round(float(v), 1) for v in spec["singular_values"]})
    if rot:
        rel = {f: r["max_abs_diff"] / r["max_abs_pred"] for f, r in rot.items()}
        same = all(v < ROTATION_TOLERANCE for v in rel.values())
        claims.append(Claim(
            id="invlint.sine-rotation", paper="InvLINT",
            statement="(Ours.) With N ≥ nt − 2 sine kernels per shot, U is an orthogonal rotation of each shot's "
                      "receiver-averaged trace, scaled per component; ridge on U is ridge on the traces with a "
                      "re-weighted penalty.",
            theirs="§4.1.2: N = 2048 sine kernels per shot on nt = 1,000 (no analysis of what they span); at that "
                   f"size, in closed form: rank {len(spec['components'])}, singular values "
                   + " and ".join(f"{v:g}" for v in sv_values) + " (√999, √1498.5)",
            ours="; ".join(f"{f}: ridge on U (α = {r['alpha']:g}) vs on the interior trace samples (α·2/P = "
                           f"{r['alpha_traces']:.3g}): largest test-prediction difference {r['max_abs_diff']:.2g} of "
                           f"{r['max_abs_pred']:.3g} ({rel[f]:.1e})" for f, r in rot.items()),
            rule=f"holds if the two ridge fits' test predictions agree to {ROTATION_TOLERANCE:g} of the largest "
                 "prediction on every family (float32 transforms); judged at cpu and full",
            verdict=judge(p, same), chapter=CHAPTER, profile=p,
            setting=f"N = nt − 2 = {config.n_sine} unique sines per shot at nt {config.data_nt}"))

    # 4. random time kernels at N ≪ nt
    counts = curves[fams[0]].get("control_counts", [])
    if counts:
        better, rows = [], []
        for fam in fams:
            parts = []
            for N in counts:
                s, r = curve_at(metrics, fam, f"sine-{N}"), curve_at(metrics, fam, f"random-{N}")
                better += [(fam, N)] if s["test"]["r2"] > r["test"]["r2"] else []
                parts.append(f"N = {N}: sines {s['test']['r2']:.3f} vs random {r['test']['r2']:.3f}")
            rows.append(f"{fam}: " + ", ".join(parts))
        total = len(fams) * len(counts)
        claims.append(Claim(
            id="invlint.sines-beat-random", paper="InvLINT",
            statement="At N ≪ nt, the first N sine kernels carry more of the linear relation than N random time "
                      "kernels.",
            theirs="§3.1: the sine kernels are the chosen basis (random kernels are not tried)",
            ours="test R² at the largest n per shot count: " + "; ".join(rows),
            rule="ridge on N sine kernels against N Gaussian random time kernels of the same receiver-averaged "
                 "traces (α chosen on validation); holds if the sines fit better at every N and family, partly at "
                 "half; at N ≥ nt − 2 both span the whole time axis, so only N ≪ nt tests anything; judged at cpu "
                 "and full",
            verdict=judge(p, len(better) == total, 2 * len(better) >= total), chapter=CHAPTER, profile=p,
            setting=size))

    # 5. the 1(x) kernel discards lateral information
    lateral = [f for f in fams if not f.startswith("flatvel")]
    gains, rows = [], []
    for fam in fams:
        s, x = curve_at(metrics, fam), curve_at(metrics, fam, "x-kernel")
        gains += [fam] if fam in lateral and x["test"]["r2"] > s["test"]["r2"] else []
        rows.append(f"{fam}: test R² receiver average {s['test']['r2']:.3f} vs sin(nπt)cos(nπx) {x['test']['r2']:.3f}")
    claims.append(Claim(
        id="invlint.lateral-information", paper="InvLINT",
        statement="The receiver-averaging 1(x) kernel discards lateral information: an x-dependent kernel fits "
                  "better on families whose maps vary laterally.",
        theirs="Table 2 (Marmousi): sin(nπt)cos(nπx) MAE 128.33 vs the default sine's 136.67",
        ours="; ".join(rows) + f" (at n = {curve_at(metrics, fams[0])['n']})",
        rule="ridge on U of each kernel (N = n_sine), α chosen on validation; holds if sin(nπt)cos(nπx) has the "
             "higher test R² on every laterally varying family (all but FlatVel), partly on at least one; judged "
             "at cpu and full",
        verdict=judge(p, bool(lateral) and len(gains) == len(lateral), bool(gains)) if lateral
        else judge(p, False, judged_at=()),
        chapter=CHAPTER, profile=p, setting=size))

    # 6. few essential dimensions (Fig. 5), at the largest n, and their order
    last = {f: curve_at(metrics, f) for f in fams}
    counts_e = {f: r["essential"] for f, r in last.items()}
    few = [f for f, c in counts_e.items() if c < 100]
    robust = [f for f in few if last[f]["essential_1e-3"] < 100]
    by_n = {f: ", ".join(f"{r['n']}: {r['essential']}" for r in curves[f]["curves"]["sine"]) for f in fams}
    bound_ok = min(r["rank_bound"] for r in last.values()) > 150
    claims.append(Claim(
        id="invlint.few-dimensions", paper="InvLINT",
        statement="The linear map A has fewer than 100 essential dimensions on every dataset.",
        theirs="Fig. 5: normalised singular values (first 150) fall off within < 100 dimensions on all four datasets",
        ours="; ".join(f"{f}: {counts_e[f]} above {ESSENTIAL_THRESHOLD:g} of at most {last[f]['rank_bound']} "
                       f"(above 1e-3: {last[f]['essential_1e-3']}); by n: {by_n[f]}" for f in fams),
        rule=f"singular values of A fitted at the largest n (α chosen on validation) above {ESSENTIAL_THRESHOLD:g} × "
             "the largest (our threshold: the paper states none); holds if < 100 on every family and still < 100 "
             f"at 1e-3, partly if < 100 at {ESSENTIAL_THRESHOLD:g} on at least half; judged at cpu and full where "
             "the rank bound min(M, D, n − 1) is above 150",
        verdict=judge(p, len(robust) == len(fams), 2 * len(few) >= len(fams)) if bound_ok
        else judge(p, False, judged_at=()),
        chapter=CHAPTER, profile=p, setting=size))

    known = [f for f in fams if f in OPENFWI_INVERSIONNET_MAE]
    if len(known) >= 2:
        order_dims = sorted(known, key=lambda f: counts_e[f])
        order_mae = sorted(known, key=lambda f: OPENFWI_INVERSIONNET_MAE[f])
        hardest = max(known, key=lambda f: OPENFWI_INVERSIONNET_MAE[f])
        claims.append(Claim(
            id="invlint.dimensions-quantify-difficulty", paper="InvLINT",
            statement="The number of essential dimensions quantifies a dataset's difficulty: datasets with more "
                      "of them are harder to invert.",
            theirs="§4.4: \"help us quantify the difficulty of different datasets\" (Kimberlina-Reservoir needs ~10 "
                   "dimensions and the smallest networks)",
            ours=f"essential dimensions {', '.join(f'{f} {counts_e[f]}' for f in order_dims)}; OpenFWI's InversionNet "
                 f"MAE (theirs, 24k samples) {', '.join(f'{f} {OPENFWI_INVERSIONNET_MAE[f]:.4f}' for f in order_mae)}",
            rule="difficulty = OpenFWI's published InversionNet test MAE of the family (the benchmark's, labelled; "
                 "ours exists for two families only); holds if the families ordered by essential dimensions are "
                 "ordered by that MAE, partly if the hardest family has the most dimensions; judged at cpu and full",
            verdict=judge(p, order_dims == order_mae, order_dims[-1] == hardest), chapter=CHAPTER, profile=p,
            setting=size))

    # 7. kernel choice (Tables 2/3/6/7), ridge read-out MAE
    dk, ek = metrics["decoder_kernels"], metrics["encoder_kernels"]
    close = sine_closeness()
    gauss_wins = [f for f, t in dk.items() if _kernel_winners(t)[0] == "gaussian"]
    gauss_ties = [f for f, t in dk.items() if t["gaussian"]["readout_mae_ms"] <= close * min(_kernel_winners(t)[1].values())]
    sine_close, ek_rows = [], []
    for f, t in ek.items():
        best, maes = _kernel_winners(t)
        sine_close += [f] if maes["sin"] <= close * maes[best] else []
        ek_rows.append(f"{f}: best encoder {best} ({maes[best]:.0f} m/s), sine {maes['sin']:.0f} m/s")
    dk_rows = [f"{f}: best decoder kernel {_kernel_winners(t)[0]} ({min(_kernel_winners(t)[1].values()):.0f} m/s), "
               f"Gaussian {t['gaussian']['readout_mae_ms']:.0f} m/s" for f, t in dk.items()]
    holds = len(gauss_wins) == len(dk) and len(sine_close) == len(ek)
    partly = (len(gauss_ties) == len(dk) and dk) or (len(sine_close) == len(ek) and ek)
    claims.append(Claim(
        id="invlint.kernel-choice", paper="InvLINT",
        statement="The Gaussian velocity kernel beats the other decoder kernels; the 1-D sine encoder kernel is "
                  "close to the best encoder kernel (which depends on the dataset).",
        theirs="Tables 3/7: Gaussian best on both datasets; Tables 2/6: best encoder sin(nπt)cos(nπx) on "
               "Marmousi (128.3 vs 136.7), sin(nπt)+sin(nπx) on Kimberlina-Leakage (8.10 vs 8.13)",
        ours="; ".join(dk_rows + ek_rows),
        rule="ridge-only proxy: velocity MAE of the linear read-out of the ridge prediction at the largest n (α "
             "chosen on validation per kernel, scored on test); holds if the Gaussian is the best decoder kernel on "
             f"every family and the sine within {100 * (close - 1):.1f} % of the best encoder kernel (the largest gap "
             "the paper's Tables 2/6 call close) on every family swept; partly if on every family the Gaussian is "
             "the best or within that gap of it, or the sine condition holds; judged at cpu and full",
        verdict=judge(p, holds, bool(partly)), chapter=CHAPTER, profile=p, setting=size))

    # 8. number of kernels (Table 8, Fig. 4)
    near, kc_rows = [], []
    for f, m in metrics["ablations"].items():
        grid = arrays[f"ablations-{f}/grid_readout_mae_ms"]
        nn_, mm = list(m["counts"]), list(m["gauss_counts"])
        default = grid[nn_.index(config.n_sine), mm.index(config.n_gauss)]
        i, j = np.unravel_index(np.nanargmin(grid), grid.shape)
        near += [f] if default <= 1.05 * grid[i, j] else []
        kc_rows.append(f"{f}: default {default:.0f} m/s, best N = {nn_[i]}, M = {mm[j]} ({grid[i, j]:.0f} m/s)")
    claims.append(Claim(
        id="invlint.kernel-count", paper="InvLINT",
        statement="N = 2048 sine and M = 512 Gaussian kernels are an appropriate choice: near the best of the "
                  "N × M grid.",
        theirs="Table 8 (Kimberlina-Leakage): " + "; ".join(f"N={a}, M={b}: {v}" for (a, b), v in PAPER_KERNEL_COUNTS.items()),
        ours="; ".join(kc_rows),
        rule=f"ridge-only proxy (linear read-out MAE, α chosen on validation per cell) over the N × M grid at the "
             f"largest n; our default N is nt − 2 = {config.n_sine} (every distinct sine once: larger N only repeats "
             "components); holds if the default is within 5 % of the grid's best on every family, partly on at "
             "least half; judged at cpu and full",
        verdict=judge(p, len(near) == len(metrics["ablations"]), 2 * len(near) >= len(metrics["ablations"])),
        chapter=CHAPTER, profile=p, setting=size))
    return claims


def _gate(checks: dict, fams: Sequence[str]) -> tuple[list[str], str]:
    """The families of ``fams`` in the trained regime, and the regime reasons to state."""
    inside = [f for f in fams if f in checks and checks[f].in_regime]
    return inside, "; ".join(checks[f].reason for f in fams if f in checks)


def _network_claims(config: LinearityConfig, metrics: dict[str, Any], arrays, size: str) -> list[Claim]:
    p = config.profile
    claims = []
    inv, net = summary(metrics, "invlint"), summary(metrics, "inversionnet")
    fams = [f for f in inv if f in net]
    checks = regime_from_runs(metrics["runs"], fams)
    judged, why = _gate(checks, fams)
    ref = "the baselines chapter's reference InversionNet" if config.reference_baselines else "InversionNet trained here"
    net_setting = (size + f"; InvLINT {config.epochs} epochs (batch {config.batch_size}, AdamW, warm restarts), "
                   f"decoder width {config.decoder_width:g}; {ref} at width {config.inversionnet_width:g}; "
                   f"{config.n_seeds} seeds each")

    # 9. comparable accuracy (Table 1)
    ratios = {f: inv[f]["mae"] / net[f]["mae"] for f in fams}
    comparable = [f for f in judged if ratios[f] <= COMPARABLE_FACTOR]
    loose = [f for f in judged if ratios[f] <= 1.5]
    claims.append(Claim(
        id="invlint.comparable-accuracy", paper="InvLINT",
        statement="InvLINT is as accurate as InversionNet trained on the same data.",
        theirs="Table 1, MAE InvLINT / InversionNet: " + "; ".join(
            f"{d}: {t['InvLINT'][0]} / {t['InversionNet'][0]} = {t['InvLINT'][0] / t['InversionNet'][0]:.2f}"
            for d, t in PAPER_TABLE1.items()),
        ours="; ".join(f"{f}: {pm(inv[f]['mae'], inv[f]['mae_std'], inv[f]['seeds'])} vs "
                       f"{pm(net[f]['mae'], net[f]['mae_std'], net[f]['seeds'])} = {ratios[f]:.2f}" for f in fams),
        rule=f"normalised test MAE, mean over seeds; holds if InvLINT's is at most {COMPARABLE_FACTOR:g}× "
             "InversionNet's on every family in the trained regime, partly if at most 1.5× on at least half; judged "
             f"at cpu and full on the families whose reference InversionNet is in the trained regime ({why})",
        verdict=judge(p, len(comparable) == len(judged), 2 * len(loose) >= len(judged)) if judged
        else judge(p, False, judged_at=()),
        chapter=CHAPTER, profile=p, setting=net_setting))

    # 10. cost (Table 1, §4.2), at the paper's setting
    c = metrics["costs"]["models"]
    official, ours = c["InversionNet (width 1)"], c["InvLINT"]
    pr, fr = ours["parameters"] / official["parameters"], ours["gflops"] / official["gflops"]
    speed = official["cpu_latency_s"] / ours["cpu_latency_s"]
    paper_pr = {d: t["InvLINT"][3] / t["InversionNet"][3] for d, t in PAPER_TABLE1.items()}
    paper_fr = {d: t["InvLINT"][4] / t["InversionNet"][4] for d, t in PAPER_TABLE1.items()}
    cost_ok = pr <= paper_pr["Marmousi"] and fr <= paper_fr["Marmousi"]
    frozen = config.n_gauss * (len(config.acquisition.source_x) * ours.get("n_sine", config.n_sine) + 1)
    trained = metrics["costs"].get("models_trained", {})
    t_row = ""
    if trained:
        ti, tn = trained["InvLINT"], trained[f"InversionNet (width {config.inversionnet_width:g})"]
        t_row = (f"; as trained here (nt {ti['nt']}, N = {ti['n_sine']}): InvLINT {ti['parameters'] / 1e6:.2f} M "
                 f"parameters, {1e3 * ti['gflops']:.1f} MFLOPs against InversionNet width "
                 f"{config.inversionnet_width:g} {tn['parameters'] / 1e6:.2f} M, {1e3 * tn['gflops']:.0f} MFLOPs")
    claims.append(Claim(
        id="invlint.cost", paper="InvLINT",
        statement="InvLINT needs ~6 % of InversionNet's parameters and ~5 % of its FLOPs, and runs 16× faster "
                  "on a CPU at batch 1.",
        theirs="parameters " + ", ".join(f"{d} {100 * r:.1f} %" for d, r in paper_pr.items())
               + "; FLOPs " + ", ".join(f"{d} {100 * r:.1f} %" for d, r in paper_fr.items())
               + f"; CPU latency {PAPER_LATENCY_SPEEDUP:g}× (5 vs 80 ms)",
        ours=f"trainable parameters {ours['parameters'] / 1e6:.2f} M / {official['parameters'] / 1e6:.2f} M = "
             f"{100 * pr:.1f} % (with the frozen ridge map A, {frozen / 1e6:.2f} M values more, "
             f"{100 * (ours['parameters'] + frozen) / official['parameters']:.1f} %); "
             f"FLOPs {1e3 * ours['gflops']:.1f} M / {1e3 * official['gflops']:.0f} M = {100 * fr:.1f} % "
             f"(of which the frozen encoder {1e3 * ours['encoder_gflops']:.1f} M); latency "
             f"{1e3 * ours['cpu_latency_s']:.1f} vs {1e3 * official['cpu_latency_s']:.1f} ms = {speed:.1f}×" + t_row,
        rule="at the paper's setting: the official-width InversionNet and InvLINT with N = 2048 on full-rate OpenFWI "
             "records (5 shots × 1000 steps × 70 receivers → 70×70, as Marmousi's); parameters are the trainable "
             "ones (the paper's InvLINT counts, e.g. 1.45 M on Marmousi, cannot include its map A); holds if the "
             "parameter and FLOP ratios are at most the paper's on Marmousi and the single-thread latency speed-up "
             f"is at least {PAPER_LATENCY_SPEEDUP / 2:g}× (half the paper's); partly if the ratios hold; judged at "
             "cpu and full (architecture properties, the same at both)",
        verdict=judge(p, cost_ok and speed >= PAPER_LATENCY_SPEEDUP / 2, cost_ok),
        chapter=CHAPTER, profile=p,
        setting="FLOPs counted by torch's FlopCounterMode (matrix products and convolutions, a multiply-add = 2), "
                "integral transforms included, for both networks; the paper's counts (190 M for InversionNet on "
                "Marmousi) follow another convention, which their ratio shares, so only ratios compare; latency: "
                "median of single-thread forward passes on this run's CPU"))

    # 11. training time, each network's own recipe to its reported accuracy
    speedups = {f: net[f]["train_total_s"] / inv[f]["train_total_s"] for f in fams}
    fast = [f for f in judged if speedups[f] >= PAPER_TRAIN_SPEEDUP / 2]
    claims.append(Claim(
        id="invlint.training-speed", paper="InvLINT",
        statement="InvLINT trains ~9× faster than InversionNet.",
        theirs=f"§4.2: {PAPER_TRAIN_SPEEDUP:g}× (1 h vs 9 h on Marmousi, one GPU)",
        ours="; ".join(f"{f}: {seconds(inv[f]['train_total_s'])} (ridge fit included) vs "
                       f"{seconds(net[f]['train_total_s'])} = {speedups[f]:.1f}×" for f in fams),
        rule="wall time of each network's full training recipe on this machine (InvLINT: the ridge fit plus "
             f"{config.epochs} epochs; InversionNet: its recipe), mean over seeds; holds if InvLINT is at least "
             f"{PAPER_TRAIN_SPEEDUP / 2:g}× faster (half the paper's) on every family in the trained regime, partly "
             f"if faster on every one; judged at cpu and full ({why})",
        verdict=judge(p, len(fast) == len(judged), all(speedups[f] > 1 for f in judged)) if judged
        else judge(p, False, judged_at=()),
        chapter=CHAPTER, profile=p, setting=net_setting))

    claims += _decoder_claims(config, metrics, checks, net, net_setting)

    # 14. against classic FWI (§4.5)
    fwi_statement = "InvLINT is more accurate than multiscale classic FWI, at a fraction of the time per sample."
    fwi_theirs = "§4.5 MAE InvLINT vs FWI: " + "; ".join(f"{d}: {a} vs {b}" for d, (a, b) in PAPER_FWI.items())
    fwi = {f: m for f, m in metrics["fwi"].items() if f in inv}
    if not fwi:
        claims.append(Claim(
            id="invlint.beats-fwi", paper="InvLINT", statement=fwi_statement, theirs=fwi_theirs,
            ours="classic FWI not run at this profile", rule="needs classic FWI on a trained family",
            verdict=judge(p, False, judged_at=()), chapter=CHAPTER, profile=p,
            setting="classic FWI is off in this run"))
        return claims
    rows, wins, partial = learned_vs_fwi(fwi, {
        fam: ([float(np.mean(arrays[f"invlint-{fam}-s{s}/test_mae_per_sample"][:int(f["n"])]) * VELOCITY_SCALE)
               for s in config.seeds if f"invlint-{fam}-s{s}/test_mae_per_sample" in arrays],
              inv[fam]["inference_s_per_sample"]) for fam, f in fwi.items()})
    fwi_judged = [f for f in fwi if f in judged]
    claims.append(Claim(
        id="invlint.beats-fwi", paper="InvLINT", statement=fwi_statement, theirs=fwi_theirs,
        ours="InvLINT vs FWI on the same test maps, MAE and time per sample (inference vs inversion; training not "
             "counted): " + "; ".join(rows),
        rule="holds if on every family InvLINT's mean + std MAE over seeds is below FWI's and its time per sample is "
             "below FWI's, partly if its mean MAE is below on at least one; judged at cpu and full where the "
             f"reference InversionNet is in the trained regime ({why})",
        verdict=judge(p, wins == len(fwi), partial >= 1) if fwi_judged else judge(p, False, judged_at=()),
        chapter=CHAPTER, profile=p,
        setting=", ".join(f"{f}: {int(m['n'])}" for f, m in fwi.items()) + " test maps; FWI as the baselines "
                "chapter runs it (multiscale Adam from the true model smoothed)"))
    return claims


def _decoder_claims(config: LinearityConfig, metrics: dict[str, Any], checks: dict, net: dict, setting: str) -> list[Claim]:
    """Tables 4/9 (decoder architecture), 5/10 (depth and unshared layers) and InvLINT with InversionNet's decoder."""
    p = config.profile
    fams = [f for f in config.variant_families if f in metrics["curves"]]
    tables = {f: variant_summary(metrics, f) for f in fams}
    judged, why = _gate(checks, fams)

    def mae(f: str, v: str) -> float | None:
        key = "default" if v == "transformer" else f"decoder:{v}"
        row = tables[f].get(key)
        return None if row is None else row["mae"]

    def row_text(f: str, names: Sequence[str]) -> str:
        t = tables[f]
        return f"{f}: " + ", ".join(
            f"{n} {pm(t[k]['mae'], t[k]['mae_std'], t[k]['seeds'])}" for n in names
            for k in (["default"] if n == "transformer" else [f"decoder:{n}"]) if k in t)

    def beats(a: float, b: float) -> bool:     # a better than b, beyond a tie
        return a < (1 - DECODER_TIE) * b

    out = []
    # 12a. architecture (Tables 4/9)
    need = ("conv2", "deconv1", "deconv-conv5")
    have = [f for f in fams if all(mae(f, v) is not None for v in need + ("transformer",))]
    ok = [f for f in have if f in judged and beats(mae(f, "transformer"), mae(f, "conv2"))
          and beats(mae(f, "transformer"), mae(f, "deconv1")) and beats(mae(f, "deconv-conv5"), mae(f, "transformer"))]
    part = [f for f in have if f in judged and (beats(mae(f, "transformer"), mae(f, "conv2")) or
                                                beats(mae(f, "deconv-conv5"), mae(f, "transformer")))]
    out.append(Claim(
        id="invlint.decoder-architecture", paper="InvLINT",
        statement="A transformer block + linear layer decodes better than shallow conv/deconv decoders; "
                  "InversionNet's deep deconv decoder is better still, at 9× the parameters.",
        theirs="Table 4 (Marmousi) MAE: transformer 136.7, conv×2 140.7, deconv×1 168.0, (deconv+conv)×5 126.6; "
               "Table 9 (Kimberlina-Leakage): 8.13, 13.42, 21.32, 6.86",
        ours="normalised test MAE: " + ("; ".join(row_text(f, ("transformer",) + need) for f in have)
                                        or "the decoders this claim compares were not all trained"),
        rule=f"mean over seeds; a decoder beats another where its MAE is lower by more than {100 * DECODER_TIE:g} % "
             "(smaller gaps are ties); holds if on every variant family in the trained regime the transformer beats "
             "conv×2 and deconv×1 and (deconv+conv)×5 beats the transformer, partly if either ordering holds on one; "
             f"judged at cpu and full ({why})",
        verdict=judge(p, bool(have) and len(ok) == len(have), bool(part)) if have and set(have) <= set(judged)
        else judge(p, False, judged_at=()),
        chapter=CHAPTER, profile=p, setting=setting + f"; conv decoders at width {config.decoder_width:g}"))

    # 12b. depth and unshared layers (Tables 5/10)
    need = ("unshared-linear", "transformer2", "transformer3")
    have = [f for f in fams if all(mae(f, v) is not None for v in need + ("transformer",))]
    unshared_no_help = [f for f in have if not beats(mae(f, "unshared-linear"), mae(f, "transformer"))]
    deeper_helps = [f for f in have if mae(f, "transformer3") < mae(f, "transformer")]
    out.append(Claim(
        id="invlint.decoder-depth", paper="InvLINT",
        statement="Unshared linear layers after the transformer do not help; a deeper transformer helps a little.",
        theirs="Table 5 (Marmousi) MAE: transformer 136.67, unshared linear 138.82, ×2 134.24, ×3 132.19; Table 10 "
               "(Kimberlina-Leakage): 8.13, 8.14, 8.24, 8.09",
        ours="normalised test MAE: " + ("; ".join(row_text(f, ("transformer",) + need) for f in have)
                                        or "the decoders this claim compares were not all trained"),
        rule=f"mean over seeds; holds if on every variant family unshared layers do not beat the transformer by more "
             f"than {100 * DECODER_TIE:g} % and three blocks have a lower MAE than one, partly if either; judged at "
             f"cpu and full on families in the trained regime ({why})",
        verdict=judge(p, len(unshared_no_help) == len(have) and len(deeper_helps) == len(have),
                      bool(unshared_no_help or deeper_helps)) if have and set(have) <= set(judged)
        else judge(p, False, judged_at=()),
        chapter=CHAPTER, profile=p, setting=setting))

    # 13. InvLINT with InversionNet's decoder against InversionNet
    have = [f for f in fams if mae(f, "deconv-conv5") is not None and f in net]
    rows, wins, partial = [], 0, 0
    for f in have:
        t = tables[f]["decoder:deconv-conv5"]
        n = net[f]
        wins += t["mae"] + t["mae_std"] < n["mae"]
        partial += t["mae"] < n["mae"]
        rows.append(f"{f}: InvLINT + (deconv+conv)×5 {pm(t['mae'], t['mae_std'], t['seeds'])} vs InversionNet "
                    f"{pm(n['mae'], n['mae_std'], n['seeds'])}")
    out.append(Claim(
        id="invlint.inversionnet-decoder", paper="InvLINT",
        statement="InvLINT's encoder with InversionNet's decoder clearly outperforms InversionNet.",
        theirs="§4.4 (Marmousi): MAE 126.6 vs 149.7",
        ours="normalised test MAE: " + ("; ".join(rows) or "the (deconv+conv)×5 variant was not trained"),
        rule=f"both decoders at width {config.decoder_width:g} vs InversionNet at {config.inversionnet_width:g}; holds "
             "if InvLINT's mean + std is below InversionNet's mean on every variant family, partly if its mean is "
             f"below on one; judged at cpu and full in the trained regime ({why})",
        verdict=judge(p, bool(have) and wins == len(have), partial >= 1) if have and set(have) <= set(judged)
        else judge(p, False, judged_at=()),
        chapter=CHAPTER, profile=p, setting=setting))
    return out
