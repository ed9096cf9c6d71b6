"""Tests of fwilab.benchmarks.forward_benchmark on a tiny survey (the numbers' bookkeeping, not speed)."""
import json

import pytest

from fwilab.benchmarks import forward_benchmark, layered_velocity
from fwilab.physics.acquisition import Acquisition
from fwilab.physics.solver import cell_updates

TINY = Acquisition(nz=16, nx=16, dx=10.0, nt=80, dt=1e-3, f=25.0, source_x=(3, 12), source_z=1,
                   receiver_x=tuple(range(16)), receiver_z=1, nbc=6)


@pytest.mark.slow
def test_forward_benchmark_report():
    pytest.importorskip("deepwave")
    r = forward_benchmark(batch_sizes=(1, 2), device="cpu", repeats=1, acquisition=TINY, nt=40)
    json.dumps(r)  # JSON-able as returned
    assert r["nt_timed"] == 40 and r["device_type"] == "cpu"
    assert set(r["paths"]) == {"reference", "fast", "deepwave"}
    assert r["fast_vs_reference_rel_l2"] < 1e-5
    assert r["cell_updates_per_sample"] == 2 * 28 * 28 * 80
    # the fast CPU path skips the cells ahead of the front, so it is timed over all 80 steps; the others
    # do the same work every step and are timed over 40
    assert r["nt_timed_by_path"] == {"reference": 40, "fast": 80, "deepwave": 40}
    for path, per_batch in r["paths"].items():
        assert set(per_batch) == {"1", "2"}
        for b, e in per_batch.items():
            assert e["seconds_full_nt"] == pytest.approx(80 / r["nt_timed_by_path"][path] * e["seconds_timed"])
            assert e["samples_per_s"] == pytest.approx(int(b) / e["seconds_full_nt"])
            assert e["gcell_updates_per_s"] == pytest.approx(
                cell_updates(int(b), TINY) / e["seconds_full_nt"] / 1e9)
    assert r["versions"]["deepwave"] and r["versions"]["numba"]


def test_forward_benchmark_validates_and_models_are_layered():
    with pytest.raises(ValueError, match="repeats"):
        forward_benchmark(repeats=0, acquisition=TINY, include_deepwave=False)
    with pytest.raises(ValueError, match="batch_sizes"):
        forward_benchmark(batch_sizes=(0,), acquisition=TINY, include_deepwave=False)
    v = layered_velocity(3, 20, 10, seed=1)
    assert v.shape == (3, 1, 20, 10)
    assert (v[..., 1:, :] >= v[..., :-1, :]).all()  # never decreasing with depth
    assert (v == v[..., :1]).all()  # every row constant
    assert v.min() >= 1500 and v.max() <= 4500


def test_gradient_benchmark_report():
    """One FWI iteration's cost per path on the CPU, and the two gradients agree."""
    from fwilab.benchmarks import gradient_benchmark

    r = gradient_benchmark(batch_sizes=(1, 2), device="cpu", acquisition=TINY, nt=40)
    assert set(r["paths"]) == {"adjoint", "reference"} and r["nt_timed"] == 40
    assert r["adjoint_vs_reference_rel_l2"] < 1e-4
    assert r["nt_timed_by_path"] == {"adjoint": TINY.nt, "reference": 40}
    for path, per in r["paths"].items():
        for b, e in per.items():
            assert e["seconds_full_nt"] == pytest.approx(e["seconds_timed"] * TINY.nt / r["nt_timed_by_path"][path])
            assert e["s_per_sample_iteration"] == pytest.approx(e["seconds_full_nt"] / int(b))
    assert len(r["rows"]) == 4
    with pytest.raises(ValueError, match="positive batch"):
        gradient_benchmark(batch_sizes=(0,), acquisition=TINY)
