"""OpenFWI normalisation: known values, exact round trips, the log transform's invariants."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from fwilab.data.normalize import (DATA_RANGE, data_range, dataset_name, denormalize_seismic, denormalize_velocity,
                                   exp_transform, log_transform, normalize_seismic, normalize_velocity)


#: OpenFWI's dataset_config.json as FACTS.md §1 tabulates it, copied here by hand (not from the code)
OPENFWI_TABLE = """
| FlatVel-A | -26.95 | 52.77 | FlatFault-B | -24.86 | 50.28 |
| FlatVel-B | -27.17 | 56.05 | CurveFault-A | -26.48 | 52.32 |
| CurveVel-A | -27.11 | 55.10 | CurveFault-B | -24.93 | 50.98 |
| CurveVel-B | -29.04 | 57.03 | Style-A | -24.96 | 48.93 |
| FlatFault-A | -26.10 | 50.86 | Style-B | -23.76 | 46.01 |
"""
FACTS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "FACTS.md"


def _parse(table: str) -> dict[str, tuple[float, float]]:
    out = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        for i in range(0, len(cells) - 2, 3):
            try:
                out[dataset_name(cells[i])] = (float(cells[i + 1]), float(cells[i + 2]))
            except ValueError:   # a header or rule row, or a table of another kind
                continue
    return out


def test_data_range_table_matches_openfwi_config():
    assert DATA_RANGE == _parse(OPENFWI_TABLE)       # all ten, both ends
    assert all(lo < 0 < hi for lo, hi in DATA_RANGE.values())
    assert data_range("FlatVel_A") == data_range("flatvel-a") == data_range("FlatVel-A")


@pytest.mark.skipif(not FACTS.exists(), reason="the shared FACTS.md is not beside this checkout")
def test_data_range_table_matches_the_shared_facts():
    text = FACTS.read_text()
    table = text[text.index("| dataset | data_min"):]
    table = table[:table.index("\n\n")]
    assert _parse(table) == DATA_RANGE


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_velocity_known_values(kind):
    v = [1500.0, 4500.0, 3000.0, 2250.0]
    x = np.array(v) if kind == "numpy" else torch.tensor(v, dtype=torch.float32)
    y = normalize_velocity(x)
    assert type(y) is type(x)
    assert [float(t) for t in y] == [-1.0, 1.0, 0.0, -0.5]
    assert [float(t) for t in denormalize_velocity(y)] == v


def test_velocity_round_trip_and_custom_range():
    rng = np.random.default_rng(0)
    v = rng.uniform(1500, 4500, size=(4, 1, 7, 7))
    y = normalize_velocity(v)
    assert y.min() >= -1 and y.max() <= 1
    np.testing.assert_allclose(denormalize_velocity(y), v, rtol=0, atol=1e-10)
    assert normalize_velocity(np.array(2000.0), vmin=2000, vmax=6000) == -1.0
    assert normalize_velocity(np.array(6000.0), vmin=2000, vmax=6000) == 1.0
    with pytest.raises(ValueError, match="vmin < vmax"):
        normalize_velocity(v, vmin=4500, vmax=1500)


def test_log_transform_odd_monotone_and_known_values():
    x = np.linspace(-60, 60, 2401)
    y = log_transform(x)
    np.testing.assert_array_equal(log_transform(-x), -y)  # odd, exactly
    assert np.all(np.diff(y) > 0)  # strictly increasing
    assert log_transform(np.array(0.0)) == 0.0
    assert math.isclose(float(log_transform(np.array(math.e - 1))), 1.0, rel_tol=1e-15)
    assert math.isclose(float(log_transform(np.array(-(math.e ** 2 - 1)))), -2.0, rel_tol=1e-15)
    # numpy and torch agree
    t = log_transform(torch.from_numpy(x))
    np.testing.assert_allclose(t.numpy(), y, rtol=1e-15, atol=0)
    np.testing.assert_allclose(exp_transform(y), x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("family", sorted(DATA_RANGE))
def test_seismic_range_maps_to_minus_one_one(family):
    lo, hi = DATA_RANGE[family]
    y = normalize_seismic(np.array([lo, hi, 0.0]), family)
    assert y[0] == -1.0 and y[1] == 1.0
    # 0 sits where the log-domain min-max puts it (independent formula, OpenFWI minmax_normalize)
    llo, lhi = -math.log1p(-lo), math.log1p(hi)
    expected0 = ((0.0 - llo) / (lhi - llo) - 0.5) * 2
    assert math.isclose(float(y[2]), expected0, rel_tol=1e-12)


def test_seismic_matches_openfwi_formula_and_round_trips():
    rng = np.random.default_rng(1)
    x = rng.normal(scale=10.0, size=(2, 5, 30, 7)) ** 3 / 100  # heavy-tailed amplitudes
    lo, hi = DATA_RANGE["curvevel-a"]
    llo, lhi = np.log1p(abs(lo)) * np.sign(lo), np.log1p(abs(hi)) * np.sign(hi)
    reference = ((np.log1p(np.abs(x)) * np.sign(x) - llo) / (lhi - llo) - 0.5) * 2
    y = normalize_seismic(x, "curvevel-a")
    np.testing.assert_allclose(y, reference, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(normalize_seismic(x, data_min=lo, data_max=hi), y)
    np.testing.assert_allclose(denormalize_seismic(y, "curvevel-a"), x, rtol=1e-11, atol=1e-12)


def test_seismic_torch_keeps_dtype_and_round_trips():
    x = torch.linspace(-30, 60, 1001, dtype=torch.float32)
    y = normalize_seismic(x, data_min=-30.0, data_max=60.0)
    assert y.dtype == torch.float32 and y.device == x.device
    assert y[0].item() == pytest.approx(-1.0, abs=1e-6) and y[-1].item() == pytest.approx(1.0, abs=1e-6)
    torch.testing.assert_close(denormalize_seismic(y, data_min=-30.0, data_max=60.0), x, rtol=2e-5, atol=1e-5)


def test_seismic_bad_arguments():
    with pytest.raises(ValueError, match="flatvel-a"):  # lists the known datasets
        normalize_seismic(np.zeros(3), "flatvel-z")
    with pytest.raises(ValueError, match="family= or data_min"):
        normalize_seismic(np.zeros(3))
    with pytest.raises(ValueError, match="both data_min and data_max"):
        normalize_seismic(np.zeros(3), data_min=-1.0)
    with pytest.raises(ValueError, match="data_min < data_max"):
        normalize_seismic(np.zeros(3), data_min=5.0, data_max=-5.0)
