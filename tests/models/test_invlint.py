"""InvLINT: ridge map against independent solutions, linearity diagnostics, every decoder variant."""

import math

import numpy as np
import pytest
import torch

from fwilab.metrics import count_parameters
from fwilab.models.invlint import (
    DECODERS,
    InvLINT,
    RidgeNormalEquations,
    essential_dimensions,
    fit_linear_map,
    linearity_report,
    overlap_add,
    singular_values,
    velocity_target,
)
from fwilab.physics.acquisition import OPENFWI

# A small test geometry: 3 shots × 200 time steps × 20 receivers → 20×20 map.
SMALL = OPENFWI.replace(nz=20, nx=20, nt=200, source_x=(0, 10, 19), receiver_x=tuple(range(20)))
INVERSIONNET_PARAMS = 24_409_123   # FACTS.md (OpenFWI network.py)
SMALL_DIMS = (8, 8, 16, 16, 32)    # narrow InversionNet-style decoders for fast tests


def _linear_problem(n, d, m, rng, noise=0.0):
    U = rng.standard_normal((n, d))
    A = rng.standard_normal((m, d))
    b = rng.standard_normal(m)
    return U, A, b, U @ A.T + b + noise * rng.standard_normal((n, m))


# --------------------------------------------------------------------------------------------
# Ridge regression


def test_ridge_recovers_an_exact_linear_map_like_lstsq():
    rng = np.random.default_rng(0)
    U, A, b, Y = _linear_problem(60, 20, 5, rng)
    ref, *_ = np.linalg.lstsq(np.hstack([U, np.ones((60, 1))]), Y, rcond=None)   # [D + 1, M]
    for alpha in (0.0, 1e-10):
        fit = fit_linear_map(U, Y, alpha=alpha)
        np.testing.assert_allclose(fit.weight.numpy(), ref[:-1].T, atol=1e-8)
        np.testing.assert_allclose(fit.bias.numpy(), ref[-1], atol=1e-8)
        np.testing.assert_allclose(fit.weight.numpy(), A, atol=1e-8)
        np.testing.assert_allclose(fit(torch.from_numpy(U)).numpy(), Y, atol=1e-8)


def test_underdetermined_least_squares_is_minimum_norm():
    rng = np.random.default_rng(1)
    U, _, _, Y = _linear_problem(15, 40, 3, rng)
    fit = fit_linear_map(U, Y, alpha=0.0)
    Uc, Yc = U - U.mean(0), Y - Y.mean(0)
    ref, *_ = np.linalg.lstsq(Uc, Yc, rcond=None)                                 # minimum-norm
    np.testing.assert_allclose(fit.weight.numpy(), ref.T, atol=1e-9)
    assert fit.method == "lstsq"


@pytest.mark.parametrize("n,d", [(30, 50), (80, 40)])
def test_primal_and_dual_solutions_agree(n, d):
    rng = np.random.default_rng(2)
    U, _, _, Y = _linear_problem(n, d, 4, rng, noise=0.5)
    p = fit_linear_map(U, Y, alpha=1.0, method="primal")
    q = fit_linear_map(U, Y, alpha=1.0, method="dual")
    assert (p.method, q.method) == ("primal", "dual")
    torch.testing.assert_close(p.weight, q.weight, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(p.bias, q.bias, rtol=1e-9, atol=1e-11)
    assert fit_linear_map(U, Y, method="auto").method == ("primal" if d <= n else "dual")


def test_ridge_shrinkage_matches_the_orthogonal_design_formula():
    # With centred, orthogonal features UcᵀUc = s·I the ridge weight is A·s/(s + α), exactly.
    rng = np.random.default_rng(3)
    n, d, m, s = 100, 10, 3, 7.0
    X = rng.standard_normal((n, d))
    Q, _ = np.linalg.qr(X - X.mean(0))
    U = math.sqrt(s) * Q + rng.standard_normal(d)                 # shifted: the intercept absorbs it
    A = rng.standard_normal((m, d))
    Y = U @ A.T + 2.0
    norms = []
    for alpha in (0.1, 10.0, 1e3, 1e8):
        fit = fit_linear_map(U, Y, alpha=alpha)
        np.testing.assert_allclose(fit.weight.numpy(), A * s / (s + alpha), rtol=1e-9)
        norms.append(fit.weight.norm().item())
    assert norms == sorted(norms, reverse=True) and norms[-1] < 1e-6 * norms[0]


def test_streamed_normal_equations_equal_the_direct_fit():
    rng = np.random.default_rng(4)
    U, _, _, Y = _linear_problem(90, 25, 6, rng, noise=0.3)
    acc = RidgeNormalEquations(25, 6)
    for i in range(0, 90, 32):
        acc.update(torch.from_numpy(U[i:i + 32]).float(), torch.from_numpy(Y[i:i + 32]).float())
    direct = fit_linear_map(torch.from_numpy(U).float(), torch.from_numpy(Y).float(), alpha=1.0)
    streamed = acc.solve(1.0)
    torch.testing.assert_close(streamed.weight, direct.weight, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(streamed.bias, direct.bias, rtol=1e-7, atol=1e-9)


def test_ridge_rejects_bad_input():
    with pytest.raises(ValueError, match="different numbers of samples"):
        fit_linear_map(np.zeros((5, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        fit_linear_map(np.full((5, 3), np.nan), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="alpha"):
        fit_linear_map(np.zeros((5, 3)), np.zeros((5, 2)), alpha=-1)


# --------------------------------------------------------------------------------------------
# Linearity diagnostics


def test_linearity_report_separates_a_linear_problem_from_a_random_target():
    rng = np.random.default_rng(5)
    U, A, b, Y = _linear_problem(500, 60, 8, rng, noise=0.01)
    train, test = slice(0, 400), slice(400, 500)
    linear = linearity_report(fit_linear_map(U[train], Y[train]), U[test], Y[test])
    Z = rng.standard_normal(Y.shape) * Y.std() + 3.0                 # unrelated target, same scale
    control = linearity_report(fit_linear_map(U[train], Z[train]), U[test], Z[test])
    assert linear["r2"] > 0.999
    assert control["r2"] < 0.05                                      # held out: no skill (or worse)
    assert control["mae"] > 20 * linear["mae"]
    # Table 11 reference columns of the target itself
    assert linear["y_range"] == pytest.approx(Y[test].max() - Y[test].min())
    assert linear["y_abs_mean"] == pytest.approx(abs(Y[test].mean()))
    assert linear["n_samples"] == 100
    # a bare matrix is taken as a map without intercept
    exact = linearity_report(torch.from_numpy(A), U, U @ A.T)
    assert exact["mse"] < 1e-20 and exact["r2"] == pytest.approx(1.0)


def test_singular_values_count_the_rank():
    rng = np.random.default_rng(6)
    for r in (1, 7, 20):
        A = rng.standard_normal((30, r)) @ rng.standard_normal((r, 50))
        s = singular_values(torch.from_numpy(A))
        assert s[0].item() == pytest.approx(1.0) and bool((s[:-1] >= s[1:]).all())
        assert int((s > 1e-8).sum()) == r
        assert essential_dimensions(torch.from_numpy(A), threshold=1e-8) == r
    assert singular_values(torch.from_numpy(A), top=5).shape == (5,)
    raw = singular_values(torch.from_numpy(A), normalise=False)
    np.testing.assert_allclose(raw.numpy(), np.linalg.svd(A, compute_uv=False), rtol=1e-10, atol=1e-10)


def test_velocity_targets():
    v = torch.tensor([-1.0, 0.0, 1.0]).reshape(1, 1, 1, 3)
    assert velocity_target(v, "c") is v
    torch.testing.assert_close(velocity_target(v, "c2").flatten(), torch.tensor([1.5 ** 2, 3.0 ** 2, 4.5 ** 2]))
    with pytest.raises(ValueError, match="unknown regression target"):
        velocity_target(v, "slowness")


# --------------------------------------------------------------------------------------------
# Decoder building blocks and the model


def test_overlap_add_averages_the_overlaps():
    # 2×2 tokens, stride 4, block 6: token i fills its block with the value i
    blocks = torch.arange(4.0).repeat_interleave(36).reshape(1, 4, 36)
    canvas = overlap_add(blocks, (2, 2), stride=4, block=6)[0, 0]
    assert canvas.shape == (10, 10)
    assert canvas[0, 0] == 0 and canvas[0, 9] == 1 and canvas[9, 0] == 2 and canvas[9, 9] == 3
    assert canvas[0, 4] == pytest.approx(0.5)            # tokens 0 and 1 overlap in columns 4-5
    assert canvas[4, 4] == pytest.approx(1.5)            # all four tokens overlap
    ones = overlap_add(torch.ones(1, 9, 36), (3, 3), stride=4, block=6)
    torch.testing.assert_close(ones, torch.ones_like(ones))


def _fitted(acq, **kw):
    torch.manual_seed(0)
    model = InvLINT(acq, **kw)
    g = torch.Generator().manual_seed(1)
    model.fit_encoder(torch.randn(6, model.n_features, generator=g), torch.randn(6, model.n_targets, generator=g))
    return model


@pytest.mark.parametrize("decoder", list(DECODERS))
@pytest.mark.parametrize("acq", [OPENFWI, SMALL], ids=["openfwi", "small"])
def test_every_decoder_gives_the_map_shape(decoder, acq):
    model = _fitted(acq, n_sine=16, n_gauss=64, decoder=decoder, embed_dim=32, dims=SMALL_DIMS)
    y = model(torch.randn(2, *acq.seismic_shape))
    assert y.shape == (2, 1, acq.nz, acq.nx)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("decoder", list(DECODERS))
def test_gradient_reaches_every_decoder_parameter_and_no_encoder_tensor(decoder):
    # patch 8 on the 20×20 map → a 3×3 token grid, so every conv tap is used
    model = _fitted(SMALL, n_sine=16, n_gauss=36, decoder=decoder, embed_dim=16, heads=2, patch=8, overlap=2,
                    dims=SMALL_DIMS)
    if decoder not in ("deconv-conv5", "up-conv5"):
        assert model.decoder.grid == (3, 3)
    assert {id(p) for p in model.parameters()} == {id(p) for p in model.decoder.parameters()}
    assert not any(b.requires_grad for b in model.buffers())
    seismic = torch.randn(3, *SMALL.seismic_shape)
    (model(seismic) - torch.randn(3, 1, 20, 20)).abs().mean().backward()
    for name, p in model.decoder.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"
    assert all(b.grad is None for b in model.buffers())


def test_forward_before_fitting_the_encoder_is_refused():
    model = InvLINT(SMALL, n_sine=8, n_gauss=16, embed_dim=16)
    with pytest.raises(RuntimeError, match="fit_encoder"):
        model(torch.randn(1, *SMALL.seismic_shape))


def test_fit_encoder_from_a_dataset_matches_the_direct_fit_and_survives_a_state_dict():
    torch.manual_seed(2)
    model = InvLINT(SMALL, n_sine=8, n_gauss=16, embed_dim=16)
    seismic = torch.randn(40, *SMALL.seismic_shape)
    velocity = torch.rand(40, 1, 20, 20) * 2 - 1
    data = torch.utils.data.TensorDataset(seismic, velocity)
    U, Y = model.integrals(data, batch_size=16, progress=False)
    assert U.shape == (40, 3 * 8) and Y.shape == (40, 16)
    direct = fit_linear_map(U, Y, alpha=1.0)
    streamed = model.fit_encoder_from(data, batch_size=16, progress=False)
    torch.testing.assert_close(streamed.weight, direct.weight, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(model.ridge_map.weight, direct.weight, rtol=1e-5, atol=1e-6)
    # the decoder's input standardisation: Y's mean and RMS about it
    torch.testing.assert_close(model.y_mean.double(), Y.double().mean(0), rtol=1e-5, atol=1e-6)
    assert model.y_scale.item() == pytest.approx((Y - Y.mean(0)).pow(2).mean().sqrt().item(), rel=1e-4)
    torch.testing.assert_close(model.encode(seismic[:4]).double(), direct(U[:4]), rtol=1e-4, atol=1e-4)

    fresh = InvLINT(SMALL, n_sine=8, n_gauss=16, embed_dim=16)
    fresh.load_state_dict(model.state_dict())
    torch.testing.assert_close(fresh(seismic[:2]), model(seismic[:2]))


def test_encoder_stays_float32_under_bf16_autocast():
    """The fit loop autocasts to bf16 on CUDA; the frozen ridge map must not run in bf16."""
    torch.manual_seed(3)
    model = InvLINT(SMALL, n_sine=64, n_gauss=16, embed_dim=16)
    seismic = torch.randn(40, *SMALL.seismic_shape)
    U = model.transform_seismic(seismic).double()
    # a map with large cancelling weights, as ridge maps of collinear features have
    W = torch.randn(16, U.shape[1], dtype=torch.float64) * 50
    model._set_ridge(fit_linear_map(U, U @ W.T, alpha=1e-6), torch.zeros(16), 1.0)
    exact = model.encode(seismic)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model.encode(seismic)
        bf16_product = model.transform_seismic(seismic) @ model.ridge_weight.T   # what autocast would do
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, exact)
    # and the check can fail: the same product in bf16 is off by far more than float32 round-off
    assert (bf16_product.float() - exact).abs().max() > 1e-2 * exact.abs().max()


def test_model_options_are_checked():
    for bad in (dict(decoder="unet"), dict(target="slowness"), dict(encoder_kernel="cosh"),
                dict(decoder_kernel="laplace"), dict(output="relu")):
        with pytest.raises(ValueError, match="unknown"):
            InvLINT(SMALL, n_sine=8, n_gauss=16, **bad)


def test_parameter_count_at_the_paper_settings():
    # 70×70 map → 3×3 tokens of k = 176; blocks (32 + 4)²; M = 512 Gaussian integrals.
    model = InvLINT(OPENFWI)
    k, tokens, block, m = 176, 9, 36 ** 2, 512
    transformer = 2 * 2 * k + (k * 3 * k + 3 * k) + (k * k + k) + (k * 4 * k + 4 * k) + (4 * k * k + k)
    expected = (m * tokens * k + tokens * k) + transformer + (k * block + block)
    assert count_parameters(model) == expected == 1_415_984
    # the paper's Marmousi model (70×70): 1.45 M, 5.9 % of InversionNet
    assert 0.04 < count_parameters(model) / INVERSIONNET_PARAMS < 0.08
    # the frozen encoder holds its A (512 × 5·2048) as buffers, not parameters
    assert model.ridge_weight.shape == (512, 5 * 2048)


def test_inversionnet_decoder_variant_matches_table_4():
    # Table 4: "(Deconv + Conv)×5" — InversionNet's decoder in InvLINT — 12.71 M parameters
    p = count_parameters(InvLINT(OPENFWI, n_sine=8, decoder="deconv-conv5"))
    assert abs(p - 12.71e6) / 12.71e6 < 0.01
