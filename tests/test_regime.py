"""The trained-regime gate (fwilab.regime): bounds fixed before any run, the mean over seeds, reasons named."""

import pytest

from fwilab.regime import (OPENFWI_INVERSIONNET_MAE, REGIME_FACTOR, TRAINED_REGIME_BOUNDS, check_regime,
                           gate_note, regime_bound, regime_from_runs)


def test_bounds_are_the_issue_s_and_twice_openfwi_elsewhere():
    assert TRAINED_REGIME_BOUNDS == {"flatvel-a": 0.035, "curvevel-a": 0.10}
    assert regime_bound("style-a") == pytest.approx(REGIME_FACTOR * OPENFWI_INVERSIONNET_MAE["style-a"])
    assert set(OPENFWI_INVERSIONNET_MAE) >= {"flatvel-a", "curvevel-a", "flatfault-a", "style-b"}


def test_mean_over_seeds_decides():
    inside = check_regime("flatvel-a", [0.030, 0.038])        # mean 0.034
    assert inside.in_regime and inside.mae == pytest.approx(0.034) and inside.seeds == 2
    outside = check_regime("flatvel-a", [0.034, 0.040])       # mean 0.037
    assert not outside.in_regime and "is > the trained-regime bound 0.035" in outside.reason
    assert check_regime("curvevel-a", [0.10]).in_regime        # the bound itself is inside


def test_no_run_is_outside_and_says_so():
    none = check_regime("curvevel-a", [])
    assert not none.in_regime and none.mae is None and "no reference InversionNet was trained" in none.reason


def test_gate_note_names_every_family_outside():
    runs = [{"model": "inversionnet", "family": "flatvel-a", "mae": 0.02},
            {"model": "inversionnet", "family": "curvevel-a", "mae": 0.3},
            {"model": "velocitygan", "family": "curvevel-a", "mae": 0.01}]   # another model does not count
    checks = regime_from_runs(runs, ["flatvel-a", "curvevel-a"])
    assert checks["flatvel-a"].in_regime and not checks["curvevel-a"].in_regime
    note = gate_note(checks)
    assert note.startswith("not judged") and "curvevel-a" in note and "flatvel-a" not in note
    assert gate_note({"flatvel-a": checks["flatvel-a"]}) is None
    assert checks["curvevel-a"].to_dict()["bound"] == 0.10
