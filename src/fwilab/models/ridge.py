"""The linear map of InvLINT: ridge regression ``Y ≈ A U + b`` between the integral transforms, and the
statistics of the fitted map (its linearity on held-out data, its singular values and "essential dimensions").

Shapes: ``U [n, features]`` (the sine-kernel transform of the seismic data), ``Y [n, M]`` (the Gaussian-kernel
transform of the velocity maps), ``A [M, features]``, ``b [M]``; float64 throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

#: InvLINT §4.1.2: "set the regularization parameter α = 1"
RIDGE_ALPHA: float = 1.0




@dataclass(frozen=True)
class RidgeMap:
    """A fitted linear map ``Y ≈ U Aᵀ + b``.

    Attributes:
        weight: A, float64 ``[M, D]`` (targets × features).
        bias: b, float64 ``[M]``.
        alpha: the ridge penalty it was solved with.
        method: ``'primal'``, ``'dual'`` or ``'lstsq'`` (α = 0).
    """

    weight: torch.Tensor
    bias: torch.Tensor
    alpha: float
    method: str

    def __call__(self, U: torch.Tensor) -> torch.Tensor:
        """``U [n, D]`` → ``Ŷ [n, M]`` in float64."""
        return U.to(torch.float64) @ self.weight.to(U.device).T + self.bias.to(U.device)


def _as_2d_float64(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(x).detach().to(torch.float64)
    if t.dim() != 2:
        raise ValueError(f"{name} must be 2-D [samples, features], got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return t


def _spd_solve(G: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Solve ``G X = B`` for symmetric positive definite G (Cholesky; LU if that fails)."""
    L, info = torch.linalg.cholesky_ex(G)
    if int(info) == 0:
        return torch.cholesky_solve(B, L)
    return torch.linalg.solve(G, B)


def fit_linear_map(U, Y, alpha: float = RIDGE_ALPHA, method: str = "auto",
                   fit_intercept: bool = True) -> RidgeMap:
    """Closed-form ridge regression ``min_A,b ‖Y − U Aᵀ − b‖² + α‖A‖²`` in float64.

    Args:
        U: features ``[n, D]`` (e.g. sine-kernel integrals of the seismic data).
        Y: targets ``[n, M]`` (e.g. Gaussian-kernel integrals of the velocity maps).
        alpha: ridge penalty (paper α = 1); 0 gives the minimum-norm least-squares solution.
        method: ``'primal'`` solves the ``D × D`` system ``(UcᵀUc + αI) Aᵀ = UcᵀYc``, ``'dual'``
            the ``n × n`` system ``Aᵀ = Ucᵀ (Uc Ucᵀ + αI)⁻¹ Yc``; ``'auto'`` picks the smaller.
        fit_intercept: centre U and Y and fit b (default True).

    As scikit-learn's ``Ridge(alpha=1)`` — the likely tool behind the paper's "Ridge regression
    ... α = 1" — the intercept is fitted and not penalised, and the features are *not*
    standardised: the penalty acts on U at the scale the kernels give it (sums over time
    samples, see :mod:`fwilab.layers.integral`, where α = 1 is close to the best held-out fit on
    FlatVel-like data). Standardising would change what α = 1 means, and would blow up
    near-constant features (e.g. the zero kernels at n = nt − 1, 2(nt − 1)).
    """
    U, Y = _as_2d_float64(U, "U"), _as_2d_float64(Y, "Y")
    if U.shape[0] != Y.shape[0]:
        raise ValueError(f"U and Y hold different numbers of samples: {U.shape[0]} vs {Y.shape[0]}")
    if not (alpha >= 0 and math.isfinite(alpha)):
        raise ValueError(f"ridge alpha must be a finite number >= 0, got {alpha}")
    if method not in ("auto", "primal", "dual"):
        raise ValueError(f"unknown ridge method {method!r}: choose 'auto', 'primal' or 'dual'")
    n, d = U.shape
    if fit_intercept:
        u_mean, y_mean = U.mean(0), Y.mean(0)
        Uc, Yc = U - u_mean, Y - y_mean
    else:
        u_mean, y_mean = U.new_zeros(d), Y.new_zeros(Y.shape[1])
        Uc, Yc = U, Y
    if alpha == 0:
        used = "lstsq"
        At = torch.linalg.pinv(Uc) @ Yc                                    # minimum-norm solution
    else:
        used = method if method != "auto" else ("primal" if d <= n else "dual")
        if used == "primal":
            G = Uc.T @ Uc
            G.diagonal().add_(alpha)
            At = _spd_solve(G, Uc.T @ Yc)                                  # [D, M]
        else:
            K = Uc @ Uc.T
            K.diagonal().add_(alpha)
            At = Uc.T @ _spd_solve(K, Yc)                                  # [D, M]
    weight = At.T.contiguous()
    bias = y_mean - weight @ u_mean
    return RidgeMap(weight, bias, float(alpha), used)


class RidgeNormalEquations:
    """Streaming ridge fit: accumulate ``Σ U``, ``Σ Y``, ``Σ UᵀU``, ``Σ UᵀY`` in float64, then solve.

    For data sets too large to hold U at once (OpenFWI: 24k × 10240). Memory ``D² + D·M``
    float64 numbers. :meth:`solve` gives the primal solution of :func:`fit_linear_map`
    (with intercept) and may be called for several α on the same sums.
    """

    def __init__(self, n_features: int, n_targets: int, device: torch.device | str = "cpu"):
        self.n = 0
        dev = torch.device(device)
        self.su = torch.zeros(n_features, dtype=torch.float64, device=dev)
        self.sy = torch.zeros(n_targets, dtype=torch.float64, device=dev)
        self.uu = torch.zeros(n_features, n_features, dtype=torch.float64, device=dev)
        self.uy = torch.zeros(n_features, n_targets, dtype=torch.float64, device=dev)

    def update(self, U: torch.Tensor, Y: torch.Tensor) -> None:
        """Add a batch ``U [b, D]``, ``Y [b, M]``."""
        if U.dim() != 2 or Y.dim() != 2 or U.shape[0] != Y.shape[0] or U.shape[1] != self.su.numel() \
                or Y.shape[1] != self.sy.numel():
            raise ValueError(f"expected U [b, {self.su.numel()}] and Y [b, {self.sy.numel()}], "
                             f"got {tuple(U.shape)} and {tuple(Y.shape)}")
        U = U.detach().to(self.uu.device, torch.float64)
        Y = Y.detach().to(self.uu.device, torch.float64)
        self.n += U.shape[0]
        self.su += U.sum(0)
        self.sy += Y.sum(0)
        self.uu += U.T @ U
        self.uy += U.T @ Y

    def solve(self, alpha: float = RIDGE_ALPHA) -> RidgeMap:
        if self.n < 2:
            raise ValueError(f"need at least 2 samples to fit a ridge map with intercept, have {self.n}")
        if not (alpha > 0 and math.isfinite(alpha)):
            raise ValueError(f"the streaming ridge fit needs a finite alpha > 0, got {alpha}")
        u_mean, y_mean = self.su / self.n, self.sy / self.n
        G = self.uu - self.n * torch.outer(u_mean, u_mean)                 # Ucᵀ Uc
        G.diagonal().add_(alpha)
        At = _spd_solve(G, self.uy - self.n * torch.outer(u_mean, y_mean))
        weight = At.T.contiguous()
        return RidgeMap(weight, y_mean - weight @ u_mean, float(alpha), "primal")


def linearity_report(A: RidgeMap | torch.Tensor, U, Y) -> dict[str, float]:
    """How well ``Y ≈ A U (+ b)`` holds on a set (the paper's Table 11).

    Args:
        A: a :class:`RidgeMap`, or a weight matrix ``[M, D]`` (no intercept).
        U: ``[n, D]``; Y: ``[n, M]``.

    Returns a dict of floats: ``mae``, ``mse`` (over all n·M entries), ``r2`` (variance-weighted:
    ``1 − Σ(Y − Ŷ)²/Σ(Y − Ȳ)²`` with Ȳ the per-target mean of this set), ``y_range``
    (``ymax − ymin``), ``y_abs_mean`` (``|ymean|``), ``n_samples``.
    """
    U, Y = _as_2d_float64(U, "U"), _as_2d_float64(Y, "Y")
    if isinstance(A, RidgeMap):
        pred = A(U)
    else:
        W = torch.as_tensor(A).to(torch.float64)
        if W.dim() != 2 or W.shape[1] != U.shape[1]:
            raise ValueError(f"A must be [M, {U.shape[1]}], got {tuple(W.shape)}")
        pred = U @ W.T
    if pred.shape != Y.shape:
        raise ValueError(f"A U has shape {tuple(pred.shape)} but Y has {tuple(Y.shape)}")
    err = pred - Y
    ss_tot = ((Y - Y.mean(0)) ** 2).sum()
    return {
        "mae": float(err.abs().mean()),
        "mse": float((err ** 2).mean()),
        "r2": float(1.0 - (err ** 2).sum() / ss_tot) if ss_tot > 0 else float("nan"),
        "y_range": float(Y.max() - Y.min()),
        "y_abs_mean": float(Y.mean().abs()),
        "n_samples": int(Y.shape[0]),
    }


def singular_values(A: RidgeMap | torch.Tensor, normalise: bool = True, top: int | None = None) -> torch.Tensor:
    """Singular values of the linear map, descending, float64 (the paper's Fig. 5).

    ``normalise`` divides by the largest (Fig. 5 "divide it by its maximum value"); ``top``
    keeps the first ``top`` (Fig. 5 truncates at 150).
    """
    W = A.weight if isinstance(A, RidgeMap) else torch.as_tensor(A)
    W = W.detach().to(torch.float64)
    if W.dim() != 2:
        raise ValueError(f"A must be a matrix, got shape {tuple(W.shape)}")
    s = torch.linalg.svdvals(W).cpu()
    if normalise and s.numel() and s[0] > 0:
        s = s / s[0]
    return s[:top] if top is not None else s


def essential_dimensions(A: RidgeMap | torch.Tensor, threshold: float = 1e-2) -> int:
    """Number of normalised singular values above ``threshold`` (Fig. 5's "essential dimensions")."""
    return int((singular_values(A, normalise=True) > threshold).sum())
