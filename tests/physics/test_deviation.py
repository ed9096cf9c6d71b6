"""Deviation of decoded pairs from the wave equation (fwilab.physics.deviation): a true pair is at zero,
mismatched pairs are not, the per-element scale, the derangement baseline, chunking, bad input."""

import math

import pytest
import torch

from fwilab.data.normalize import normalize_seismic, normalize_velocity
from fwilab.data.transforms import decimate_time
from fwilab.physics.acquisition import OPENFWI
from fwilab.physics.deviation import null_pde_deviation, pde_deviation, simulated_records
from fwilab.physics.solver import forward_model

#: 3 shots × 16 receivers, 96 samples at 1 ms, 16² map, 8 absorbing cells: milliseconds a model. A 30 Hz
#: Ricker (centred at 36 ms): OpenFWI's 15 Hz one is centred at 73 ms, so a record this short would hold
#: little more than its onset, and every velocity would give nearly the same records
TINY = OPENFWI.replace(nt=96, f=30.0, nz=16, nx=16, nbc=8, source_x=(0, 8, 15), receiver_x=tuple(range(16)))
FAMILY = "flatvel-a"
KW = dict(family=FAMILY, acquisition=TINY, decimate=2, path="reference")


def velocities() -> torch.Tensor:
    """Three distinct models [3, 1, 16, 16] in m/s: constant, two layers, a gradient."""
    v = torch.empty(3, 1, 16, 16)
    v[0] = 2000.0
    v[1, :, :6], v[1, :, 6:] = 1800.0, 4000.0
    v[2] = torch.linspace(1500.0, 4500.0, 16)[:, None]
    return v


def true_pair(decimate=2):
    """Records made independently of the module: solver → decimate → normalise; velocity normalised."""
    v = velocities()
    raw = forward_model(v, TINY, path="reference").numpy()
    seismic = normalize_seismic(torch.from_numpy(decimate_time(raw, decimate)), family=FAMILY)
    return seismic, normalize_velocity(v)


@pytest.mark.parametrize("decimate", [1, 2])
def test_a_true_pair_has_no_deviation(decimate):
    seismic, velocity = true_pair(decimate)
    assert seismic.shape == (3, 3, 96 // decimate, 16)
    dev = pde_deviation(seismic, velocity, **{**KW, "decimate": decimate})
    assert dev.mse.shape == (3,) and dev.relative_l2.shape == (3,)
    assert float(dev.mse.max()) < 1e-10 and float(dev.relative_l2.max()) < 1e-5


def test_mismatched_pairs_deviate_clearly():
    seismic, velocity = true_pair()
    true = pde_deviation(seismic, velocity, **KW)
    null = null_pde_deviation(seismic, velocity, **KW)
    assert float(null.mse.min()) > 1e-3 and float(null.relative_l2.min()) > 0.2
    assert float(null.mse.min()) > 1e4 * float(true.mse.max())
    # the derangement pairs s_i with v_{i+1}: the same numbers as rolling the velocities by hand
    rolled = pde_deviation(seismic, velocity.roll(-1, dims=0), **KW)
    torch.testing.assert_close(null.mse, rolled.mse)
    torch.testing.assert_close(null.relative_l2, rolled.relative_l2)


def test_deviation_is_per_element_on_the_normalised_scale():
    seismic, velocity = true_pair()
    offset = 0.01
    dev = pde_deviation(seismic + offset, velocity, **KW)
    torch.testing.assert_close(dev.mse, torch.full((3,), offset ** 2), rtol=1e-3, atol=0)
    n = seismic[0].numel()
    expected = offset * math.sqrt(n) / seismic.flatten(1).norm(dim=1)
    torch.testing.assert_close(dev.relative_l2, expected, rtol=1e-3, atol=0)


def test_chunked_solver_calls_agree_with_one_batch():
    seismic, velocity = true_pair()
    whole = null_pde_deviation(seismic, velocity, **KW)
    chunked = null_pde_deviation(seismic, velocity, **KW, chunk=2)
    torch.testing.assert_close(chunked.mse, whole.mse)


def test_decoded_velocity_outside_the_range_is_clipped():
    velocity = torch.full((2, 1, 16, 16), 1.5)
    velocity[1] = -1.2
    records = simulated_records(velocity, **KW)
    torch.testing.assert_close(records, simulated_records(velocity.clamp(-1, 1), **KW))
    assert records.shape == (2, 3, 48, 16) and bool(torch.isfinite(records).all())


def test_the_default_path_runs_the_fast_solver_alike():
    seismic, velocity = true_pair()
    dev = pde_deviation(seismic, velocity, **{**KW, "path": "auto"})
    assert float(dev.mse.max()) < 1e-10


def test_bad_input_raises_a_clear_error():
    seismic, velocity = true_pair()
    with pytest.raises(ValueError, match=r"seismic_hat must be \[batch, 3, 48, 16\].*×2 decimation of 96"):
        pde_deviation(seismic[:, :, :20], velocity, **KW)
    with pytest.raises(ValueError, match=r"seismic_hat must be \[batch, 3, 96, 16\]"):
        pde_deviation(seismic, velocity, **{**KW, "decimate": 1})
    with pytest.raises(ValueError, match=r"velocity_hat must be \[batch, 1, 16, 16\]"):
        pde_deviation(seismic, velocity[..., :8], **KW)
    with pytest.raises(ValueError, match="batches differ"):
        pde_deviation(seismic, velocity[:2], **KW)
    with pytest.raises(ValueError, match="at least 2"):
        null_pde_deviation(seismic[:1], velocity[:1], **KW)
    with pytest.raises(ValueError, match="unknown OpenFWI dataset"):
        pde_deviation(seismic, velocity, **{**KW, "family": "nowhere"})
    with pytest.raises(ValueError, match="chunk"):
        pde_deviation(seismic, velocity, **KW, chunk=0)
