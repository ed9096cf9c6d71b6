"""InvLINT's integral transforms: orthogonality, a brute-force reference, analytic Gaussian integrals."""

import math

import numpy as np
import pytest
import torch

from fwilab.layers.integral import (
    DECODER_KERNELS,
    ENCODER_KERNELS,
    SeismicIntegralTransform,
    VelocityIntegralTransform,
    centre_grid,
    trapezoid_weights,
)
from fwilab.physics.acquisition import OPENFWI

# A small test geometry: 3 shots × 200 time steps × 20 receivers → 20×20 map.
SMALL = OPENFWI.replace(nz=20, nx=20, nt=200, source_x=(0, 10, 19), receiver_x=tuple(range(20)))

# Independent statement of every encoder kernel Φ_n(x, t) (t, x in [0, 1]), from the paper's tables;
# `span` is xmax − xmin in the unit of the receiver positions.
PHI = {
    "sin": lambda n, x, t: np.sin(n * np.pi * t) * np.ones_like(x) / SPAN,
    "sin_sin": lambda n, x, t: np.sin(n * np.pi * t) * np.sin(n * np.pi * x),
    "sin_cos": lambda n, x, t: np.sin(n * np.pi * t) * np.cos(n * np.pi * x),
    "cos_sin": lambda n, x, t: np.cos(n * np.pi * t) * np.sin(n * np.pi * x),
    "sin_sum": lambda n, x, t: np.sin(n * np.pi * (x + t)),
    "sin_plus": lambda n, x, t: np.sin(n * np.pi * t) + np.sin(n * np.pi * x),
    "cos": lambda n, x, t: np.cos(n * np.pi * t) * np.ones_like(x) / SPAN,
    "fourier": lambda n, x, t: np.exp(-2j * np.pi * n * t) * np.ones_like(x) / SPAN,
}
RECEIVERS = np.array([0.0, 1.0, 3.0, 4.0, 7.0, 11.0])    # uneven spacing → uneven trapezoid weights
SPAN = RECEIVERS[-1] - RECEIVERS[0]


def test_every_table_kernel_has_a_reference():
    assert set(PHI) == set(ENCODER_KERNELS)


@pytest.mark.parametrize("acq,n", [(OPENFWI, 2048), (SMALL, 32)])
def test_seismic_shapes(acq, n):
    tr = SeismicIntegralTransform.from_acquisition(acq, n)
    u = torch.randn(2, *acq.seismic_shape)
    assert tr(u).shape == (2, acq.n_shots * n) == (2, tr.out_features())
    with pytest.raises(ValueError, match="batch, shot, time, receiver"):
        tr(u[:, :, :-1])
    with pytest.raises(ValueError, match="batch, shot, time, receiver"):
        tr(u[:, :1])


def test_sine_transform_picks_the_frequency_of_each_shot():
    n_kernels = 64
    tr = SeismicIntegralTransform.from_acquisition(SMALL, n_kernels, dtype=torch.float64)
    t = torch.linspace(0, 1, SMALL.nt, dtype=torch.float64)
    ks = (3, 17, 40)                                    # one frequency per shot
    u = torch.stack([torch.sin(k * math.pi * t)[:, None].expand(SMALL.nt, SMALL.n_receivers) for k in ks])[None]
    U = tr(u).reshape(SMALL.n_shots, n_kernels)
    for s, k in enumerate(ks):
        assert int(U[s].abs().argmax()) == k - 1          # n = k (kernels start at n = 1)
        # discrete orthogonality (DST-I on t_i = i/(nt−1), dt = 1 sample): Σ sin(kπt) sin(nπt) = δ_kn (nt−1)/2
        assert U[s, k - 1].item() == pytest.approx((SMALL.nt - 1) / 2, rel=1e-12)
        others = torch.cat([U[s, :k - 1], U[s, k:]])
        assert others.abs().max() < 1e-10


def test_sine_kernels_alias_beyond_the_nyquist_index():
    # documented: sin(nπt_i) = −sin((2(nt−1) − n)πt_i) on t_i = i/(nt−1)
    nt = 50
    tr = SeismicIntegralTransform(2 * (nt - 1) - 1, nt, 4, dtype=torch.float64)
    U = tr(torch.randn(3, 1, nt, 4, dtype=torch.float64))
    n = 10
    torch.testing.assert_close(U[:, n - 1], -U[:, 2 * (nt - 1) - n - 1])


@pytest.mark.parametrize("kernel", list(ENCODER_KERNELS))
def test_fast_transform_matches_brute_force_quadrature(kernel):
    nt, n_kernels = 40, 12
    receivers = RECEIVERS
    rng = np.random.default_rng(0)
    u = rng.standard_normal((2, 3, nt, receivers.size))
    tr = SeismicIntegralTransform(n_kernels, nt, receivers, kernel, n_shots=3, dtype=torch.float64)
    got = tr(torch.from_numpy(u)).numpy().reshape(2, 3, n_kernels)

    t = np.arange(nt) / (nt - 1)
    x = (receivers - receivers[0]) / SPAN
    w_t = np.ones(nt)                                   # dt = one sample, trapezoid ends
    w_t[[0, -1]] = 0.5
    w_x = np.zeros(x.size)                              # dx in receiver-position units
    w_x[:-1] += np.diff(receivers) / 2
    w_x[1:] += np.diff(receivers) / 2
    T, X = np.meshgrid(t, x, indexing="ij")
    ref = np.empty_like(got)
    for n in range(1, n_kernels + 1):
        phi = PHI[kernel](n, X, T) * w_t[:, None] * w_x[None, :]                    # [nt, receiver]
        val = np.einsum("bstr,tr->bs", u, phi)
        ref[:, :, n - 1] = np.abs(val) if kernel == "fourier" else val.real
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_trapezoid_weights_integrate_linear_functions_exactly():
    c = np.array([0.0, 0.1, 0.35, 0.9, 1.0])
    w = trapezoid_weights(c)
    assert w.sum() == pytest.approx(1.0)
    assert (w * (3 * c + 2)).sum() == pytest.approx(1.5 + 2)
    assert trapezoid_weights(np.array([0.0])).tolist() == [1.0]


# --------------------------------------------------------------------------------------------
# Velocity side


@pytest.mark.parametrize("shape,m,grid", [((70, 70), 512, (32, 16)), ((40, 60), 512, (16, 32)),
                                         ((20, 20), 16, (4, 4)), ((15, 21), 35, (5, 7))])
def test_centre_grid_follows_the_map_aspect(shape, m, grid):
    assert centre_grid(shape, m) == grid


@pytest.mark.parametrize("acq,m", [(OPENFWI, 512), (SMALL, 16)])
@pytest.mark.parametrize("kernel", list(DECODER_KERNELS))
def test_velocity_shapes(acq, m, kernel):
    tr = VelocityIntegralTransform.from_acquisition(acq, m, kernel)
    assert tr(torch.randn(3, 1, acq.nz, acq.nx)).shape == (3, m)
    with pytest.raises(ValueError, match="expects"):
        tr(torch.randn(3, acq.nz, acq.nx))


def test_gaussian_transform_of_a_constant_map_is_the_analytic_kernel_integral():
    nz, nx, c = 70, 70, -0.37
    tr = VelocityIntegralTransform((nz, nx), 512, "gaussian", dtype=torch.float64)
    Y = tr(torch.full((1, 1, nz, nx), c, dtype=torch.float64))[0]
    torch.testing.assert_close(Y, c * tr.kernel_integrals())
    # cells are unit squares centred on integer coordinates: integrate over [−½, n − ½] per axis
    sz, sx = tr.sigma
    assert (sz, sx) == tr.spacing == (70 / 32, 70 / 16)       # σ = spacing of adjacent centres

    def integral(mu, sigma, n):
        a, b = (-0.5 - mu) / (sigma * math.sqrt(2)), (n - 0.5 - mu) / (sigma * math.sqrt(2))
        return sigma * math.sqrt(math.pi / 2) * (math.erf(b) - math.erf(a))

    ref = torch.tensor([c * integral(mz, sz, nz) * integral(mx, sx, nx) for mz, mx in tr.centres.tolist()],
                       dtype=torch.float64)
    torch.testing.assert_close(Y, ref, rtol=5e-3, atol=0)
    interior = Y[(32 * 8 + 8)]                                 # a centre far from every edge
    assert interior.item() == pytest.approx(c * 2 * math.pi * sz * sx, rel=1e-6)


@pytest.mark.parametrize("kernel,neighbour,diagonal", [("gaussian", math.exp(-0.5), math.exp(-1.0)),
                                                       ("gaussian_sigma", math.exp(-4.5), math.exp(-9.0)),
                                                       ("sinc", 0.0, np.sinc(math.sqrt(2)))])
def test_point_response_at_the_centres(kernel, neighbour, diagonal):
    # 15×21 map, 35 kernels on a 5×7 grid: spacing 3 cells, centres on cells 1, 4, 7, ...
    tr = VelocityIntegralTransform((15, 21), 35, kernel, dtype=torch.float64)
    assert tr.grid == (5, 7) and tr.spacing == (3.0, 3.0)
    y = torch.zeros(1, 1, 15, 21, dtype=torch.float64)
    y[0, 0, 4, 4] = 1.0                                        # a point at centre (1, 1) = kernel 1·7 + 1
    Y = tr(y)[0]
    assert Y[8].item() == pytest.approx(1.0)
    assert Y[9].item() == pytest.approx(neighbour, abs=1e-12)  # the next centre along x
    assert Y[1].item() == pytest.approx(neighbour, abs=1e-12)  # the next centre along z
    assert Y[16].item() == pytest.approx(diagonal, abs=1e-12)


@pytest.mark.parametrize("kernel", ["sin_sin", "cos_sin", "sin_cos", "sin_sum", "sin_plus"])
def test_sine_decoder_kernels_pick_their_own_pattern(kernel):
    nz, nx, k = 30, 40, 7
    tr = VelocityIntegralTransform((nz, nx), 20, kernel, dtype=torch.float64)
    z = torch.linspace(0, 1, nz, dtype=torch.float64)[:, None]
    x = torch.linspace(0, 1, nx, dtype=torch.float64)[None, :]
    s = lambda a: torch.sin(k * math.pi * a)
    c = lambda a: torch.cos(k * math.pi * a)
    pattern = {"sin_sin": s(x) * s(z), "cos_sin": c(x) * s(z), "sin_cos": s(x) * c(z),
               "sin_sum": s(x + z), "sin_plus": s(x) + s(z)}[kernel]
    Y = tr(pattern.expand(nz, nx)[None, None])[0]
    assert int(Y.argmax()) == k - 1
    # Σ_m Ψ_m² for the matching kernel: the transform of Ψ_k is its squared norm
    assert Y[k - 1].item() == pytest.approx((tr.kernel_matrix[k - 1] ** 2).sum().item())


def test_unknown_kernels_are_refused():
    with pytest.raises(ValueError, match="unknown encoder kernel"):
        SeismicIntegralTransform.from_acquisition(SMALL, 8, kernel="cosine")
    with pytest.raises(ValueError, match="unknown decoder kernel"):
        VelocityIntegralTransform((10, 10), 4, kernel="laplace")
    with pytest.raises(ValueError, match="does not hold"):
        VelocityIntegralTransform((10, 10), 6, grid=(2, 2))


def test_kernels_are_buffers_and_follow_dtype():
    tr = SeismicIntegralTransform.from_acquisition(SMALL, 8, kernel="sin_cos")
    vt = VelocityIntegralTransform((20, 20), 16)
    assert list(tr.parameters()) == [] and list(vt.parameters()) == []
    assert {b.dtype for b in tr.buffers()} == {torch.float32}
    assert tr.to(torch.float64)(torch.randn(1, 3, 200, 20, dtype=torch.float64)).dtype == torch.float64
