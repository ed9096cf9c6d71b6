"""Metrics against independent references: numpy, scikit-image, scipy, analytic Gaussians."""

import time

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torch import nn

from fwilab.metrics import (
    VELOCITY_SCALE,
    count_flops,
    count_parameters,
    cpu_latency,
    evaluate,
    frechet_distance,
    frechet_distance_gaussians,
    mae,
    mse,
    psnr,
    rmse,
    ssim,
    ssim_map,
)

HALF = 11 // 2  # border affected by the window


def image_pairs(seed=0, batch=3, size=40):
    """A random pair (white noise in [0, 1]) and smooth pairs (blurred noise, a smooth bump)."""
    rng = np.random.default_rng(seed)
    a = rng.random((batch, 1, size, size))
    b = np.clip(a + 0.2 * rng.standard_normal(a.shape), 0, 1)
    yy, xx = np.mgrid[0:size, 0:size] / size
    smooth_a = ndimage.gaussian_filter(rng.random((batch, 1, size, size)), sigma=(0, 0, 4, 4))
    smooth_a = (smooth_a - smooth_a.min()) / (smooth_a.max() - smooth_a.min())
    smooth_b = np.clip(smooth_a + 0.3 * np.exp(-((yy - 0.5) ** 2 + (xx - 0.4) ** 2) / 0.05), 0, 1)
    return [(a, b), (smooth_a, smooth_b)]


@pytest.mark.parametrize("pair", [0, 1], ids=["random", "smooth"])
def test_ssim_agrees_with_skimage_in_the_interior(pair):
    # OpenFWI's pytorch_ssim zero-pads the image by window//2 before the Gaussian filter;
    # skimage instead filters with its own border mode and then crops window//2 pixels off every
    # side before averaging. Away from the border both see the same 11×11 window (skimage:
    # truncate 3.5 → radius int(3.5·1.5 + 0.5) = 5, normalised), the same constants and
    # population variances, so the SSIM *maps* agree there, and skimage's mean SSIM equals the
    # mean of our map over the interior.
    # Compared in float64: in float32 the local variance E[x²] − μ² loses digits on smooth
    # images (low variance), an error of up to ~1e-4 per pixel, checked separately below.
    a, b = image_pairs()[pair]
    ours = ssim_map(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    ours32 = ssim_map(torch.from_numpy(a).float(), torch.from_numpy(b).float()).double().numpy()
    for i in range(a.shape[0]):
        mssim, full = structural_similarity(a[i, 0], b[i, 0], gaussian_weights=True, sigma=1.5,
                                            use_sample_covariance=False, data_range=1.0, full=True)
        interior = ours[i, 0, HALF:-HALF, HALF:-HALF]
        np.testing.assert_allclose(interior, full[HALF:-HALF, HALF:-HALF], atol=1e-6)
        assert interior.mean() == pytest.approx(mssim, abs=1e-6)
        interior32 = ours32[i, 0, HALF:-HALF, HALF:-HALF]
        np.testing.assert_allclose(interior32, full[HALF:-HALF, HALF:-HALF], atol=5e-4)
        assert interior32.mean() == pytest.approx(mssim, abs=1e-4)


@pytest.mark.parametrize("pair", [0, 1], ids=["random", "smooth"])
def test_ssim_uses_zero_padding_like_openfwi(pair):
    # Independent reference of the whole map with pytorch_ssim's border convention: scipy
    # correlate with a zero constant border, in float64.
    a, b = image_pairs(seed=1)[pair]
    k = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5 ** 2))
    k /= k.sum()
    win = np.outer(k, k)

    def blur(x):
        return ndimage.correlate(x, win, mode="constant", cval=0.0)

    ref = []
    for i in range(a.shape[0]):
        x, y = a[i, 0], b[i, 0]
        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
        c1, c2 = 0.01 ** 2, 0.03 ** 2
        s = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
        ref.append(s.mean())
    ours = ssim(torch.from_numpy(a).float(), torch.from_numpy(b).float()).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    # and it is not the cropped (skimage) number: the zero-padded border lowers it
    skimage_mean = [structural_similarity(a[i, 0], b[i, 0], gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False, data_range=1.0)
                    for i in range(a.shape[0])]
    assert not np.allclose(ours, skimage_mean, atol=1e-3)


def test_ssim_invariants():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 30, 30)
    torch.testing.assert_close(ssim(x, x), torch.ones(4))
    y = torch.rand(4, 1, 30, 30)
    s = ssim(x, y)
    torch.testing.assert_close(s, ssim(y, x))                   # symmetric
    torch.testing.assert_close(s[2:3], ssim(x[2:3], y[2:3]))    # batched = one by one
    assert (s < 0.5).all()                                      # independent noise is dissimilar


def test_mae_mse_rmse_against_numpy():
    rng = np.random.default_rng(2)
    p, t = rng.uniform(-1, 1, (5, 1, 7, 9)), rng.uniform(-1, 1, (5, 1, 7, 9))
    tp, tt = torch.from_numpy(p), torch.from_numpy(t)
    np.testing.assert_allclose(mae(tp, tt).numpy(), np.abs(p - t).mean(axis=(1, 2, 3)))
    np.testing.assert_allclose(mse(tp, tt).numpy(), ((p - t) ** 2).mean(axis=(1, 2, 3)))
    np.testing.assert_allclose(rmse(tp, tt).numpy(), np.sqrt(((p - t) ** 2).mean(axis=(1, 2, 3))))


def test_psnr_against_skimage():
    rng = np.random.default_rng(3)
    t = rng.uniform(-1, 1, (4, 1, 20, 20))
    p = np.clip(t + 0.1 * rng.standard_normal(t.shape), -1, 1)
    ours = psnr(torch.from_numpy(p), torch.from_numpy(t), data_range=2.0).numpy()
    ref = [peak_signal_noise_ratio(t[i, 0], p[i, 0], data_range=2.0) for i in range(4)]
    np.testing.assert_allclose(ours, ref, rtol=1e-10)
    # the same number on the [0, 1] maps with data_range 1
    ref01 = [peak_signal_noise_ratio(t[i, 0] / 2 + 0.5, p[i, 0] / 2 + 0.5, data_range=1.0) for i in range(4)]
    np.testing.assert_allclose(ours, ref01, rtol=1e-10)


def test_evaluate_in_metres_per_second_and_pooled_rmse():
    rng = np.random.default_rng(4)
    t = rng.uniform(-1, 1, (6, 1, 70, 70)).astype(np.float32)
    p = np.clip(t + 0.05 * rng.standard_normal(t.shape), -1, 1).astype(np.float32)
    m = evaluate(torch.from_numpy(p), torch.from_numpy(t))
    # denormalise independently: [-1, 1] ↔ 1500..4500 m/s
    v_t, v_p = 1500 + (t + 1) / 2 * 3000, 1500 + (p + 1) / 2 * 3000
    assert VELOCITY_SCALE == 1500.0
    assert m["mae_ms"] == pytest.approx(np.abs(v_p - v_t).mean(), rel=1e-4)
    assert m["rmse_ms"] == pytest.approx(np.sqrt(((v_p - v_t) ** 2).mean()), rel=1e-4)
    assert m["mae"] == pytest.approx(np.abs(p - t).mean(), rel=1e-5)
    assert m["rmse"] == pytest.approx(np.sqrt(((p - t) ** 2).mean()), rel=1e-5)  # pooled, as OpenFWI
    assert 0 < m["ssim"] < 1 and m["psnr"] > 20
    per = evaluate(torch.from_numpy(p), torch.from_numpy(t), reduction="none")
    assert per["ssim"].shape == (6,)
    assert float(per["ssim"].mean()) == pytest.approx(m["ssim"])
    with pytest.raises(ValueError, match="differ in shape"):
        evaluate(torch.zeros(2, 1, 5, 5), torch.zeros(2, 1, 5, 6))


def test_count_parameters_counts_trainable_only():
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Linear(4, 5))
    assert count_parameters(net) == (2 * 3 * 9 + 3) + (3 + 3) + (4 * 5 + 5)
    net[2].weight.requires_grad_(False)
    assert count_parameters(net) == (2 * 3 * 9 + 3) + (3 + 3) + 5


def test_count_flops_is_two_per_multiply_add():
    conv = nn.Conv2d(3, 8, (5, 3), stride=2, padding=1)
    h_out, w_out = (20 + 2 - 5) // 2 + 1, (16 + 2 - 3) // 2 + 1
    assert count_flops(conv, (3, 20, 16)) == 2 * 3 * 5 * 3 * 8 * h_out * w_out
    deconv = nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1)  # every input pixel × k² outputs
    assert count_flops(deconv, (4, 5, 6)) == 2 * 4 * 2 * 16 * 5 * 6
    lin = nn.Sequential(nn.Flatten(), nn.Linear(12, 7))
    assert count_flops(lin, (3, 4)) == 2 * 12 * 7


def test_cpu_latency_times_forward_passes_in_inference_mode():
    class Sleepy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)
            self.calls = 0

        def forward(self, x):
            assert torch.is_inference_mode_enabled() and not self.training and x.shape == (1, 3)
            self.calls += 1
            time.sleep(0.02)
            return self.lin(x)

    m = Sleepy().train()
    t = cpu_latency(m, (3,), repeats=3, warmup=2)
    assert t >= 0.02
    assert m.calls == 5 and m.training  # warm-up + timed passes; training mode restored


def whitened(rng, n, mean, std):
    """Samples whose sample mean and sample covariance (ddof 1) are exactly mean and diag(std²)."""
    x = rng.standard_normal((n, len(mean)))
    x -= x.mean(axis=0)
    chol = np.linalg.cholesky(np.cov(x, rowvar=False))
    x = x @ np.linalg.inv(chol).T
    return x * std + mean


def test_frechet_distance_of_diagonal_gaussians():
    # For diagonal covariances Tr(Σ1 + Σ2 − 2(Σ1Σ2)^½) = Σ_i (σ1_i − σ2_i)²
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    s1, s2 = np.array([1.0, 2.0, 0.5]), np.array([3.0, 0.5, 0.5])
    analytic = np.sum((mu1 - mu2) ** 2) + np.sum((s1 - s2) ** 2)
    assert frechet_distance_gaussians(mu1, np.diag(s1 ** 2), mu2, np.diag(s2 ** 2)) == pytest.approx(analytic, rel=1e-10)
    rng = np.random.default_rng(5)
    f1, f2 = whitened(rng, 500, mu1, s1), whitened(rng, 800, mu2, s2)
    assert frechet_distance(f1, f2) == pytest.approx(analytic, rel=1e-8)
    assert frechet_distance(torch.from_numpy(f1), torch.from_numpy(f2)) == pytest.approx(analytic, rel=1e-8)
    assert frechet_distance(f1, f1) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_is_invariant_to_rotation():
    rng = np.random.default_rng(6)
    f1 = rng.standard_normal((400, 4)) @ rng.standard_normal((4, 4))
    f2 = rng.standard_normal((300, 4)) * 2 + 1
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    assert frechet_distance(f1 @ q, f2 @ q) == pytest.approx(frechet_distance(f1, f2), rel=1e-6)
    with pytest.raises(ValueError, match="dimension"):
        frechet_distance(f1, f2[:, :3])


def test_fft_flops_follow_the_5_n_log2_n_convention():
    import math

    from fwilab.metrics import count_fft_flops

    class RoundTrip(torch.nn.Module):   # a real 2-D transform and its inverse: 2 × 2.5 N log2 N
        def forward(self, x):
            return torch.fft.irfft2(torch.fft.rfft2(x) * 2, s=x.shape[-2:])

    class Complex(torch.nn.Module):     # one complex 1-D transform along the last axis
        def forward(self, x):
            return torch.fft.fft(x.to(torch.complex64), dim=-1).real

    n = 3 * 64 * 32
    assert count_fft_flops(RoundTrip(), (3, 64, 32)) == round(2 * 2.5 * n * math.log2(64 * 32))
    assert count_fft_flops(Complex(), (4, 128)) == 5 * 4 * 128 * 7
    assert count_fft_flops(torch.nn.Linear(8, 8), (8,)) == 0
