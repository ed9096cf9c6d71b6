"""The trained-regime gate: a claim that compares methods is judged only where its reference network learned the task.

A small run can leave every network far from trained (at the old cpu sizes InversionNet scored
0.15–0.20 normalised MAE against OpenFWI's 0.013–0.07, and SPAMoE 0.43, what predicting the mean
scores): comparing such networks says nothing about the methods. Every chapter that trains asks this
module whether its reference InversionNet (L1, the baselines chapter's recipe) is in the trained
regime on a family, and a comparison claim on a family outside it is "not judged", with the reason.

Bounds (normalised test MAE of the reference InversionNet, mean over seeds, on the real OpenFWI test
maps of the family) are fixed here before any run and are stated on the page:

* FlatVel-A ≤ 0.035 (OpenFWI's InversionNet with 24k real training samples: 0.0131);
* CurveVel-A ≤ 0.10 (OpenFWI: 0.0685).

Both allow for our ~8× fewer training samples (a quick 3,000-sample probe reached 0.040 and 0.110).
Other families have no bound from a real-map run; there the bound is :data:`REGIME_FACTOR` times
OpenFWI's benchmark MAE ("the OpenFWI accuracy regime").
"""

from __future__ import annotations

from dataclasses import dataclass

#: normalised test MAE of the reference InversionNet at or below which a family is in the trained regime
TRAINED_REGIME_BOUNDS: dict[str, float] = {"flatvel-a": 0.035, "curvevel-a": 0.10}
#: elsewhere: within this factor of OpenFWI's benchmark MAE
REGIME_FACTOR: float = 2.0
#: OpenFWI benchmark (docs/benchmark.html), InversionNet trained with ℓ1: normalised MAE on the real data
OPENFWI_INVERSIONNET_MAE: dict[str, float] = {
    "flatvel-a": 0.0131, "flatvel-b": 0.0351, "curvevel-a": 0.0685, "curvevel-b": 0.1497,
    "flatfault-a": 0.0172, "flatfault-b": 0.1055, "curvefault-a": 0.0260, "curvefault-b": 0.1646,
    "style-a": 0.0625, "style-b": 0.0689,
}


def regime_bound(family: str) -> float:
    """The normalised-MAE bound of ``family``'s trained regime."""
    if family in TRAINED_REGIME_BOUNDS:
        return TRAINED_REGIME_BOUNDS[family]
    return REGIME_FACTOR * OPENFWI_INVERSIONNET_MAE[family]


@dataclass(frozen=True)
class RegimeCheck:
    """Whether a family's reference network is in the trained regime, and why (or why not)."""

    family: str
    mae: float | None
    seeds: int
    bound: float
    in_regime: bool
    reason: str

    def to_dict(self) -> dict:
        return {"family": self.family, "mae": self.mae, "seeds": self.seeds, "bound": self.bound,
                "in_regime": self.in_regime, "reason": self.reason}


def check_regime(family: str, maes: list[float] | tuple[float, ...]) -> RegimeCheck:
    """Gate one family on its reference InversionNet's per-seed normalised test MAEs (mean ≤ bound)."""
    bound = regime_bound(family)
    if not maes:
        return RegimeCheck(family, None, 0, bound, False,
                           f"{family}: no reference InversionNet was trained, so no comparison is judged")
    mean = float(sum(maes) / len(maes))
    inside = mean <= bound
    word = "in" if inside else "not in"
    reason = (f"{family}: reference InversionNet MAE {mean:.4f} over {len(maes)} seed(s) is "
              f"{'≤' if inside else '>'} the trained-regime bound {bound:.3f}: {word} the trained regime")
    return RegimeCheck(family, mean, len(maes), bound, inside, reason)


def regime_from_runs(runs: list[dict], families, model: str = "inversionnet") -> dict[str, RegimeCheck]:
    """:func:`check_regime` for each family from a chapter's run records (``model``, ``family``, ``mae``)."""
    out = {}
    for fam in families:
        maes = [r["mae"] for r in runs if r.get("model") == model and r.get("family") == fam]
        out[fam] = check_regime(fam, maes)
    return out


def gate_note(checks: dict[str, RegimeCheck]) -> str | None:
    """None if every family is in the regime, else why the comparison is not judged."""
    outside = [c.reason for c in checks.values() if not c.in_regime]
    if not outside:
        return None
    return "not judged: the reference network is outside the trained regime (" + "; ".join(outside) + ")"
