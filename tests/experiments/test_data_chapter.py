"""The data chapter's verdicts follow their rules: on hand-made numbers each side of every threshold."""

import pytest

from fwilab.claims import DOES_NOT_HOLD, HOLDS, NOT_JUDGED, PARTLY
from fwilab.data.stats import MATCH_TOLERANCES
from fwilab.experiments import data, make_config


def _metrics(amplitude_error=0.05, distance_scale=0.5, error_coarse=0.03, error_fine=0.001, ncc=0.999,
             fast=1.0, peer=0.5, device_type="cpu"):
    lo, hi = -26.95, 52.77
    return {
        "amplitudes": [{"origin": "real", "family": "flatvel-a", "n": 10, "raw_min": lo * (1 + amplitude_error),
                        "raw_max": hi, "openfwi_min": lo, "openfwi_max": hi}],
        "statistics": {"flatvel-a": {"distances": {k: distance_scale * tol for k, tol in MATCH_TOLERANCES.items()}}},
        "analytic": {"error_coarse": error_coarse, "error_fine": error_fine},
        "deepwave": {"ncc": ncc},
        "benchmark": {"device_type": device_type, "device": "test", "nt_timed": 10,
                      "paths": {"fast": {"1": {"gcell_updates_per_s": fast}},
                                "deepwave": {"1": {"gcell_updates_per_s": peer}}}},
    }


def _verdicts(profile="cpu", **kw):
    config = make_config("data", profile)
    return {c.id: c.verdict for c in data.judge_claims(config, _metrics(**kw))}


def test_every_claim_holds_on_numbers_inside_its_rule():
    assert _verdicts() == {"data.amplitude-regime": HOLDS, "data.generated-like-real": HOLDS,
                           "data.solver-analytic": HOLDS, "data.solver-deepwave": HOLDS,
                           "data.cpu-throughput": HOLDS}


@pytest.mark.parametrize("kw, claim, verdict", [
    (dict(amplitude_error=0.20), "data.amplitude-regime", PARTLY),          # within 2 × 15 %
    (dict(amplitude_error=0.40), "data.amplitude-regime", DOES_NOT_HOLD),
    (dict(distance_scale=1.0), "data.generated-like-real", DOES_NOT_HOLD),   # a distance on its tolerance fails
    (dict(error_coarse=0.03, error_fine=0.02), "data.solver-analytic", PARTLY),   # small, but not converging
    (dict(error_coarse=0.2, error_fine=0.01), "data.solver-analytic", DOES_NOT_HOLD),
    (dict(ncc=0.97), "data.solver-deepwave", PARTLY),
    (dict(ncc=0.90), "data.solver-deepwave", DOES_NOT_HOLD),
    (dict(fast=0.4, peer=0.5), "data.cpu-throughput", PARTLY),
    (dict(fast=0.2, peer=0.5), "data.cpu-throughput", DOES_NOT_HOLD),
])
def test_each_rule_has_its_thresholds(kw, claim, verdict):
    assert _verdicts(**kw)[claim] == verdict


def test_smoke_judges_only_the_solver_checks_and_a_gpu_is_held_to_the_target():
    smoke = _verdicts("smoke")
    assert {k for k, v in smoke.items() if v != NOT_JUDGED} == {"data.solver-analytic", "data.solver-deepwave"}
    gpu = dict(fast=data.GPU_TARGET_GCUPS * 0.9, device_type="cuda")
    assert _verdicts(**gpu)["data.gpu-throughput"] == PARTLY
    assert _verdicts(**dict(gpu, fast=data.GPU_TARGET_GCUPS))["data.gpu-throughput"] == HOLDS
