"""The data chapter's claims: OpenFWI's amplitude table and our throughput target against our
measurements (:func:`judge_claims`)."""

from __future__ import annotations

from typing import Any

from ...claims import Claim, judge
from ...data.catalog import family
from ...data.stats import MATCH_TOLERANCES, failed_tolerances
from .config import DataConfig

#: tolerance on raw amplitude extremes against OpenFWI's table (theirs are over 24k-60k samples,
#: ours over a few dozen maps, so our extremes are expected slightly inside theirs).
AMPLITUDE_TOLERANCE = 0.15
#: forward-modelling target on one H100 (project issue: ~150 G/s is the copy-bandwidth bound)
GPU_TARGET_GCUPS = 150


def _rel(ours: float, theirs: float) -> float:
    return abs(ours - theirs) / abs(theirs)


def judge_claims(config: DataConfig, metrics: dict[str, Any]) -> list[Claim]:
    p = config.profile
    claims = []
    real_rows = [r for r in metrics["amplitudes"] if r["origin"] == "real" and r["openfwi_min"] is not None]
    errs = [max(_rel(r["raw_min"], r["openfwi_min"]), _rel(r["raw_max"], r["openfwi_max"])) for r in real_rows]
    worst = max(errs) if errs else float("nan")
    claims.append(Claim(
        id="data.amplitude-regime", paper="OpenFWI",
        statement="Our solver on the OpenFWI convention reproduces the raw amplitude range of OpenFWI's data "
                  "(data_min / data_max) on real velocity maps.",
        theirs="; ".join(f"{r['family']}: {r['openfwi_min']} / {r['openfwi_max']}" for r in real_rows),
        ours="; ".join(f"{r['family']}: {r['raw_min']:.2f} / {r['raw_max']:.2f} (n={r['n']})" for r in real_rows),
        rule=f"holds if every extreme is within {AMPLITUDE_TOLERANCE:.0%} of theirs, partly within "
             f"{2 * AMPLITUDE_TOLERANCE:.0%}; worst deviation here {worst:.1%}",
        verdict=judge(p, worst <= AMPLITUDE_TOLERANCE, worst <= 2 * AMPLITUDE_TOLERANCE),
        chapter="data", profile=p,
        setting=f"theirs over 24k-30k samples per dataset; ours over {real_rows[0]['n'] if real_rows else 0} "
                f"real maps per family, nt={config.nt}, nbc={config.nbc}"))
    st = metrics["statistics"]
    failed = {fam: failed_tolerances(s["distances"]) for fam, s in st.items()}
    claims.append(Claim(
        id="data.generated-like-real", paper="fwilab",
        statement="Our generated " + " / ".join(family(f).openfwi_name.replace("_", "-") for f in st)
                  + " maps match the real OpenFWI maps' statistics (layer counts, velocity histogram, vertical "
                  "and lateral gradients, monotonicity).",
        theirs="real OpenFWI test maps (500 per family, shipped)",
        ours="; ".join(f"{fam}: layer-count TV {s['distances']['layer_count_tv']:.3f}, histogram TV "
                       f"{s['distances']['histogram_tv']:.3f}, gradient W1 {s['distances']['gradient_w1']:.2f}, "
                       f"lateral W1 {s['distances']['lateral_w1']:.2f}, monotone-column difference "
                       f"{s['distances']['monotone_fraction_diff']:.3f}" for fam, s in st.items()),
        rule="holds if every distance is under its tolerance "
             + ", ".join(f"{k} < {v}" for k, v in MATCH_TOLERANCES.items())
             + " for every family; partly if one family matches",
        verdict=judge(p, not any(failed.values()), any(not f for f in failed.values())),
        chapter="data", profile=p,
        setting=f"{config.n_stats} generated maps per family, seed {config.seed}"))
    a = metrics["analytic"]
    claims.append(Claim(
        id="data.solver-analytic", paper="fwilab",
        statement="The finite-difference solver converges to the analytic 2-D Green's function.",
        theirs="analytic solution",
        ours=f"relative L2 error {a['error_coarse']:.3%} (dx) -> {a['error_fine']:.3%} (dx/2)",
        rule="holds if the error is below 5 % and shrinks by at least 40 % when dx and dt are halved, partly "
             "if it is below 10 %; judged at every profile (the same check at every size)",
        verdict=judge(p, a["error_coarse"] < 0.05 and a["error_fine"] < 0.6 * a["error_coarse"],
                      a["error_coarse"] < 0.10, judged_at=("smoke", "cpu", "full")),
        chapter="data", profile=p))
    d = metrics["deepwave"]
    claims.append(Claim(
        id="data.solver-deepwave", paper="fwilab",
        statement="The solver agrees with an independent one (deepwave) on a layered model.",
        theirs="deepwave 0.1.0",
        ours=f"normalised cross-correlation {d['ncc']:.4f}",
        rule="holds if NCC > 0.99 in the early window, partly if > 0.95; judged at every profile (the same "
             "check at every size)",
        verdict=judge(p, d["ncc"] > 0.99, d["ncc"] > 0.95, judged_at=("smoke", "cpu", "full")),
        chapter="data", profile=p))
    b = metrics["benchmark"]
    fast = {int(k): e["gcell_updates_per_s"] for k, e in b["paths"]["fast"].items()}
    if b["device_type"] == "cuda":
        top = fast[max(fast)]
        claims.append(Claim(
            id="data.gpu-throughput", paper="fwilab",
            statement="The fast forward path reaches the copy-bandwidth regime on one GPU.",
            theirs=f"no paper's number: this project's target, >= {GPU_TARGET_GCUPS} G cell-updates/s on one H100",
            ours=f"{top:.1f} G cell-updates/s at batch {max(fast)} on {b['device']}",
            rule=f"holds if >= {GPU_TARGET_GCUPS}, partly if >= {GPU_TARGET_GCUPS // 2}",
            verdict=judge(p, top >= GPU_TARGET_GCUPS, top >= GPU_TARGET_GCUPS // 2), chapter="data", profile=p))
    elif "deepwave" in b["paths"]:
        peer = {int(k): e["gcell_updates_per_s"] for k, e in b["paths"]["deepwave"].items()}
        ratio = min(fast[k] / peer[k] for k in fast)
        claims.append(Claim(
            id="data.cpu-throughput", paper="fwilab",
            statement="On a CPU our fast forward path is no slower than deepwave.",
            theirs="deepwave 0.1.0 on the same survey and CPU",
            ours="; ".join(f"batch {k}: {fast[k]:.2f} vs {peer[k]:.2f} G cell-updates/s" for k in sorted(fast)),
            rule="holds if ours >= deepwave at every batch size, partly if >= 0.5x; worst ratio here "
                 f"{ratio:.2f}x",
            verdict=judge(p, ratio >= 1.0, ratio >= 0.5), chapter="data", profile=p,
            setting=f"{b['device']}, timed over {b['nt_timed']} steps"))
    return claims
