"""Anti-aliased time decimation: the signal survives ×4 on OpenFWI-convention data, zero phase, errors named."""

import numpy as np
import pytest
import torch

from fwilab.data.real import load_real_velocity
from fwilab.data.transforms import decimate_time, decimated_length, energy_above, interpolate_time
from fwilab.physics.acquisition import OPENFWI
from fwilab.physics.solver import forward_model


@pytest.fixture(scope="module")
def openfwi_records():
    """Two real CurveVel-A maps simulated on OpenFWI's exact survey (1 ms x 1000 steps)."""
    v = torch.from_numpy(load_real_velocity("curvevel-a", 2))
    return forward_model(v, OPENFWI).numpy().astype(np.float64)


@pytest.mark.slow
def test_energy_above_the_decimated_nyquist_is_negligible(openfwi_records):
    # q = 4: new Nyquist 125 Hz; the 15 Hz Ricker's records carry < 1e-4 of their energy above it
    assert energy_above(openfwi_records, OPENFWI.dt, 1 / (2 * 4 * OPENFWI.dt)) < 1e-4
    # the measure itself can fail: a quarter of a white record lies above 3/4 of its Nyquist
    white = np.random.default_rng(0).standard_normal((2, 1000, 3))
    assert energy_above(white, OPENFWI.dt, 375.0) == pytest.approx(0.25, abs=0.02)


@pytest.mark.slow
def test_decimate_then_interpolate_round_trips(openfwi_records):
    y = decimate_time(openfwi_records, 4, axis=2)
    assert y.shape == (2, 5, 250, 70) and y.dtype == np.float32
    back = interpolate_time(y, 4, nt=1000, axis=2)
    rel = np.linalg.norm(back - openfwi_records) / np.linalg.norm(openfwi_records)
    assert rel < 0.01


def test_zero_phase_and_passband():
    # a 20 Hz tone sampled at 1 ms keeps its phase and amplitude at 4 ms (away from the edges)
    t = np.arange(1000) * 1e-3
    x = np.sin(2 * np.pi * 20 * t + 0.3)[:, None]
    y = decimate_time(x, 4, axis=0)[:, 0]
    np.testing.assert_allclose(y[20:-20], x[::4, 0][20:-20], atol=2e-3)
    # a tone above the new Nyquist (200 Hz > 125 Hz) is removed, not folded back
    z = decimate_time(np.sin(2 * np.pi * 200 * t)[:, None], 4, axis=0)[:, 0]
    assert np.abs(z[20:-20]).max() < 2e-3


def test_factor_one_and_lengths():
    x = np.arange(12, dtype=np.float64).reshape(1, 6, 2)
    np.testing.assert_array_equal(decimate_time(x, 1), x.astype(np.float32))
    assert decimated_length(1000, 4) == 250 and decimated_length(1001, 4) == 251 and decimated_length(7, 1) == 7
    assert decimate_time(np.zeros((3, 1001, 2)), 4).shape == (3, 251, 2)


@pytest.mark.parametrize("factor", [0, -2, 2.0, True])
def test_bad_factor_is_named(factor):
    with pytest.raises(ValueError, match="decimation factor must be an integer >= 1"):
        decimate_time(np.zeros((10, 2)), factor)


def test_too_short_record_is_named():
    with pytest.raises(ValueError, match="too short to decimate by 4"):
        decimate_time(np.zeros((7, 2)), 4)
