"""The routing-statistics chapter's claims: :func:`judge_claims`."""

from __future__ import annotations

from typing import Any

from ...claims import Claim
from ..spamoe import COLLAPSE_SHARE, JUDGED_AT, STARVED_SHARE, judge_spamoe
from .config import CHAPTER, RoutingConfig

#: two families "route differently" when their first-choice distributions differ by at least this
#: total-variation distance (one tenth of the samples would have to change expert)
ROUTING_DIFFERENCE_TV: float = 0.10


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
