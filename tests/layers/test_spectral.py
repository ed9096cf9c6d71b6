"""Radial bands, the energy ratio and the spectral hinge (fwilab.layers.spectral)."""

import math

import numpy as np
import pytest
import torch

from fwilab.layers.spectral import (
    HIGH_BAND,
    LOW_BAND,
    annulus_mask,
    band_centres,
    band_decompose,
    centred_spectrum,
    energy_ratio,
    hard_band_masks,
    normalised_radius,
    soft_band_masks,
    spectral_bound_penalty,
)


def _grid(n):
    i = torch.arange(n, dtype=torch.float64)
    return i[:, None], i[None, :]


@pytest.mark.parametrize("n", [16, 70])
def test_released_radius_is_one_at_corners_and_offsets_dc_for_even_sizes(n):
    r = normalised_radius(n, n, "released", dtype=torch.float64)
    assert r.max() == pytest.approx(1.0)
    assert r[0, 0] == pytest.approx(1.0) and r[-1, -1] == pytest.approx(1.0)
    # fftshift puts DC at index n//2; linspace(-1, 1, n) has no zero for even n
    assert r[n // 2, n // 2] == pytest.approx(1.0 / (n - 1))
    # Nyquist along one axis sits at ≈ 1/√2
    assert r[0, n // 2] == pytest.approx(math.hypot(1.0, 1.0 / (n - 1)) / math.sqrt(2))


@pytest.mark.parametrize("shape", [(16, 16), (15, 20)])
def test_centred_radius_has_dc_at_zero(shape):
    r = normalised_radius(*shape, "centred", dtype=torch.float64)
    assert r[shape[0] // 2, shape[1] // 2] == 0.0
    assert r.max() == pytest.approx(1.0)


def test_unknown_radius_convention_is_refused():
    with pytest.raises(ValueError, match="convention"):
        normalised_radius(8, 8, "nyquist")


def test_energy_ratio_matches_an_independent_numpy_computation():
    rng = np.random.default_rng(0)
    u = rng.standard_normal((3, 4, 20, 24))
    power = np.abs(np.fft.fftshift(np.fft.fft2(u), axes=(-2, -1))) ** 2
    power = power.mean(axis=1)
    ky, kx = np.linspace(-1, 1, 20), np.linspace(-1, 1, 24)
    r = np.hypot(ky[:, None], kx[None, :])
    r = r / r.max()
    low = ((r >= LOW_BAND[0]) & (r < LOW_BAND[1]))
    high = ((r >= HIGH_BAND[0]) & (r < HIGH_BAND[1]))
    expected = (power * high).sum((-2, -1)) / (power * low).sum((-2, -1))
    got = energy_ratio(torch.from_numpy(u)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_low_frequency_image_below_one_checkerboard_above_one():
    i, j = _grid(64)
    smooth = torch.cos(2 * math.pi * 4 * j / 64) + torch.cos(2 * math.pi * 3 * i / 64)   # r ≈ 0.1
    checker = torch.cos(math.pi * i / 2) * torch.cos(math.pi * j / 2)                  # period 4, r ≈ 0.52
    rho = energy_ratio(torch.stack([smooth, checker])[:, None])
    assert rho[0] < 1e-6 < 1.0 < 1e6 < rho[1]


def test_one_pixel_checkerboard_lies_outside_the_released_high_band():
    # (−1)^(i+j) has its energy at the spectrum corner, r = 1 ≥ 0.85 — documented property
    i, j = _grid(32)
    checker = (-1.0) ** (i + j) + 0.1 * torch.cos(2 * math.pi * 3 * j / 32)
    stripes = ((-1.0) ** j + 0.1 * torch.cos(2 * math.pi * 3 * j / 32)).expand(32, 32)     # r ≈ 0.71
    rho = energy_ratio(torch.stack([checker, stripes])[:, None])
    assert rho[0] == pytest.approx(0.0, abs=1e-9)
    assert rho[1] == pytest.approx(200.0, rel=1e-6)   # 1² in one bin vs 2 bins of (0.1/2)²


def test_energy_ratio_is_scale_and_shift_invariant():
    u = torch.randn(2, 3, 24, 24, dtype=torch.float64)
    rho = energy_ratio(u)
    torch.testing.assert_close(energy_ratio(37.5 * u), rho)
    torch.testing.assert_close(energy_ratio(1e-3 * u), rho)
    torch.testing.assert_close(energy_ratio(torch.roll(u, shifts=(5, -7), dims=(-2, -1))), rho)


def test_energy_ratio_of_zero_map_is_finite():
    assert torch.isfinite(energy_ratio(torch.zeros(1, 2, 8, 8))).all()


def test_hinge_is_zero_above_the_bound_with_no_gradient():
    u = torch.randn(4, 3, 20, 20, requires_grad=True)
    rho = energy_ratio(u)
    penalty = spectral_bound_penalty(rho, rho_min=0.5 * float(rho.detach().min()))
    assert penalty.item() == 0.0
    penalty.backward()
    assert u.grad.abs().max() == 0.0


def test_hinge_gradient_step_raises_the_ratio():
    torch.manual_seed(1)
    u = torch.randn(3, 4, 24, 24, dtype=torch.float64)
    u = torch.nn.functional.avg_pool2d(u, 3, 1, 1).detach().requires_grad_(True)  # low ratio to start
    rho = energy_ratio(u)
    rho_min = 2.0 * float(rho.detach().max())
    penalty = spectral_bound_penalty(rho, rho_min)
    assert penalty.item() == pytest.approx(float((rho_min - rho.detach()).mean()))
    penalty.backward()
    stepped = u.detach() - 0.05 * u.grad / u.grad.abs().max()
    assert (energy_ratio(stepped) > rho.detach()).all()


def test_hinge_refuses_negative_bound():
    with pytest.raises(ValueError, match="rho_min"):
        spectral_bound_penalty(torch.ones(2), -1.0)


@pytest.mark.parametrize("convention", ["released", "centred"])
@pytest.mark.parametrize("n_bands", [2, 3, 5])
def test_hard_bands_partition_the_spectrum(convention, n_bands):
    x = torch.randn(2, 3, 18, 22, dtype=torch.float64)
    r = normalised_radius(18, 22, convention, dtype=torch.float64)
    masks = hard_band_masks(r, band_centres(n_bands, dtype=torch.float64))
    assert torch.equal(masks.sum(0), torch.ones_like(r))
    bands = band_decompose(x, masks)
    assert bands.shape == (n_bands, 2, 3, 18, 22)
    torch.testing.assert_close(bands.sum(0), x)


def test_soft_bands_sum_to_the_input_filtered_by_the_mask_sum():
    x = torch.randn(2, 3, 20, 20, dtype=torch.float64)
    r = normalised_radius(20, 20, dtype=torch.float64)
    masks = soft_band_masks(r, band_centres(3, dtype=torch.float64), 20.0)
    total = masks.sum(0)
    filtered = torch.fft.ifft2(torch.fft.ifftshift(centred_spectrum(x) * total, dim=(-2, -1))).real
    torch.testing.assert_close(band_decompose(x, masks).sum(0), filtered)
    # as released the masks are not normalised: their sum runs from 0.57 to 1.013 on r ∈ [0, 1]
    fine = torch.linspace(0, 1, 1001, dtype=torch.float64)
    s = soft_band_masks(fine[None], band_centres(3, dtype=torch.float64), 20.0).sum(0)
    assert s.min().item() == pytest.approx(2 * math.exp(-20 / 16) + math.exp(-20 * 9 / 16), rel=1e-6)
    assert s.max().item() == pytest.approx(1 + 2 * math.exp(-5), rel=1e-6)
    # each soft band only attenuates: no band carries more energy than the input
    energy = lambda v: v.pow(2).sum()
    for band in band_decompose(x, masks):
        assert energy(band) <= energy(x)


def test_bands_are_half_open():
    """``1[lo ≤ r < hi]`` (FACTS.md §2: low band r ∈ [0.05, 0.30), high band r ∈ [0.40, 0.85)): a
    radius on a band's upper edge belongs to the next band, so adjacent bands never count it twice."""
    r = torch.tensor([0.0499, 0.05, 0.2999, 0.30, 0.40, 0.8499, 0.85], dtype=torch.float64)   # exact edges
    assert annulus_mask(r, LOW_BAND).tolist() == [0, 1, 1, 0, 0, 0, 0]
    assert annulus_mask(r, HIGH_BAND).tolist() == [0, 0, 0, 0, 1, 1, 0]
    assert (annulus_mask(r, (0.0, 0.30)) + annulus_mask(r, (0.30, 1.0))).tolist() == [1] * 7
