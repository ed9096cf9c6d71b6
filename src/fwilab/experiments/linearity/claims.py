"""The InvLINT chapter's claims: the paper's published numbers, the thresholds of our rules,
:func:`judge_claims`, and the summaries the claims and the notebook share."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...claims import Claim, judge
from ...metrics import VELOCITY_SCALE, mean_std
from ...report import learned_vs_fwi, pm, seconds
from .config import ALPHAS, CHAPTER, CONTROL_ALPHAS, ESSENTIAL_THRESHOLD, LinearityConfig

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
}
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
#: the control must fit "clearly worse": its test MSE at least this many times the transform's
CONTROL_FACTOR: float = 1.5
#: comparable accuracy: InvLINT's mean MAE at most this many times InversionNet's (paper: 0.86-0.95×)
COMPARABLE_FACTOR: float = 1.10


# =================================================================================================
# Summaries and claims


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


def variant_table(metrics: dict[str, Any], family: str, seed: int) -> dict[str, dict[str, float]]:
    """Test metrics of the default model (seed ``seed``) and every trained variant on one family."""
    return {r["variant"]: r for r in metrics["runs"]
            if r["model"] == "invlint" and r["family"] == family and r["seed"] == seed}


def _alpha(alpha: float, grid: Sequence[float] = ALPHAS) -> str:
    """A chosen ridge penalty, flagged when it sits on the edge of the grid tried (the best may lie beyond)."""
    edge = " (grid edge)" if alpha in (min(grid), max(grid)) else ""
    return f"{alpha:g}{edge}"


def _paper_rel_mae() -> dict[str, float]:
    return {d: t["test"][0] / t["test"][2] for d, t in PAPER_TABLE11.items()}


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


def judge_claims(config: LinearityConfig, metrics: dict[str, Any], arrays: dict[str, np.ndarray]) -> list[Claim]:
    p = config.profile
    claims: list[Claim] = []
    size = (f"{config.data_source}, {config.n_train} / {config.n_val} / {config.n_test} train / validation / test "
            f"samples per family (theirs: Kimberlina-Leakage ~16k, Marmousi 24k, Salt 120 training samples); "
            "their datasets differ from ours, so ratios and rankings are compared")
    lin = metrics["linearity"]

    # 1. near-linearity (Table 11) with a control
    paper_rel = _paper_rel_mae()
    bound = max(paper_rel.values())
    rows, ok, control_worse = [], 0, 0
    for fam, m in lin.items():
        t = m["c"]["best"]["test"]
        raw = m["controls"]["raw-data"]["test"]
        rnd = m["controls"]["random-kernels"]["test"]
        ok += t["rel_mae"] <= bound
        control_worse += raw["mse"] >= CONTROL_FACTOR * t["mse"]
        rows.append(f"{fam}: test MAE {t['mae']:.2f} of range {t['y_range']:.1f} ({100 * t['rel_mae']:.1f} %), "
                    f"R² {t['r2']:.3f} (α = {_alpha(m['c']['best']['alpha'])}; at α = 1: R² "
                    f"{m['c']['alpha1']['test']['r2']:.3f}); raw-data control R² {raw['r2']:.3f}, "
                    f"MSE ×{raw['mse'] / t['mse']:.2f}; random time kernels R² {rnd['r2']:.3f} "
                    f"(α = {_alpha(m['controls']['random-kernels']['alpha'], CONTROL_ALPHAS)})")
    n = len(lin)
    claims.append(Claim(
        id="invlint.near-linear", paper="InvLINT",
        statement="After the sine and Gaussian integral transforms, seismic data and velocity are related by a "
                  "near-linear map: a ridge regression Y ≈ A U fits held-out data closely.",
        theirs="Table 11, test MAE / (ymax − ymin): " + "; ".join(f"{d}: {100 * r:.1f} %" for d, r in paper_rel.items()),
        ours="; ".join(rows),
        rule=f"holds if on every family the test MAE / (ymax − ymin) of the ridge fit (α chosen on validation) is "
             f"at most the paper's largest ({100 * bound:.1f} %, Marmousi) and the same regression on the raw, "
             f"untransformed data has at least {CONTROL_FACTOR:g}× its test MSE (U is linear in the raw data, so "
             "this control tests whether the transform's compression generalises better, not linearity itself; "
             "the random time kernels span nearly the same time functions as the sines when N ≥ nt, so they are "
             "shown, not judged); partly if the first holds on at "
             f"least half the families; judged at cpu and full (a ridge fit's held-out error is an honest measure "
             f"from a few hundred samples: the paper's Salt has 120)",
        verdict=judge(p, ok == n and control_worse == n, 2 * ok >= n),
        chapter=CHAPTER, profile=p, setting=size + f"; target y = c (normalised velocity), N = {config.n_sine}, "
                                                  f"M = {config.n_gauss}; input: normalised seismic in [-1, 1]"))

    # 2. few essential dimensions (Fig. 5)
    counts = {fam: m["c"]["essential_alpha1"] for fam, m in lin.items()}
    bounds = {fam: m["c"]["rank_bound"] for fam, m in lin.items()}
    few = [fam for fam, c in counts.items() if c < 100]
    # the paper names no threshold: a count below 100 that holds only at ours is threshold-dependent
    lower = {fam: m["c"]["essential_by_threshold"].get("0.001") for fam, m in lin.items()}
    robust = [fam for fam in few if lower[fam] is not None and lower[fam] < 100]
    claims.append(Claim(
        id="invlint.few-dimensions", paper="InvLINT",
        statement="The linear map A has fewer than 100 essential dimensions on every dataset.",
        theirs="Fig. 5: normalised singular values (first 150) fall off within < 100 dimensions on all four datasets",
        ours="; ".join(f"{fam}: {c} of at most {bounds[fam]} above {ESSENTIAL_THRESHOLD:g}"
                       f" (y = c², {lin[fam]['c2']['essential_alpha1']}; above 1e-3: "
                       f"{lin[fam]['c']['essential_by_threshold'].get('0.001', '–')}; test R² of this A "
                       f"{lin[fam]['c']['alpha1']['test']['r2']:.2f})" for fam, c in counts.items()),
        rule=f"count of singular values of A (α = 1, y = c) above {ESSENTIAL_THRESHOLD:g} × the largest (our "
             "threshold: the paper states none, and the count grows as it falls); holds if < 100 on every "
             "family at this threshold and still < 100 at 1e-3 (not an artefact of the threshold), partly if "
             f"< 100 at {ESSENTIAL_THRESHOLD:g} on at least half; judged at cpu and full, where the rank "
             "bound min(M, n_train − 1) is well above 100, so a count below 100 is not forced by the sample size",
        verdict=judge(p, len(robust) == len(counts), 2 * len(few) >= len(counts)) if min(bounds.values()) > 150
        else judge(p, False, judged_at=()),
        chapter=CHAPTER, profile=p, setting=size))

    # 3. comparable accuracy (Table 1)
    inv, net = summary(metrics, "invlint"), summary(metrics, "inversionnet")
    fams = [f for f in inv if f in net]
    ratios = {f: inv[f]["mae"] / net[f]["mae"] for f in fams}
    comparable = [f for f, r in ratios.items() if r <= COMPARABLE_FACTOR]
    loose = [f for f, r in ratios.items() if r <= 1.5]
    claims.append(Claim(
        id="invlint.comparable-accuracy", paper="InvLINT",
        statement="InvLINT is as accurate as InversionNet trained on the same data.",
        theirs="Table 1, MAE InvLINT / InversionNet: " + "; ".join(
            f"{d}: {t['InvLINT'][0]} / {t['InversionNet'][0]} = {t['InvLINT'][0] / t['InversionNet'][0]:.2f}"
            for d, t in PAPER_TABLE1.items()),
        ours="; ".join(f"{f}: {pm(inv[f]['mae'], inv[f]['mae_std'], inv[f]['seeds'])} vs "
                       f"{pm(net[f]['mae'], net[f]['mae_std'], net[f]['seeds'])} = {ratios[f]:.2f}" for f in fams),
        rule=f"normalised test MAE, mean over {config.n_seeds} seed(s); holds if InvLINT's is at most "
             f"{COMPARABLE_FACTOR:g}× InversionNet's on every family, partly if at most 1.5× on at least half; "
             "judged at the full profile only (the cpu run trains both for a few epochs on 400 samples, "
             "InversionNet at width 0.25: an equal-budget snapshot, not the converged comparison the paper makes)",
        verdict=judge(p, len(comparable) == len(fams) and fams, 2 * len(loose) >= len(fams), judged_at=("full",)),
        chapter=CHAPTER, profile=p,
        setting=size + f"; {config.epochs} epochs each, InversionNet width {config.inversionnet_width:g}"))

    # 4. cost (Table 1, §4.2)
    c = metrics["costs"]["models"]
    official, ours = c["InversionNet (width 1)"], c["InvLINT"]
    pr, fr = ours["parameters"] / official["parameters"], ours["gflops"] / official["gflops"]
    speed = official["cpu_latency_s"] / ours["cpu_latency_s"]
    paper_pr = {d: t["InvLINT"][3] / t["InversionNet"][3] for d, t in PAPER_TABLE1.items()}
    paper_fr = {d: t["InvLINT"][4] / t["InversionNet"][4] for d, t in PAPER_TABLE1.items()}
    # the paper's seismic dataset with our geometry (5 shots × 1000 steps × 70 receivers → 70 × 70)
    cost_ok = pr <= paper_pr["Marmousi"] and fr <= paper_fr["Marmousi"]
    # the frozen ridge map A [M, shot·N] and its bias: stored with the model, not trained
    frozen = config.n_gauss * (len(config.acquisition.source_x) * config.n_sine + 1)
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
             f"{1e3 * ours['cpu_latency_s']:.1f} vs {1e3 * official['cpu_latency_s']:.1f} ms = {speed:.1f}×",
        rule="against the official-width InversionNet on our acquisition (5 shots × 1000 steps × 70 receivers → "
             "70×70, as Marmousi's); parameters are the trainable ones (the paper's InvLINT counts, e.g. "
             "1.45 M on Marmousi, cannot include its map A either: M × shots·N values, millions at N = 2048, "
             "M = 512); holds if the parameter and "
             "FLOP ratios are at most the paper's on Marmousi "
             f"and the single-thread latency speed-up is at least {PAPER_LATENCY_SPEEDUP / 2:g}× "
             "(half the paper's); partly if the ratios hold; judged at cpu and full (these depend on the "
             "architectures and the OpenFWI geometry only, the same at both; smoke uses a shorter record)",
        verdict=judge(p, cost_ok and speed >= PAPER_LATENCY_SPEEDUP / 2, cost_ok),
        chapter=CHAPTER, profile=p,
        setting="FLOPs counted by torch's FlopCounterMode (matrix products and convolutions, a multiply-add = 2), "
                "integral transforms included, for both networks (the paper's InversionNet count, 190 M on "
                "Marmousi, follows another convention, so only ratios compare); latency: median of "
                "single-thread forward passes on this run's CPU"))

    # 5. training time to the same epoch budget
    speedups = {f: net[f]["train_total_s"] / inv[f]["train_total_s"] for f in fams}
    fast = [f for f, s in speedups.items() if s >= PAPER_TRAIN_SPEEDUP / 2]
    claims.append(Claim(
        id="invlint.training-speed", paper="InvLINT",
        statement="InvLINT trains ~9× faster than InversionNet.",
        theirs=f"§4.2: {PAPER_TRAIN_SPEEDUP:g}× (1 h vs 9 h on Marmousi, one GPU)",
        ours="; ".join(f"{f}: {seconds(inv[f]['train_total_s'])} (encoder fit included) vs {seconds(net[f]['train_total_s'])} "
                       f"= {speedups[f]:.1f}×" for f in fams),
        rule=f"wall time of {config.epochs} epochs (InvLINT: the ridge fit plus decoder training), mean over seeds; "
             f"holds if InvLINT is at least {PAPER_TRAIN_SPEEDUP / 2:g}× faster (half the paper's) on every family, "
             "partly if faster on every family; judged at the full profile only (InversionNet trains at full "
             "width on a GPU there; the cpu run's width-0.25 network is not the paper's baseline)",
        verdict=judge(p, len(fast) == len(fams) and fams, all(s > 1 for s in speedups.values()), judged_at=("full",)),
        chapter=CHAPTER, profile=p,
        setting=f"InvLINT batch {config.batch_size}, InversionNet batch {config.inversionnet_batch_size} "
                f"(the baselines recipe); same epochs and samples"))

    # 6. kernel choice (Tables 2/3/6/7), ridge read-out MAE
    dk = metrics["decoder_kernels"]
    gauss_wins = [f for f, t in dk.items() if _kernel_winners(t)[0] == "gaussian"]
    ek = metrics["encoder_kernels"]
    sine_close = []
    ek_rows = []
    close = sine_closeness()
    for f, t in ek.items():
        best, maes = _kernel_winners(t)
        sine_close += [f] if maes["sin"] <= close * maes[best] else []
        ek_rows.append(f"{f}: best encoder {best} ({maes[best]:.0f} m/s), sine {maes['sin']:.0f} m/s")
    dk_rows = [f"{f}: best decoder kernel {_kernel_winners(t)[0]} ({_kernel_winners(t)[1][_kernel_winners(t)[0]]:.0f}"
               f" m/s), Gaussian {t['gaussian']['readout_mae_ms']:.0f} m/s" for f, t in dk.items()]
    # one split, no seeds: a Gaussian within the paper's own "close" gap of the best kernel is a tie, not a loss
    gauss_ties = [f for f, t in dk.items()
                  if t["gaussian"]["readout_mae_ms"] <= close * min(_kernel_winners(t)[1].values())]
    holds = len(gauss_wins) == len(dk) and len(sine_close) == len(ek)
    partly = (len(gauss_ties) == len(dk) and dk) or (len(sine_close) == len(ek) and ek)
    claims.append(Claim(
        id="invlint.kernel-choice", paper="InvLINT",
        statement="The Gaussian velocity kernel beats the other decoder kernels; the 1-D sine encoder kernel is "
                  "close to the best encoder kernel (which depends on the dataset).",
        theirs="Tables 3/7: Gaussian best on both datasets; Tables 2/6: best encoder sin(nπt)cos(nπx) on "
               "Marmousi (128.3 vs 136.7), sin(nπt)+sin(nπx) on Kimberlina-Leakage (8.10 vs 8.13)",
        ours="; ".join(dk_rows + ek_rows),
        rule="ridge-only proxy at every profile: velocity MAE of the linear read-out of the ridge prediction "
             "(α chosen on validation per kernel, scored on test); holds if the Gaussian is the best decoder "
             f"kernel on every family and the sine within {100 * (close - 1):.1f} % of the best encoder kernel "
             "(the largest gap the paper's own Tables 2/6 call close) on every family swept; partly if on every "
             "family the Gaussian is the best or within that gap of it (a tie on one split), or the sine "
             "condition holds; "
             "judged at cpu and full (a ridge fit of a few hundred samples ranks "
             "linear features honestly; the trained decoders of the variants are shown beside it at full)",
        verdict=judge(p, holds, bool(partly)),
        chapter=CHAPTER, profile=p, setting=size))

    # 7. number of kernels (Table 8, Fig. 4)
    kc = metrics["kernel_counts"]
    near = []
    kc_rows = []
    for f, m in kc.items():
        grid = arrays[f"kernel-counts-{f}/grid_readout_mae_ms"]
        counts = list(m["counts"])
        default = grid[counts.index(config.n_sine), counts.index(config.n_gauss)]
        i, j = np.unravel_index(np.nanargmin(grid), grid.shape)
        near += [f] if default <= 1.05 * grid[i, j] else []
        kc_rows.append(f"{f}: default {default:.0f} m/s, best N = {counts[i]}, M = {counts[j]} ({grid[i, j]:.0f} m/s)")
    claims.append(Claim(
        id="invlint.kernel-count", paper="InvLINT",
        statement="N = 2048 sine and M = 512 Gaussian kernels are an appropriate choice: near the best of the "
                  "N × M grid.",
        theirs="Table 8 (Kimberlina-Leakage): " + "; ".join(f"N={a}, M={b}: {v}" for (a, b), v in PAPER_KERNEL_COUNTS.items()),
        ours="; ".join(kc_rows),
        rule="ridge-only proxy (linear read-out MAE, α chosen on validation per cell) over the N × M grid; holds "
             "if the default is within 5 % of the grid's best on every family, partly on at least half; judged "
             "at cpu and full (see invlint.kernel-choice)",
        verdict=judge(p, len(near) == len(kc), 2 * len(near) >= len(kc)),
        chapter=CHAPTER, profile=p, setting=size))

    # 8. decoder architecture (Tables 4/5/9/10), trained variants
    arch_rows, arch_ok, arch_part = [], 0, 0
    fams_v = [f for f in config.variant_families if f in metrics["linearity"]]
    for f in fams_v:
        t = variant_table(metrics, f, config.seed)
        mae = {k.split(":", 1)[-1]: v["mae"] for k, v in t.items() if k == "default" or k.startswith("decoder:")}
        if "default" not in mae or not {"conv2", "deconv1", "deconv-conv5"} <= set(mae):
            continue
        shallow = mae["default"] < mae["conv2"] and mae["default"] < mae["deconv1"]
        deep = mae["deconv-conv5"] < mae["default"]
        arch_ok += shallow and deep
        arch_part += shallow or deep
        arch_rows.append(f"{f}: transformer {mae['default']:.4f}, conv2 {mae['conv2']:.4f}, deconv1 "
                         f"{mae['deconv1']:.4f}, (deconv+conv)×5 {mae['deconv-conv5']:.4f}")
    arch_statement = ("A transformer block + linear layer decodes better than shallow conv/deconv decoders; "
                      "InversionNet's deep deconv decoder is better still, at 9× the parameters.")
    arch_theirs = ("Table 4 (Marmousi) MAE: transformer 136.7, conv×2 140.7, deconv×1 168.0, (deconv+conv)×5 126.6; "
                   "Table 9 (Kimberlina-Leakage): 8.13, 13.42, 21.32, 6.86")
    if arch_rows:
        claims.append(Claim(
            id="invlint.decoder-architecture", paper="InvLINT", statement=arch_statement, theirs=arch_theirs,
            ours="normalised test MAE, one seed: " + "; ".join(arch_rows),
            rule="holds if on every variant family the transformer beats conv×2 and deconv×1 and (deconv+conv)×5 "
                 "beats the transformer, partly if either ordering holds on one; judged at full only (the cpu "
                 "run trains each decoder for a few epochs, which favours the smaller ones)",
            verdict=judge(p, arch_ok == len(arch_rows), arch_part >= 1, judged_at=("full",)),
            chapter=CHAPTER, profile=p, setting=size + f"; {config.epochs} epochs, conv decoders at width "
                                                      f"{config.decoder_width:g}"))
    else:
        claims.append(Claim(
            id="invlint.decoder-architecture", paper="InvLINT", statement=arch_statement, theirs=arch_theirs,
            ours="the decoder variants this claim compares were not all trained in this run",
            rule="needs the variants decoder:conv2, decoder:deconv1 and decoder:deconv-conv5 on a variant family",
            verdict=judge(p, False, judged_at=()), chapter=CHAPTER, profile=p,
            setting=f"variants trained: {list(config.variants)} on {list(config.variant_families)}"))

    # 9. against classic FWI (§4.5)
    fwi_statement = "InvLINT is more accurate than multiscale classic FWI, at a fraction of the time per sample."
    fwi_theirs = "§4.5 MAE InvLINT vs FWI: " + "; ".join(f"{d}: {a} vs {b}" for d, (a, b) in PAPER_FWI.items())
    if not metrics["fwi"]:
        claims.append(Claim(
            id="invlint.beats-fwi", paper="InvLINT", statement=fwi_statement, theirs=fwi_theirs,
            ours="classic FWI not run at this profile", rule="needs classic FWI (fwi_iterations > 0)",
            verdict=judge(p, False, judged_at=()), chapter=CHAPTER, profile=p,
            setting="classic FWI is off in this run (fwi_iterations = 0; at cpu the baselines chapter runs it "
                    "against InversionNet on the same splits)"))
    if metrics["fwi"]:
        rows, wins, partial = learned_vs_fwi(metrics["fwi"], {
            fam: ([float(np.mean(arrays[f"invlint-{fam}-s{s}/test_mae_per_sample"][:int(f["n"])]) * VELOCITY_SCALE)
                   for s in config.seeds if f"invlint-{fam}-s{s}/test_mae_per_sample" in arrays],
                  inv[fam]["inference_s_per_sample"]) for fam, f in metrics["fwi"].items()})
        nf = len(metrics["fwi"])
        claims.append(Claim(
            id="invlint.beats-fwi", paper="InvLINT", statement=fwi_statement, theirs=fwi_theirs,
            ours="InvLINT vs FWI on the same test samples, MAE and time per sample (inference vs inversion; "
                 "training not counted): " + "; ".join(rows),
            rule="holds if on every family InvLINT's mean + std MAE over seeds is below FWI's and its time per "
                 "sample is below FWI's, partly if its mean MAE is below on at least one; judged at full only "
                 "(at cpu FWI gets a handful of steps per band and InvLINT a few epochs: neither is the method "
                 "the paper ran)",
            verdict=judge(p, wins == nf, partial >= 1, judged_at=("full",)),
            chapter=CHAPTER, profile=p,
            setting=f"{config.fwi_samples} test sample(s) per family; FWI {config.fwi_iterations} Adam steps per band "
                    f"{list(config.fwi_frequencies)} Hz from the true model smoothed over {config.fwi_smooth_cells:g} "
                    "cells (the baselines chapter's)"))
    return claims
