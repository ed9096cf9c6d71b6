"""What InvLINT's sine transform does on a sampled record (issue on linearity): at N >= nt the kernels span
the time axis as an orthogonal basis, each component 2-3 times, and ridge regression on U is ridge on the
receiver-averaged traces with a re-weighted penalty."""

import numpy as np
import pytest
import torch

from fwilab.layers.integral import SeismicIntegralTransform, sine_fold, sine_spectrum, unique_sine_kernels
from fwilab.models.ridge import fit_linear_map


def kernel_matrix(nt, n_kernels):
    t = SeismicIntegralTransform(n_kernels, nt, 1, kernel="sin", dtype=torch.float64)
    return t.time_kernel_0.numpy().T        # [N, nt]


def test_openfwi_size_spectrum_is_sqrt_999_and_sqrt_1498_5():
    spec = sine_spectrum(1000, 2048)
    assert len(spec["components"]) == 998                       # rank nt - 2
    assert set(spec["multiplicity"]) == {2, 3} and int((spec["multiplicity"] == 3).sum()) == 50
    assert set(np.round(spec["singular_values"] ** 2, 6)) == {999.0, 1498.5}


@pytest.mark.parametrize("nt, n", [(40, 100), (40, 39), (33, 200), (50, 20)])
def test_closed_form_matches_the_svd_of_the_kernels(nt, n):
    K = kernel_matrix(nt, n)
    sv = np.linalg.svd(K, compute_uv=False)
    predicted = np.sort(sine_spectrum(nt, n)["singular_values"])[::-1]
    np.testing.assert_allclose(sv[:len(predicted)], predicted, rtol=1e-10)
    assert np.all(sv[len(predicted):] < 1e-9)                   # nothing beyond the predicted rank


def test_fold_reproduces_every_kernel_from_one_basis_vector():
    nt, n = 30, 130
    K = kernel_matrix(nt, n)
    comp, sign = sine_fold(nt, n)
    i = np.arange(nt)
    for row, (k, s) in enumerate(zip(comp, sign)):
        np.testing.assert_allclose(K[row], s * np.sin(k * np.pi * i / (nt - 1)), atol=1e-12)
    keep = unique_sine_kernels(nt, n)
    assert len(keep) == nt - 2 and sorted(comp[keep]) == list(range(1, nt - 1))


def test_ridge_on_U_is_ridge_on_the_traces_with_a_reweighted_penalty():
    """K = Q Σ Vᵀ: the map A on U = ū Kᵀ acts as B = A Q Σ on z = ū V, and |A|² = Σ_j |b_j|²/σ_j² on the
    span, so ridge(U, α) = generalized ridge(z, α / σ_j²): identical predictions on new traces."""
    rng = np.random.default_rng(0)
    nt, n_kernels, n, m = 24, 60, 40, 3                   # N > nt: repeated components
    traces = rng.standard_normal((n + 10, nt))
    Y = rng.standard_normal((n + 10, m))
    K = kernel_matrix(nt, n_kernels)
    U = traces @ K.T
    alpha = 5.0
    ridge = fit_linear_map(torch.from_numpy(U[:n]), torch.from_numpy(Y[:n]), alpha=alpha)
    pred_u = ridge(torch.from_numpy(U[n:])).numpy()
    # the same fit on the rotated traces: z = ū V (V: the right singular vectors), penalty α/σ²
    _, sv, Vt = np.linalg.svd(K, full_matrices=False)
    r = int((sv > 1e-9).sum())
    V, sv = Vt[:r].T, sv[:r]
    z = traces @ V
    zc, yc = z[:n] - z[:n].mean(0), Y[:n] - Y[:n].mean(0)
    B = np.linalg.solve(zc.T @ zc + alpha * np.diag(1 / sv ** 2), zc.T @ yc)
    pred_z = (z[n:] - z[:n].mean(0)) @ B + Y[:n].mean(0)
    np.testing.assert_allclose(pred_u, pred_z, rtol=1e-8, atol=1e-10)
    # and the unique kernels alone carry the same information: the penalty is all that changes
    keep = unique_sine_kernels(nt, n_kernels)
    assert np.linalg.matrix_rank(U[:, keep]) == np.linalg.matrix_rank(U) == min(n + 10, r)


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="need nt >= 2 and n_kernels >= 1"):
        sine_fold(1, 10)
