"""Tests of fwilab.physics.acquisition: the OpenFWI preset, the Ricker wavelet and the CFL check."""
import math

import numpy as np
import pytest

from fwilab.physics.acquisition import OPENFWI, Acquisition, ricker


def test_openfwi_preset():
    assert OPENFWI.source_x == (0, 17, 34, 52, 69)
    assert OPENFWI.receiver_x == tuple(range(70)) and OPENFWI.source_z == OPENFWI.receiver_z == 1
    assert OPENFWI.padded_shape == (310, 310) and OPENFWI.seismic_shape == (5, 1000, 70)
    assert (OPENFWI.nbc, OPENFWI.dx, OPENFWI.dt, OPENFWI.f, OPENFWI.nt) == (120, 10.0, 1e-3, 15.0, 1000)


def test_ricker_openfwi_window():
    w = ricker(15.0, 1e-3)
    assert len(w) == 147  # nw = 2·floor(2.2/(f·dt)/2) + 1
    assert w.argmax() == 73 and w[73] == 1.0
    np.testing.assert_allclose(w, w[::-1], atol=1e-15)  # symmetric about nc
    full = ricker(15.0, 1e-3, 1000)
    assert full.shape == (1000,) and np.all(full[147:] == 0)
    beta = (2 * 15.0 * 1e-3 * math.pi) ** 2
    assert full[71] == pytest.approx((1 - 2 * beta) * math.exp(-beta))


def test_cfl_limit():
    acq = OPENFWI
    assert acq.max_stable_dt(4500.0) == pytest.approx(10.0 * math.sqrt(3 / 8) / 4500.0)
    acq.check_stable(4500.0)
    with pytest.raises(ValueError, match="largest stable dt"):
        acq.replace(dt=2e-3).check_stable(4500.0)


@pytest.mark.parametrize("changes, message", [
    ({"receiver_x": (0, 70)}, "receiver columns"),
    ({"receiver_z": 70}, "receiver row"),
    ({"source_x": (80,)}, "source columns"),
    ({"nbc": -1}, "nbc"),
    ({"dt": 0.0}, "dt"),
    ({"receiver_x": ()}, "at least one"),
])
def test_acquisition_rejects_bad_geometry(changes, message):
    with pytest.raises(ValueError, match=message):
        OPENFWI.replace(**changes)
    assert isinstance(OPENFWI.replace(nbc=0), Acquisition)


@pytest.mark.parametrize("field, value", [("source_x", (2.7,)), ("source_z", 1.5), ("nz", "70"), ("nbc", True)])
def test_fractional_or_non_numeric_cells_are_refused_by_name(field, value):
    with pytest.raises(ValueError, match=f"Acquisition.{field}"):
        OPENFWI.replace(**{field: value})


def test_numpy_and_whole_float_values_become_plain_numbers_and_key_alike():
    from fwilab.data.generate import cache_key
    a = OPENFWI.replace(dx=10, nz=np.int64(70), source_z=np.int64(1), source_x=(np.int32(0), 17.0, 34, 52, 69))
    assert type(a.nz) is int and type(a.source_z) is int and type(a.dx) is float
    assert all(type(x) is int for x in a.source_x)
    assert a == OPENFWI and cache_key("flatvel-a", 0, a) == cache_key("flatvel-a", 0, OPENFWI)
