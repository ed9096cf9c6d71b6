"""Metrics of learned FWI, as OpenFWI's ``test.py``, plus model cost and Fréchet distance.

Map metrics take torch tensors ``[batch, 1, H, W]`` (velocity normalised to [-1, 1] unless a
function says otherwise) and return per-sample values ``[batch]``; :func:`evaluate` averages them.

- MAE, MSE: on normalised [-1, 1] maps (OpenFWI ``test.py``: ``nn.L1Loss``, ``nn.MSELoss`` on
  the concatenated test set). RMSE = √MSE of the pooled batch, as the OpenFWI benchmark tables
  report it (the mean of per-sample RMSEs would be smaller, by Jensen's inequality).
- MAE in m/s: normalisation maps 1500..4500 m/s linearly to -1..1, so
  ``v = 3000 + 1500·x`` and ``|Δv| = 1500·|Δx|``: MAE [m/s] = 1500 × normalised MAE
  (RMSE likewise, MSE × 1500²). 1500 = (4500 − 1500)/2, half the velocity range.
- SSIM: OpenFWI's ``pytorch_ssim`` — 11×11 Gaussian window (σ = 1.5), constants
  ``C1 = 0.01², C2 = 0.03²`` (data range 1), population (biased) local variances, maps mapped
  to [0, 1] by ``x/2 + 0.5``, and **zero padding** of ``window // 2`` at the border; the SSIM
  map is averaged over all pixels (borders included). :func:`evaluate` computes it in float64
  (float32, as pytorch_ssim, loses up to ~1e-4 on smooth maps through ``E[x²] − μ²``).
- PSNR: ``10·log10(data_range² / MSE)`` per sample; on [-1, 1] maps data_range = 2, which gives the
  same number as PSNR on the [0, 1] maps with data_range = 1.
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: OpenFWI dataset_config.json: label_min 1500, label_max 4500 m/s for all ten datasets.
VELOCITY_MIN: float = 1500.0
VELOCITY_MAX: float = 4500.0
#: m/s per normalised unit: (4500 − 1500)/2, since [-1, 1] spans the 3000 m/s range.
VELOCITY_SCALE: float = (VELOCITY_MAX - VELOCITY_MIN) / 2.0

# OpenFWI pytorch_ssim.py (from Po-Hsun-Su/pytorch-ssim) and test.py: SSIM(window_size=11), σ = 1.5.
SSIM_WINDOW: int = 11
SSIM_SIGMA: float = 1.5
SSIM_K1: float = 0.01  # Wang et al. 2004; pytorch_ssim: C1 = 0.01**2 (data range 1)
SSIM_K2: float = 0.03  # Wang et al. 2004; pytorch_ssim: C2 = 0.03**2


def _check_maps(pred: torch.Tensor, target: torch.Tensor) -> None:
    if not (isinstance(pred, torch.Tensor) and isinstance(target, torch.Tensor)):
        raise ValueError("metrics take torch tensors [batch, 1, H, W]")
    if pred.dim() != 4:
        raise ValueError(f"expected maps [batch, channel, H, W], got shape {tuple(pred.shape)}")
    if pred.shape != target.shape:
        raise ValueError(f"prediction and target differ in shape: {tuple(pred.shape)} vs {tuple(target.shape)}")
    if pred.shape[0] == 0:
        raise ValueError("empty batch")


def _per_sample(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1).mean(dim=1)


def mae(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error per sample ``[batch]`` (in the units of the inputs)."""
    _check_maps(pred, target)
    return _per_sample((pred - target).abs())


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per sample ``[batch]``."""
    _check_maps(pred, target)
    return _per_sample((pred - target) ** 2)


def rmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Root mean squared error per sample ``[batch]`` (see the module note on pooled RMSE)."""
    return mse(pred, target).sqrt()


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Peak signal-to-noise ratio per sample ``[batch]`` in dB: ``10·log10(data_range² / MSE)``.

    ``data_range`` is 2 for normalised [-1, 1] velocity (the default); identical maps give +inf.
    """
    if not data_range > 0:
        raise ValueError(f"data_range must be > 0, got {data_range}")
    err = mse(pred, target)
    return 10.0 * torch.log10(data_range ** 2 / err)


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA,
                    dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """Normalised 2-D Gaussian window ``[size, size]`` (outer product of 1-D ``exp(−(k−c)²/2σ²)``)."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"SSIM window size must be a positive odd number, got {size}")
    k = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(k ** 2) / (2.0 * sigma ** 2))
    g = g / g.sum()
    return torch.outer(g, g).to(dtype=dtype, device=device)


def ssim_map(img1: torch.Tensor, img2: torch.Tensor, window_size: int = SSIM_WINDOW,
             sigma: float = SSIM_SIGMA, data_range: float = 1.0) -> torch.Tensor:
    """Local SSIM map ``[batch, channel, H, W]`` of two image batches ``[batch, channel, H, W]``.

    Gaussian-weighted local means, population variances and covariance (Wang et al. 2004), the
    window applied per channel by ``conv2d`` with zero padding of ``window_size // 2`` — exactly
    OpenFWI's ``pytorch_ssim``. Within ``window_size // 2`` pixels of the border the window
    overlaps the zero padding, so those values differ from implementations that reflect or crop.
    """
    _check_maps(img1, img2)
    c = img1.shape[1]
    w = gaussian_window(window_size, sigma, img1.dtype, img1.device).expand(c, 1, window_size, window_size)
    pad = window_size // 2

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, w, padding=pad, groups=c)

    mu1, mu2 = blur(img1), blur(img2)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    var1 = blur(img1 * img1) - mu1_sq
    var2 = blur(img2 * img2) - mu2_sq
    cov = blur(img1 * img2) - mu12
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    return ((2 * mu12 + c1) * (2 * cov + c2)) / ((mu1_sq + mu2_sq + c1) * (var1 + var2 + c2))


def ssim(img1: torch.Tensor, img2: torch.Tensor, window_size: int = SSIM_WINDOW,
         sigma: float = SSIM_SIGMA, data_range: float = 1.0) -> torch.Tensor:
    """SSIM per sample ``[batch]``: the mean of :func:`ssim_map` over channels and pixels.

    Inputs are images with the given ``data_range`` (velocity maps mapped to [0, 1], as
    OpenFWI's ``test.py`` does with ``x / 2 + 0.5``, for data_range 1).
    """
    return _per_sample(ssim_map(img1, img2, window_size, sigma, data_range))


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """Normalised velocity [-1, 1] → [0, 1] (``x/2 + 0.5``, OpenFWI test.py)."""
    return x / 2 + 0.5


def evaluate(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> dict:
    """All map metrics of a batch of normalised velocity maps ``[batch, 1, H, W]`` in [-1, 1].

    Returns a dict with ``mae, mse, rmse, ssim, psnr`` (normalised units; SSIM on [0, 1] maps)
    and ``mae_ms, rmse_ms`` (m/s). With ``reduction='mean'`` (default) values are Python floats:
    per-sample means, except RMSE = √(mean MSE) as in the OpenFWI tables. With
    ``reduction='none'`` each value is a per-sample tensor ``[batch]`` (``rmse`` per sample),
    to be concatenated over a test set and reduced by the caller.
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"unknown reduction {reduction!r}: choose 'mean' or 'none'")
    _check_maps(pred, target)
    with torch.no_grad():
        pred, target = pred.detach(), target.detach()
        m = {
            "mae": mae(pred, target),
            "mse": mse(pred, target),
            # float64: in float32 the local variances E[x²] − μ² of smooth maps lose ~1e-4
            "ssim": ssim(to_unit_range(pred.double()), to_unit_range(target.double())).to(pred.dtype),
            "psnr": psnr(pred, target, data_range=2.0),
        }
        if reduction == "none":
            m["rmse"] = m["mse"].sqrt()
            m["mae_ms"] = m["mae"] * VELOCITY_SCALE
            m["rmse_ms"] = m["rmse"] * VELOCITY_SCALE
            return m
        out = {k: float(v.mean()) for k, v in m.items()}
        out["rmse"] = math.sqrt(out["mse"])
        out["mae_ms"] = out["mae"] * VELOCITY_SCALE
        out["rmse_ms"] = out["rmse"] * VELOCITY_SCALE
        return out


# --------------------------------------------------------------------------------------------
# Model cost


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1) of a result over seeds; the std of one value is 0."""
    v = np.asarray(list(values), dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (``requires_grad``), BatchNorm running statistics excluded."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _example_input(model: nn.Module, input_shape: tuple[int, ...]) -> torch.Tensor:
    try:
        p = next(model.parameters())
        dtype, device = p.dtype, p.device
    except StopIteration:
        dtype, device = torch.float32, torch.device("cpu")
    return torch.zeros((1, *input_shape), dtype=dtype, device=device)


def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Forward FLOPs for one sample (``input_shape`` without the batch axis).

    Counted by ``torch.utils.flop_counter.FlopCounterMode`` on a batch of one in eval mode;
    it counts matrix products and convolutions only, a multiply-add as 2 FLOPs (so a conv layer
    costs ``2 · C_in · k_h · k_w · C_out · H_out · W_out``); normalisation, activations and
    element-wise ops are not counted.
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        x = _example_input(model, tuple(input_shape))
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
        return int(counter.get_total_flops())
    finally:
        model.train(was_training)


#: FFT ops and the share of the ``5 N log2 N`` complex-FFT convention they cost: a real-input (or real-output)
#: transform is half a complex one
_FFT_OPS: dict[str, float] = {"_fft_r2c": 0.5, "_fft_c2r": 0.5, "_fft_c2c": 1.0}


def count_fft_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Forward FLOPs of the FFTs of one sample (``input_shape`` without the batch axis), which
    :func:`count_flops` leaves out: ``5 N log2 N`` per complex transform of N points (the usual convention,
    radix-2 Cooley–Tukey), half that for a real-input or real-output one, per transformed line and axis.

    Counted by intercepting ``aten._fft_r2c / _fft_c2r / _fft_c2c`` on a batch of one in eval mode. A
    multi-dimensional transform over axes of sizes ``n_1 … n_d`` costs the sum over axes of
    ``(lines along that axis) · 5 n_a log2 n_a`` (times the real-transform half).
    """
    import math as _math

    from torch.utils._python_dispatch import TorchDispatchMode

    total = [0.0]

    class _Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            name = func.__name__.split(".")[0]
            if name in _FFT_OPS:
                x, dims = args[0], args[1]
                # the complex-side shape: the output of r2c, the input of c2r and c2c
                full = list((out if name == "_fft_r2c" else x).shape)
                if name == "_fft_c2r":
                    full[dims[-1]] = int(args[-1]) if isinstance(args[-1], int) else out.shape[dims[-1]]
                elif name == "_fft_r2c":
                    full[dims[-1]] = x.shape[dims[-1]]
                points = _math.prod(full)
                for d in dims:
                    n = full[d]
                    if n > 1:
                        total[0] += _FFT_OPS[name] * 5.0 * (points / n) * n * _math.log2(n)
            return out

    was_training = model.training
    model.eval()
    try:
        x = _example_input(model, tuple(input_shape))
        with torch.no_grad(), _Count():
            model(x)
        return int(round(total[0]))
    finally:
        model.train(was_training)


def cpu_latency(model: nn.Module, input_shape: tuple[int, ...], repeats: int = 10,
                warmup: int = 2) -> float:
    """Median wall time [s] of one forward pass at batch 1, on the model's device.

    Eval mode, ``torch.inference_mode``; ``warmup`` untimed passes first. On CUDA the device is
    synchronised around each pass. (Named for its use here: CPU latency of a 2-core machine.)
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    was_training = model.training
    model.eval()
    try:
        x = _example_input(model, tuple(input_shape))
        sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
        times = []
        with torch.inference_mode():
            for i in range(warmup + repeats):
                sync()
                t0 = time.perf_counter()
                model(x)
                sync()
                if i >= warmup:
                    times.append(time.perf_counter() - t0)
        return statistics.median(times)
    finally:
        model.train(was_training)


# --------------------------------------------------------------------------------------------
# Fréchet distance


def frechet_distance(features1, features2) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``[n_samples, n_features]``.

    ``d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^{1/2})`` (Dowson & Landau 1982; FID, Heusel et al.
    2017), with sample covariances (``ddof = 1``) and ``scipy.linalg.sqrtm``; a tiny diagonal is
    added when the product is near-singular, and the imaginary round-off part is dropped. Returns
    d² (the quantity FID reports). Accepts numpy arrays or torch tensors.
    """
    f1 = _as_features(features1, "features1")
    f2 = _as_features(features2, "features2")
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"feature sets differ in dimension: {f1.shape[1]} vs {f2.shape[1]}")
    mu1, mu2 = f1.mean(axis=0), f2.mean(axis=0)
    s1 = np.atleast_2d(np.cov(f1, rowvar=False))
    s2 = np.atleast_2d(np.cov(f2, rowvar=False))
    return frechet_distance_gaussians(mu1, s1, mu2, s2)


def frechet_distance_samples(features1, features2) -> float:
    """:func:`frechet_distance` computed from the samples, without a ``d × d`` matrix square root: exact, and
    cheap when there are fewer samples than features (FID: 2,048 features of a few hundred images).

    With the centred sets ``X [n₁, d]``, ``Y [n₂, d]``, ``Σ₁ = XᵀX/(n₁ − 1)`` and ``Σ₂ = YᵀY/(n₂ − 1)``, the
    non-zero eigenvalues of ``Σ₁Σ₂`` are those of ``(XYᵀ)(XYᵀ)ᵀ / ((n₁ − 1)(n₂ − 1))``, so
    ``Tr (Σ₁Σ₂)^{1/2}`` is the sum of the singular values of ``XYᵀ / √((n₁ − 1)(n₂ − 1))``: an ``n₁ × n₂`` SVD.
    """
    f1 = _as_features(features1, "features1")
    f2 = _as_features(features2, "features2")
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"feature sets differ in dimension: {f1.shape[1]} vs {f2.shape[1]}")
    mu1, mu2 = f1.mean(axis=0), f2.mean(axis=0)
    x, y = f1 - mu1, f2 - mu2
    c1, c2 = len(f1) - 1, len(f2) - 1
    nuclear = float(np.linalg.svd(x @ y.T, compute_uv=False).sum()) / np.sqrt(c1 * c2)
    diff = mu1 - mu2
    return float(diff @ diff + (x * x).sum() / c1 + (y * y).sum() / c2 - 2.0 * nuclear)


def frechet_with_interval(real, generated, rng: np.random.Generator, n_bootstrap: int = 100,
                          distance=frechet_distance) -> dict[str, float]:
    """``distance`` (:func:`frechet_distance`, or :func:`frechet_distance_samples`) of two feature sets ``[n, d]``
    and a bootstrap 95 % interval: ``n_bootstrap`` resamples of both sets (with replacement), the 2.5 and 97.5
    percentiles. ``{"fd", "low", "high"}``."""
    a, b = _as_features(real, "real"), _as_features(generated, "generated")
    boot = [distance(a[rng.integers(0, len(a), len(a))], b[rng.integers(0, len(b), len(b))])
            for _ in range(n_bootstrap)]
    return {"fd": distance(a, b), "low": float(np.percentile(boot, 2.5)), "high": float(np.percentile(boot, 97.5))}


def frechet_distance_gaussians(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance d² between N(mu1, sigma1) and N(mu2, sigma2) (means ``[d]``, covariances ``[d, d]``)."""
    from scipy import linalg

    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"inconsistent shapes: means {mu1.shape}, {mu2.shape}; covariances {s1.shape}, {s2.shape}")
    diff = mu1 - mu2
    covmean = linalg.sqrtm(s1 @ s2)  # no `disp`: deprecated in SciPy 1.16
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def _as_features(f, name: str) -> np.ndarray:
    if isinstance(f, torch.Tensor):
        f = f.detach().cpu().double().numpy()
    f = np.asarray(f, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"{name} must be [n_samples >= 2, n_features], got shape {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError(f"{name} contains NaN or inf")
    return f
