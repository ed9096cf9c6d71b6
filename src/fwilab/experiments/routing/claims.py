"""The routing-statistics chapter's claims: the thresholds of the rules, the chapter's gate and
:func:`judge_claims`."""

from __future__ import annotations

from typing import Any

from ...claims import Claim
from ...regime import regime_from_runs
from ..spamoe import COLLAPSE_SHARE, FLAT_GAIN, STARVED_SHARE, flat_gains, judge_trained
from .config import CHAPTER, RoutingConfig

#: two families "route differently" when their first-choice distributions differ by at least this
#: total-variation distance (one tenth of the samples would have to change expert)
ROUTING_DIFFERENCE_TV: float = 0.10
#: the gates "depend on the input" when their standard deviation across the test samples (mean over experts)
#: is at least this: a tenth of the even share 1/3, or about one sample in ten moved from one expert to another
GATE_SPREAD_MIN: float = 0.03


def healthy(run: dict[str, Any]) -> bool:
    """Neither collapsed (one expert the first choice of > COLLAPSE_SHARE) nor with a starved expert."""
    u = run["utilisation"]
    return not u["collapsed"] and not u["starved"]


def training_gate(config: RoutingConfig, metrics: dict[str, Any]) -> tuple[bool, str]:
    """``(judged, why)``: the routing of a network that has not learned the task says nothing about the paper's
    trained model. Judged when every SPAMoE run has flattened (its last epoch lowered the validation L1 by at
    most :data:`FLAT_GAIN`, mean over the runs) and, where the chapter loads them, the baselines chapter's
    reference InversionNet of every family is in the trained regime on the same data."""
    runs = metrics["runs"]
    flat, gain, n = flat_gains(r["last_epoch_gain"] for r in runs if r.get("last_epoch_gain") is not None)
    why = (f"SPAMoE's last epoch lowered its validation L1 by {100 * gain:.1f} % (mean over {n} runs; "
           f"≤ {100 * FLAT_GAIN:.0f} % is flat): " + ("flattened" if flat else "still improving"))
    refs = metrics.get("references") or []
    inside = True
    if refs:
        checks = regime_from_runs(refs, config.families)
        inside = all(c.in_regime for c in checks.values())
        why = "; ".join(c.reason for c in checks.values()) + "; " + why
    elif config.profile != "full":
        inside = False
        why += "; no reference network says the data are learnable at this scale"
    return flat and inside, why


def judge_claims(config: RoutingConfig, metrics: dict[str, Any]) -> list[Claim]:
    p = config.profile
    runs = metrics["runs"]
    judged, why = training_gate(config, metrics)
    setting = (f"one SPAMoE ('{config.model_size}' size, encoder from scratch) per router variant and seed, trained "
               f"on {config.train_per_family} samples of each of {len(config.families)} families "
               f"({config.data_source}) for {config.epochs} epochs (test MAE "
               + ", ".join(f"{r['mae_ms']:.0f}" for r in runs)
               + f" m/s); routing of {config.test_per_family} test samples per family. Judged at cpu and full "
               f"where the networks trained ({why})")
    paper = [r for r in runs if r.get("gate_mode") != "repaired"]   # the paper's router, as in PAPER_VARIANTS
    repaired = [r for r in runs if r.get("gate_mode") == "repaired"]

    def name(r: dict[str, Any]) -> str:
        return f"{r.get('variant', r['load_balance'])} s{r['seed']}"

    def usage(r: dict[str, Any]) -> str:
        u, shares = r["utilisation"], lambda xs: "/".join(f"{x:.2f}" for x in xs)
        return (f"{name(r)}: first choice {shares(u['first_choice'])} ({'/'.join(r['experts'])}), selections "
                f"{shares(u['selection'])}, entropy {u['entropy']:.2f}"
                + (", collapsed" if u["collapsed"] else "")
                + "".join(f", {r['experts'][e]} starved" for e in u["starved"]))

    by_variant: dict[str, list[bool]] = {}
    for r in paper:
        by_variant.setdefault(r.get("variant", r["load_balance"]), []).append(healthy(r))
    ok = [v for v, flags in by_variant.items() if all(flags)]
    claims = [Claim(
        id="spamoe.no-collapse", paper="SPAMoE",
        statement="The router distributes samples over the FNO, MNO and LNO experts instead of collapsing "
                  "to one operator.",
        theirs="frequency bands are dynamically assigned to an FNO/MNO/LNO ensemble (no utilisation statistics "
               "reported); the released load-balancing term has no gradient",
        ours="; ".join(usage(r) for r in paper),
        rule=f"holds if no expert is the first choice of more than {100 * COLLAPSE_SHARE:.0f} % of test samples "
             f"and none gets less than {100 * STARVED_SHARE:.0f} % of the top-k selections, under every "
             "load-balancing variant of the paper's router (every seed); partly if under at least one of them",
        verdict=judge_trained(p, bool(by_variant) and len(ok) == len(by_variant), bool(ok), judged),
        chapter=CHAPTER, profile=p, setting=setting)]
    if len(config.families) > 1:
        differ = [r for r in paper if r["family_difference"] >= ROUTING_DIFFERENCE_TV]
        claims.append(Claim(
            id="spamoe.routing-by-geology", paper="SPAMoE",
            statement="Routing is dynamic: different geologies are sent to different experts.",
            theirs="bands are assigned dynamically to experts according to the input's spectrum",
            ours="largest total-variation distance between two families' first-choice distributions: "
                 + "; ".join(f"{name(r)}: {r['family_difference']:.2f}" for r in runs),
            rule=f"holds if it is ≥ {ROUTING_DIFFERENCE_TV:g} in every run of the paper's router, partly in at "
                 "least one",
            verdict=judge_trained(p, bool(paper) and len(differ) == len(paper), bool(differ), judged),
            chapter=CHAPTER, profile=p, setting=setting))
    if paper and all("gate_spread" in r for r in runs):
        varies = [r for r in paper if r["gate_spread"] >= GATE_SPREAD_MIN]
        claims.append(Claim(
            id="spamoe.input-dependent-gates", paper="SPAMoE",
            statement="The router's gates depend on the input's spectrum: different samples get different gates.",
            theirs="a spectral attention reads each input's spectrum and sets its gates",
            ours="standard deviation of the gates across the test samples (mean over experts): "
                 + "; ".join(f"{name(r)}: {r['gate_spread']:.3f}" for r in runs),
            rule=f"holds if it is ≥ {GATE_SPREAD_MIN:g} in every run of the paper's router, partly in at least "
                 "one",
            verdict=judge_trained(p, len(varies) == len(paper), bool(varies), judged),
            chapter=CHAPTER, profile=p, setting=setting))
        if repaired:
            widest = max(r["gate_spread"] for r in paper)
            wider = [r for r in repaired if r["gate_spread"] > widest]
            fine = [r for r in repaired if healthy(r)]
            claims.append(Claim(
                id="spamoe.collapse-cause", paper="SPAMoE (our diagnosis)",
                statement="The released router collapses because its gates read the unnormalised spectrum: with "
                          "log-magnitude gates pooled by the attention, the same SPAMoE routes by input and "
                          "starves no expert.",
                theirs="not addressed (the paper reports no utilisation); this is our diagnosis of the released "
                       "code, tested by its minimal repair",
                ours="; ".join(usage(r) + f", gate spread {r['gate_spread']:.3f}" for r in repaired)
                     + f" (the paper's router: gate spread at most {widest:.3f})",
                rule="holds if every repaired run is neither collapsed nor starved and its gates spread wider than "
                     "every run of the paper's router; partly if one of the two",
                verdict=judge_trained(p, len(fine) == len(repaired) and len(wider) == len(repaired),
                                      bool(fine) or bool(wider), judged),
                chapter=CHAPTER, profile=p, setting=setting))
    return claims
